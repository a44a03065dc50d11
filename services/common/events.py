"""The event envelope of the contract (section 3), modelled on CloudEvents."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates

EVENT_TYPE_PATTERN = r"^[a-z_]+\.[a-z_]+$"


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_utc(moment: datetime) -> datetime:
    """Every stored moment is UTC (SQLite keeps no offset, so it must be the same one)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def isoformat(moment: datetime) -> str:
    """UTC timestamps as the contract writes them: `2026-11-22T10:00:00Z`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


class Timestamp(fields.AwareDateTime):
    """A moment as the contract writes it everywhere (`2026-11-22T10:00:00.000Z`): always
    UTC, always with its zone (SQLite hands back moments without one), one form."""

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else isoformat(value)


class UnstorableEvent(ValueError):
    """An event whose data no consumer could store."""


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any]
    source: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    version: int = 1
    occurred_at: str = field(default_factory=lambda: isoformat(utcnow()))
    correlation_id: str | None = None
    causation_id: str | None = None

    def to_json(self) -> str:
        envelope = {
            "id": self.id,
            "type": self.type,
            "version": self.version,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "data": self.data,
        }
        text = json.dumps(envelope, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        try:
            text.encode()
        except UnicodeEncodeError:
            # A lone surrogate would be stored here and fail in every consumer after the
            # request was accepted; it fails where it was made, before anyone is answered.
            raise UnstorableEvent(f"{self.type} holds text that is not Unicode") from None
        return text

    def caused(self, type: str, data: dict[str, Any], source: str) -> Event:
        """A follow-up event that keeps this one's correlation and names it as cause."""
        return Event(
            type=type,
            data=data,
            source=source,
            correlation_id=self.correlation_id,
            causation_id=self.id,
        )


class EventDataSchema(Schema):
    """A consumer's reading of an event's data: fields it does not know are ignored, so
    producers may add fields (forward compatibility)."""

    class Meta:
        unknown = EXCLUDE


class EnvelopeSchema(EventDataSchema):
    """Consumed events ignore fields they do not know (forward compatibility)."""

    id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.Regexp(EVENT_TYPE_PATTERN))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    occurred_at = fields.String(required=True)
    source = fields.String(required=True, validate=validate.Length(min=1, max=64))
    correlation_id = fields.String(load_default=None, allow_none=True)
    causation_id = fields.String(load_default=None, allow_none=True)
    data = fields.Dict(required=True)

    @validates("occurred_at")
    def _is_timestamp(self, value: str, **_: Any) -> None:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError("Not an ISO 8601 timestamp.") from None


ENVELOPE = EnvelopeSchema()  # built once: building a schema costs more than a load


def parse_event(body: bytes) -> Event:
    """Decode and validate an envelope; raises ValidationError for anything unusable."""
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"body is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ValidationError("envelope must be a JSON object")
    loaded = ENVELOPE.load(raw)
    loaded["id"] = str(loaded["id"])
    return Event(**loaded)
