"""What intake accepts, as marshmallow schemas: unknown fields are refused, and each
category's own form fields are checked by a schema built from the catalogue."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from services.common.auth import CHANNELS
from services.common.events import Timestamp, utcnow
from services.common.vocabulary import LANGUAGES, LEVELS
from services.intake import calls
from services.intake.catalogue import Catalogue, Category, FormField

CONTACT_MEDIA = ("email", "sms", "phone", "none")
PHONE = validate.Regexp(r"^\+?[0-9][0-9 ()-]{5,22}[0-9]$", error="Not a valid phone number.")
CLOCK_SKEW = timedelta(minutes=5)
MAX_CONTACT_AGE = timedelta(days=7)


class StrictNumber(fields.Number):
    """A JSON number: neither a numeric string nor a boolean, nor NaN or infinity."""

    num_type = float

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValidationError("Not a valid number.")
        return value


def _iso_date(value: str) -> None:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValidationError("Not a valid date (YYYY-MM-DD).") from None


class RequesterSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(load_default=None, allow_none=True, validate=PHONE)
    # Missing: the desk's own language (intake fills it in, services/intake/domain.py).
    language = fields.String(load_default=None, validate=validate.OneOf(LANGUAGES))
    preferred_contact = fields.String(load_default="email", validate=validate.OneOf(CONTACT_MEDIA))

    @validates_schema
    def _reachable_on_the_preferred_medium(self, data: Mapping[str, Any], **_: Any) -> None:
        medium = data.get("preferred_contact", "email")
        if medium == "email" and not data.get("email"):
            raise ValidationError("Needed to keep you informed by e-mail.", "email")
        if medium in ("sms", "phone") and not data.get("phone"):
            raise ValidationError(f"Needed to keep you informed by {medium}.", "phone")


MAX_CALLBACK_AHEAD = timedelta(days=30)


class CallbackSchema(Schema):
    class Meta:
        unknown = RAISE

    not_before = Timestamp(required=True)
    not_after = Timestamp(required=True)

    @validates_schema
    def _a_window(self, data: Mapping[str, Any], **_: Any) -> None:
        if data["not_after"] <= data["not_before"]:
            raise ValidationError("Must be after not_before.", "not_after")
        # A promise the desk cannot keep is refused rather than accepted and broken.
        now = utcnow()
        if data["not_after"] <= now:
            raise ValidationError("The window has already passed.", "not_after")
        if data["not_before"] > now + MAX_CALLBACK_AHEAD:
            raise ValidationError("At most 30 days ahead.", "not_before")


class RequestSchema(Schema):
    """The body of `POST /v1/requests`; status, queue and priority are never accepted."""

    class Meta:
        unknown = RAISE

    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    category = fields.String(required=True, validate=validate.Length(min=1, max=64))
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(required=True, validate=validate.Length(min=1, max=20_000))
    fields_ = fields.Dict(
        data_key="fields", attribute="fields", keys=fields.String(), load_default=dict
    )
    requester = fields.Nested(RequesterSchema, required=True)
    impact = fields.String(load_default=None, validate=validate.OneOf(LEVELS))
    urgency = fields.String(load_default=None, validate=validate.OneOf(LEVELS))
    callback = fields.Nested(CallbackSchema, load_default=None)
    resolved_on_contact = fields.Boolean(load_default=False)
    resolution = fields.String(load_default=None, validate=validate.Length(min=1, max=20_000))
    contact_started_at = Timestamp(load_default=None)
    contact_wait_seconds = StrictNumber(
        load_default=None, validate=validate.Range(min=0, max=86_400)
    )

    @validates_schema
    def _consistent(self, data: Mapping[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        if data.get("resolved_on_contact") and not data.get("resolution"):
            errors["resolution"] = ["Required when resolved_on_contact is true."]
        if data.get("resolution") and not data.get("resolved_on_contact"):
            errors["resolution"] = ["Only with resolved_on_contact."]
        if data.get("callback") and data.get("channel") != "callback":
            errors["callback"] = ["Only for channel callback."]
        started: datetime | None = data.get("contact_started_at")
        if started is not None:
            now = utcnow()
            if started > now + CLOCK_SKEW:
                errors["contact_started_at"] = ["Must not be in the future."]
            elif started < now - MAX_CONTACT_AGE:
                errors["contact_started_at"] = ["Must be within the last 7 days."]
        if errors:
            raise ValidationError(errors)


class ReplySchema(Schema):
    """`POST /v1/requests/{reference}/replies`: the customer's tracking token is the key."""

    class Meta:
        unknown = RAISE

    token = fields.String(required=True, validate=validate.Length(min=16, max=128))
    message = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class ReplyAcceptedSchema(Schema):
    """`appended` to the request; or, the request being closed or resolved longer ago than
    the reopen window, `received` as a new request that refers to it."""

    reference = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": ["appended", "received"]})
    id = fields.String()
    tracking_token = fields.String()
    status_url = fields.String()
    related_reference = fields.String()


class AcceptedSchema(Schema):
    id = fields.String(required=True)
    reference = fields.String(required=True)
    tracking_token = fields.String(required=True)
    status_url = fields.String(required=True)
    status = fields.String(required=True)
    ticket_number = fields.String(
        metadata={"description": "A walk-in's number for the counter, e.g. B-014."}
    )


class SlotsQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    category = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    days = fields.Integer(load_default=14, validate=validate.Range(min=1, max=60))


class SlotSchema(Schema):
    start = fields.String(required=True, metadata={"description": "ISO 8601, the desk's offset"})
    end = fields.String(required=True)
    available = fields.Integer(required=True, metadata={"description": "seats still free"})


class SlotsSchema(Schema):
    slots = fields.List(fields.Nested(SlotSchema), required=True)


class AppointmentStartSchema(Schema):
    """What an appointment adds to a request's body: the slot it books."""

    start = Timestamp(required=True)


class AppointmentAcceptedSchema(AcceptedSchema):
    start = fields.String(required=True)
    end = fields.String(required=True)


class AppointmentStateSchema(Schema):
    reference = fields.String(required=True)
    end = fields.String()
    status = fields.String(required=True, metadata={"enum": ["booked", "cancelled", "checked_in"]})
    ticket_number = fields.String()
    start = fields.String()


class FormFieldSchema(Schema):
    """A form field or question as the catalogue shows it."""

    name = fields.String(required=True)
    label = fields.String(required=True)
    type = fields.String(required=True)
    required = fields.Boolean(required=True)
    options = fields.List(fields.String(), allow_none=True)
    option_labels = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)
    max_length = fields.Integer(allow_none=True, metadata={"description": "Most characters."})
    min = fields.Float(allow_none=True, metadata={"description": "Smallest number allowed."})
    max = fields.Float(allow_none=True, metadata={"description": "Largest number allowed."})


def _form_field(spec: FormField) -> fields.Field:
    required = {"required": True} if spec.required else {"load_default": None, "allow_none": True}
    match spec.type:
        case "text" | "textarea":
            minimum = 1 if spec.required else 0
            return fields.String(
                validate=validate.Length(min=minimum, max=spec.max_length), **required
            )
        case "number":
            return StrictNumber(validate=validate.Range(min=spec.min, max=spec.max), **required)
        case "choice":
            return fields.String(
                validate=validate.OneOf([o.value for o in spec.options]), **required
            )
        case "date":
            return fields.String(validate=_iso_date, **required)
        case "email":
            return fields.Email(validate=validate.Length(max=254), **required)
        case "phone":
            return fields.String(validate=PHONE, **required)
    raise ValueError(spec.type)


def form_schema(category: Category) -> Schema:
    schema_class = Schema.from_dict(
        {f.name: _form_field(f) for f in category.fields}, name=f"Form_{category.id}"
    )
    return schema_class(unknown=RAISE)


class RequestValidator:
    """Checks a whole request at once, so the customer sees every problem in one answer."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.request_schema = RequestSchema()
        self.forms = {c.id: form_schema(c) for c in catalogue.categories.values()}

    def load(self, body: Any) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        try:
            data = self.request_schema.load(body)
        except ValidationError as exc:
            if not isinstance(exc.messages, dict) or not isinstance(body, dict):
                raise
            errors.update(exc.messages)
            data = exc.valid_data or {}
        category = body.get("category") if isinstance(body, dict) else None
        form = self.forms.get(category) if isinstance(category, str) else None
        if isinstance(category, str) and form is None and "category" not in errors:
            errors["category"] = ["Unknown category."]
        answers = body.get("fields", {}) if isinstance(body, dict) else {}
        if form is not None and isinstance(answers, dict) and "fields" not in errors:
            try:
                # A visitor who takes a number at the kiosk names what it is about; the
                # agent at the counter asks for the rest.
                partial = body.get("channel") == "walk_in"
                loaded = form.load(answers, partial=partial)
                data["fields"] = {k: v for k, v in loaded.items() if v is not None}
            except ValidationError as exc:
                errors["fields"] = exc.messages
        if errors:
            raise ValidationError(errors)
        return data


# Consumed events (unknown fields ignored).


class StatusChangedSchema(Schema):
    """The part of `ticket.status_changed` v1 intake needs."""

    class Meta:
        unknown = EXCLUDE

    ticket_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    to = fields.String(required=True, validate=validate.Length(min=1, max=32))


class CallEventSchema(Schema):
    """One event of the phone system, Zammad's generic CTI: form fields or the same names
    as JSON. What else a phone system sends (its own fields) is left aside."""

    class Meta:
        unknown = EXCLUDE

    event = fields.String(required=True, validate=validate.OneOf(calls.EVENTS))
    call_id = fields.String(
        data_key="callId", required=True, validate=validate.Length(min=1, max=128)
    )
    direction = fields.String(load_default="in", validate=validate.OneOf(calls.DIRECTIONS))
    from_ = fields.String(data_key="from", load_default=None, validate=validate.Length(max=64))
    to = fields.String(load_default=None, validate=validate.Length(max=64))
    user = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    cause = fields.String(load_default=None, validate=validate.OneOf(calls.CAUSES))

    @post_load
    def _named_as_sent(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["from"] = data.pop("from_")
        return data


class CallsQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    agent = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    state = fields.String(
        load_default=None, validate=validate.OneOf((calls.RINGING, calls.ANSWERED, calls.ENDED))
    )


class CallerRequestSchema(Schema):
    reference = fields.String(required=True)
    channel = fields.String(required=True)
    subject = fields.String(required=True)
    status = fields.String(allow_none=True, metadata={"description": "null until queued"})
    created_at = fields.String(required=True)


class CallerSchema(Schema):
    name = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    language = fields.String(allow_none=True)


class CallSchema(Schema):
    call_id = fields.String(required=True)
    direction = fields.String(required=True)
    from_ = fields.String(data_key="from", allow_none=True, metadata={"description": "E.164"})
    to = fields.String(allow_none=True)
    agent = fields.String(allow_none=True)
    state = fields.String(required=True, metadata={"enum": ["ringing", "answered", "ended"]})
    cause = fields.String(allow_none=True)
    started_at = fields.String(required=True)
    answered_at = fields.String(allow_none=True)
    ended_at = fields.String(allow_none=True)
    callback_reference = fields.String(
        allow_none=True, metadata={"description": "the call-back a caller who hung up got"}
    )
    caller = fields.Nested(
        CallerSchema, allow_none=True, metadata={"description": "who it probably is"}
    )
    requests = fields.List(
        fields.Nested(CallerRequestSchema),
        metadata={"description": "the caller's requests by their number, the newest first"},
    )


class CallsSchema(Schema):
    calls = fields.List(fields.Nested(CallSchema), required=True)


class CallCountsSchema(Schema):
    offered = fields.Integer(
        metadata={"description": "inbound calls that ended or were answered, forwarded ones aside"}
    )
    answered = fields.Integer()
    answered_in_time = fields.Integer(
        metadata={"description": "within calls.service_level_seconds"}
    )
    abandoned = fields.Integer()
    callbacks = fields.Integer(metadata={"description": "call-backs the abandoned calls got"})
    service_level = fields.Float(
        allow_none=True, metadata={"description": "answered_in_time / offered"}
    )
    abandoned_share = fields.Float(allow_none=True)
    mean_answer_seconds = fields.Float(allow_none=True)


class CallDaySchema(CallCountsSchema):
    day = fields.String(metadata={"description": "the desk's day (its time zone)"})


class CallsReportSchema(Schema):
    since = Timestamp()
    until = Timestamp()
    service_level_seconds = fields.Integer()
    days = fields.List(fields.Nested(CallDaySchema))
    total = fields.Nested(CallCountsSchema)
