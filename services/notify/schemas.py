"""What notify reads from events, jobs and HTTP requests, and answers."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from marshmallow import (
    INCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates,
)

from services.common.events import EventDataSchema, Timestamp
from services.notify import domain

_ID = validate.Length(min=1, max=36)
_REFERENCE = validate.Length(min=1, max=32)


class RequesterSchema(EventDataSchema):
    name = fields.String(required=True)
    email = fields.String(load_default=None, allow_none=True)
    phone = fields.String(load_default=None, allow_none=True)
    language = fields.String(load_default="nl")
    preferred_contact = fields.String(load_default="email")


class CallbackWindowSchema(EventDataSchema):
    not_before = fields.String(required=True)
    not_after = fields.String(required=True)

    @validates("not_before", "not_after")
    def _aware_timestamp(self, value: str, **_: Any) -> None:
        Timestamp().deserialize(value)


class TicketEventSchema(EventDataSchema):
    """What every ticket event carries; the rest of its data is kept as it came."""

    class Meta:
        unknown = INCLUDE

    ticket_id = fields.String(required=True, validate=_ID)
    reference = fields.String(required=True, validate=_REFERENCE)


class AppointmentSchema(EventDataSchema):
    start = fields.String(required=True)
    end = fields.String(required=True)


class TicketCreatedSchema(TicketEventSchema):
    subject = fields.String(required=True)
    requester = fields.Nested(RequesterSchema, required=True)
    tracking_token = fields.String(required=True, validate=validate.Length(min=16, max=128))
    reply_token = fields.String(load_default=None, validate=validate.Regexp(r"^[a-z2-7]{26}$"))
    # Missing (an older intake): not verified, the safe side.
    requester_verified = fields.Boolean(load_default=False)
    resolved_on_contact = fields.Boolean(load_default=False)
    callback = fields.Nested(CallbackWindowSchema, load_default=None, allow_none=True)
    appointment = fields.Nested(AppointmentSchema, load_default=None, allow_none=True)


class AppointmentMovedSchema(TicketEventSchema):
    start = fields.String(required=True)
    end = fields.String(required=True)


class TurnNearSchema(TicketEventSchema):
    ticket_number = fields.String(load_default=None, allow_none=True)
    ahead = fields.Integer(required=True, validate=validate.Range(min=0))
    estimated_wait_seconds = fields.Integer(load_default=None, allow_none=True)


class StatusChangedSchema(TicketEventSchema):
    to = fields.String(required=True)
    public_note = fields.String(load_default=None, allow_none=True)
    reason = fields.String(load_default=None, allow_none=True)


class MessageAddedSchema(TicketEventSchema):
    message = fields.String(required=True)


class TicketResolvedSchema(TicketEventSchema):
    resolution = fields.String(load_default=None, allow_none=True)
    created_at = fields.String(required=True)
    resolved_at = fields.String(required=True)
    requester = fields.Nested(RequesterSchema, required=True)


class SurveyRequestedSchema(TicketEventSchema):
    survey_token = fields.String(required=True, validate=validate.Length(min=16, max=128))
    requester = fields.Nested(RequesterSchema, required=True)
    language = fields.String(load_default=None, allow_none=True)


class ProblemDetectedSchema(EventDataSchema):
    class Meta:
        unknown = INCLUDE

    problem_id = fields.String(required=True, validate=_ID)
    category = fields.String(required=True)
    count = fields.Integer(required=True)


class AttemptJobSchema(EventDataSchema):
    delivery_id = fields.String(required=True, validate=_ID)
    attempt = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


# HTTP


class SubscriptionInputSchema(Schema):
    class Meta:
        unknown = RAISE

    url = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    events = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        required=True,
        validate=validate.Length(min=1, max=len(domain.DELIVERABLE_TYPES)),
    )
    secret = fields.String(required=True, validate=validate.Length(min=16, max=256))
    description = fields.String(load_default=None, validate=validate.Length(max=200))

    @validates("url")
    def _http_url(self, value: str, **_: Any) -> None:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError("Must be an http or https URL.")
        if parts.username or parts.password:
            raise ValidationError("Must not carry credentials; the signature authenticates.")

    @validates("events")
    def _known_patterns(self, value: list[str], **_: Any) -> None:
        unknown = [p for p in value if not domain.is_known_pattern(p)]
        if unknown:
            known = ", ".join(("*", "ticket.*", *domain.DELIVERABLE_TYPES))
            raise ValidationError(f"Unknown event pattern {unknown[0]!r}; known: {known}.")


class SubscriptionSchema(Schema):
    id = fields.String()
    url = fields.String()
    events = fields.List(fields.String())
    description = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = Timestamp()


class SubscriptionListSchema(Schema):
    subscriptions = fields.List(fields.Nested(SubscriptionSchema))


class DeliveryQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    ticket_id = fields.String(load_default=None, validate=_ID)
    medium = fields.String(load_default=None, validate=validate.OneOf(domain.MEDIA))
    outcome = fields.String(
        load_default=None,
        validate=validate.OneOf(("pending", "sending", "retrying", "sent", "failed")),
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class DeliverySchema(Schema):
    id = fields.String()
    event_id = fields.String()
    event_type = fields.String()
    ticket_id = fields.String(allow_none=True)
    medium = fields.String()
    recipient = fields.String(metadata={"description": "Masked: never the whole address."})
    template = fields.String()
    language = fields.String(allow_none=True)
    attempts = fields.Integer()
    outcome = fields.String()
    last_error = fields.String(allow_none=True)
    created_at = fields.String()
    last_attempt_at = fields.String(allow_none=True)
    next_attempt_at = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)


class DeliveryListSchema(Schema):
    deliveries = fields.List(fields.Nested(DeliverySchema))
