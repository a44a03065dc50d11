"""The desk configuration file (LOKET_CONFIG), described once and checked when any process
starts: a mistake stops the process with the setting named, instead of the first ticket
failing in a worker. Each service reads its own parts further (intake the catalogue's
fields, the queue the staffing plans) and refuses them in the same way."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates,
    validates_schema,
)

from services.common.vocabulary import CHANNELS, LANGUAGES, PRIORITIES

LEVELS = ("high", "medium", "low")
_DAYS = r"(mon|tue|wed|thu|fri|sat|sun)(-(mon|tue|wed|thu|fri|sat|sun))?"
_PERIOD = r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d"
_Days = fields.String(validate=validate.Regexp(f"^{_DAYS}$", error="use a day or mon-fri"))
_Period = fields.String(validate=validate.Regexp(f"^{_PERIOD}$", error="use 08:00-17:00"))
_Minutes = fields.Integer(strict=True, validate=validate.Range(min=1))


def _every_priority(targets: Mapping[int, int]) -> None:
    missing = [p for p in PRIORITIES if p not in targets]
    if missing:
        raise ValidationError(f"a target for every priority 1 to 4; missing {missing}")


class _Queue(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,63}$"))
    name = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    handling_minutes = fields.Float(validate=validate.Range(min=0, min_inclusive=False))
    agents = fields.Dict(
        keys=_Days,
        values=fields.Dict(
            keys=_Period, values=fields.Integer(strict=True, validate=validate.Range(min=0))
        ),
    )


class _Sla(Schema):
    class Meta:
        unknown = RAISE

    first_response_minutes = fields.Dict(
        keys=fields.Integer(validate=validate.OneOf(PRIORITIES)),
        values=_Minutes,
        required=True,
        validate=_every_priority,
    )
    resolution_minutes = fields.Dict(
        keys=fields.Integer(validate=validate.OneOf(PRIORITIES)),
        values=_Minutes,
        required=True,
        validate=_every_priority,
    )
    channel_first_response_minutes = fields.Dict(
        keys=fields.String(validate=validate.OneOf(CHANNELS)),
        values=fields.Dict(
            keys=fields.Integer(validate=validate.OneOf(PRIORITIES)), values=_Minutes
        ),
    )


class _Problems(Schema):
    class Meta:
        unknown = RAISE

    surge_min_contacts = fields.Integer(strict=True, validate=validate.Range(min=1))
    surge_factor = fields.Float(validate=validate.Range(min=1))
    window_minutes = _Minutes
    baseline_days = fields.Integer(strict=True, validate=validate.Range(min=1))


class _OpeningHours(Schema):
    class Meta:
        unknown = RAISE

    timezone = fields.String(required=True)
    # Per channel "always" or {days: hours}; checked together below.
    web = fields.Raw()
    email = fields.Raw()
    phone = fields.Raw()
    chat = fields.Raw()
    walk_in = fields.Raw()
    callback = fields.Raw()

    @validates("timezone")
    def _known_zone(self, value: str, **_: Any) -> None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"unknown time zone {value!r}") from None

    @validates_schema(skip_on_field_errors=False)
    def _hours(self, data: Mapping[str, Any], **_: Any) -> None:
        for channel in CHANNELS:
            spec = data.get(channel, "always")
            if spec == "always":
                continue
            valid = isinstance(spec, Mapping) and spec and all(
                isinstance(days, str) and re.fullmatch(_DAYS, days)
                and isinstance(hours, str) and re.fullmatch(_PERIOD, hours)
                for days, hours in spec.items()
            )  # fmt: skip
            if not valid:
                raise ValidationError("'always' or {mon-fri: '08:00-17:00'}", channel)


class DeskSchema(Schema):
    class Meta:
        unknown = RAISE

    queues = fields.List(fields.Nested(_Queue), required=True, validate=validate.Length(min=1))
    sla = fields.Nested(_Sla, required=True)
    reopen_window_days = fields.Float(validate=validate.Range(min=0))
    priority_matrix = fields.Dict(
        keys=fields.String(validate=validate.OneOf(LEVELS)),
        values=fields.Dict(
            keys=fields.String(validate=validate.OneOf(LEVELS)),
            values=fields.Integer(strict=True, validate=validate.OneOf(PRIORITIES)),
        ),
        required=True,
    )
    problems = fields.Nested(_Problems)
    opening_hours = fields.Nested(_OpeningHours, required=True)
    questions = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True)
    catalogue = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1))
    default_language = fields.String(validate=validate.OneOf(LANGUAGES))

    @validates("priority_matrix")
    def _every_combination(self, matrix: Mapping[str, Mapping[str, int]], **_: Any) -> None:
        missing = [f"{i}.{u}" for i in LEVELS for u in LEVELS if u not in matrix.get(i, {})]
        if missing:
            raise ValidationError(f"a priority for every impact and urgency; missing {missing}")

    @validates_schema(skip_on_field_errors=False)
    def _queues_exist(self, data: Mapping[str, Any], **_: Any) -> None:
        ids = [q.get("id") for q in data.get("queues", []) if isinstance(q, Mapping)]
        if len(set(ids)) != len(ids):
            raise ValidationError("every queue id once", "queues")
        for n, category in enumerate(data.get("catalogue", [])):
            if isinstance(category, Mapping) and category.get("queue") not in ids:
                raise ValidationError(
                    {str(n): {"queue": [f"no queue {category.get('queue')!r} in queues"]}},
                    "catalogue",
                )


DESK = DeskSchema()


def check_desk(desk: Mapping[str, Any]) -> list[str]:
    """Every mistake in a desk configuration, each naming its setting
    ("sla.first_response_minutes: ..."); empty when it is sound."""
    try:
        DESK.load(desk)
    except ValidationError as exc:
        return sorted(_flatten(exc.messages))
    return []


def _flatten(messages: Any, path: str = "") -> list[str]:
    if isinstance(messages, Mapping):
        found = []
        for key, value in messages.items():
            # marshmallow files a mapping's errors under "value" (and "key" for its keys).
            inner = path if key in ("_schema", "value", "key") else f"{path}.{key}".lstrip(".")
            found += _flatten(value, inner)
        return found
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{path}: {m}" for m in messages]
    if isinstance(messages, list):
        return [line for m in messages for line in _flatten(m, path)]
    return [f"{path}: {messages}"]
