"""What the queue service reads from events and HTTP requests, and what it answers."""

from __future__ import annotations

import datetime as dt

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from services.common.auth import CHANNELS
from services.common.events import EventDataSchema, Timestamp, utcnow
from services.common.periods import ReportQuerySchema
from services.common.vocabulary import STATUSES
from services.queue.domain import CALLBACK_OUTCOMES

# Events (unknown fields ignored: producers may add fields).


class RequesterSchema(EventDataSchema):
    name = fields.String(required=True)
    email = fields.String(load_default=None, allow_none=True)
    phone = fields.String(load_default=None, allow_none=True)
    language = fields.String(load_default="nl")
    preferred_contact = fields.String(load_default="email")


class CallbackWindowSchema(EventDataSchema):
    not_before = Timestamp(required=True)
    not_after = Timestamp(required=True)


class AttachmentSchema(EventDataSchema):
    id = fields.String(allow_none=True, validate=validate.Length(max=36))
    filename = fields.String(load_default=None, allow_none=True)
    content_type = fields.String(load_default=None, allow_none=True)
    size = fields.Integer(load_default=None, allow_none=True)


class AppointmentSlotSchema(EventDataSchema):
    start = Timestamp(required=True)
    end = Timestamp(required=True)


class TicketCreatedSchema(EventDataSchema):
    """`ticket.created` v1 data."""

    ticket_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    reference = fields.String(required=True, validate=validate.Length(min=1, max=32))
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    category = fields.String(required=True, validate=validate.Length(min=1, max=64))
    queue = fields.String(required=True, validate=validate.Length(min=1, max=64))
    priority = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=4))
    subject = fields.String(required=True)
    description = fields.String(required=True)
    fields_ = fields.Dict(data_key="fields", attribute="fields", load_default=dict)
    requester = fields.Nested(RequesterSchema, required=True)
    tracking_token = fields.String(required=True, validate=validate.Length(min=16))
    created_at = Timestamp(required=True)
    contact_started_at = Timestamp(load_default=None, allow_none=True)
    resolved_on_contact = fields.Boolean(load_default=False)
    resolution = fields.String(load_default=None, allow_none=True)
    submitted_by = fields.String(load_default=None, allow_none=True)
    callback = fields.Nested(CallbackWindowSchema, load_default=None, allow_none=True)
    attachments = fields.List(fields.Nested(AttachmentSchema), load_default=None, allow_none=True)
    ticket_number = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=16)
    )
    appointment = fields.Nested(AppointmentSlotSchema, load_default=None, allow_none=True)


class AppointmentCheckedInSchema(EventDataSchema):
    """`appointment.checked_in` v1 data."""

    ticket_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    reference = fields.String(required=True)
    ticket_number = fields.String(required=True, validate=validate.Length(min=1, max=16))
    checked_in_at = Timestamp(required=True)


class AppointmentCancelledSchema(EventDataSchema):
    """`appointment.cancelled` v1 data."""

    ticket_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    reference = fields.String(required=True)
    cancelled_at = Timestamp(required=True)


class AppointmentMovedSchema(EventDataSchema):
    """`appointment.moved` v1 data."""

    ticket_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    reference = fields.String(required=True)
    start = Timestamp(required=True)
    end = Timestamp(required=True)


class CustomerRepliedSchema(EventDataSchema):
    """`ticket.customer_replied` v1 data."""

    ticket_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    reference = fields.String(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    message = fields.String(required=True)
    received_at = Timestamp(required=True)
    attachments = fields.List(fields.Nested(AttachmentSchema), load_default=None, allow_none=True)


class FeedbackReceivedSchema(EventDataSchema):
    ticket_id = fields.String(required=True)
    reference = fields.String(required=True)
    score = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5))
    comment = fields.String(load_default=None, allow_none=True)
    channel = fields.String(load_default=None, allow_none=True)


class ProblemResolvedSchema(EventDataSchema):
    problem_id = fields.String(required=True)
    resolution = fields.String(required=True, validate=validate.Length(min=1))
    ticket_ids = fields.List(fields.String(), required=True)


class NotificationSchema(EventDataSchema):
    ticket_id = fields.String(load_default=None, allow_none=True)
    medium = fields.String(required=True)
    recipient = fields.String(required=True)
    template = fields.String(required=True)
    attempt = fields.Integer(load_default=1)
    error = fields.String(load_default=None, allow_none=True)


# HTTP requests (unknown fields refused).


class _Body(Schema):
    class Meta:
        unknown = RAISE


class ClaimSchema(_Body):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))


class StatusChangeSchema(_Body):
    to = fields.String(required=True, validate=validate.OneOf(STATUSES))
    public_note = fields.String(load_default=None, validate=validate.Length(min=1, max=5000))
    internal_note = fields.String(load_default=None, validate=validate.Length(min=1, max=5000))


class MessageSchema(_Body):
    message = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    # True: to the customer (sent, and on their status page); false: an internal note.
    public = fields.Boolean(required=True)


class TransferSchema(_Body):
    to_queue = fields.String(required=True, validate=validate.Length(min=1, max=64))
    note = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class PriorityChangeSchema(_Body):
    priority = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=4))
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))


class CallSchema(_Body):
    queue = fields.String(required=True, validate=validate.Length(min=1, max=64))


class CallbackAttemptSchema(_Body):
    outcome = fields.String(required=True, validate=validate.OneOf(CALLBACK_OUTCOMES))
    note = fields.String(load_default=None, validate=validate.Length(min=1, max=2000))


# A customer's promise the desk can keep: a window ahead, at most a month out, at most a day
# long (intake's rule for the first window, and a working day's hours at the longest).
MAX_WINDOW_AHEAD = dt.timedelta(days=30)
MAX_WINDOW_LENGTH = dt.timedelta(days=1)


class CallbackWindowChoiceSchema(_Body):
    not_before = Timestamp(required=True)
    not_after = Timestamp(required=True)

    @validates_schema
    def _a_window(self, data: dict, **_: object) -> None:
        if data["not_after"] <= data["not_before"]:
            raise ValidationError("Must be after not_before.", "not_after")
        now = utcnow()
        if data["not_after"] <= now:
            raise ValidationError("The window has already passed.", "not_after")
        if data["not_before"] > now + MAX_WINDOW_AHEAD:
            raise ValidationError("At most 30 days ahead.", "not_before")
        if data["not_after"] - data["not_before"] > MAX_WINDOW_LENGTH:
            raise ValidationError("At most a day long.", "not_after")


class ReactivateSchema(_Body):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))


# A counter as the waiting room reads it: "3", "B2", "balie-3".
COUNTER = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")


class DisplayQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    queue = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class TicketQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    queue = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    channel = fields.String(load_default=None, validate=validate.OneOf(CHANNELS))
    # Only the tickets the caller (the signed-in person, for the console) holds.
    mine = fields.Boolean(load_default=False)
    # The requester's e-mail address, or the phone number of one without an address.
    requester = fields.String(load_default=None, validate=validate.Length(min=3, max=254))
    # Only tickets flagged for a supervisor (transferred back and forth).
    flagged = fields.Boolean(load_default=False)
    # Only tickets still open (not resolved, closed or cancelled): the console's list.
    open = fields.Boolean(load_default=False)
    # Words in the subject, the description or the requester's name.
    q = fields.String(load_default=None, validate=validate.Length(min=2, max=200))
    # Only those recorded as not come to the counter since then (the counter's list).
    no_show_since = Timestamp(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None, validate=validate.Length(max=500))


# HTTP answers.


class TicketSummarySchema(Schema):
    id = fields.String()
    reference = fields.String()
    channel = fields.String()
    category = fields.String()
    queue = fields.String()
    priority = fields.Integer()
    status = fields.String()
    subject = fields.String()
    assigned_to = fields.String(allow_none=True)
    created_at = Timestamp()
    contact_started_at = Timestamp()
    due_at = Timestamp()
    # The second clock: by when it is to be resolved; the first stops at the first claim.
    resolution_due_at = Timestamp()
    first_claimed_at = Timestamp(allow_none=True)
    requester_name = fields.String(allow_none=True)
    transfer_count = fields.Integer()
    needs_supervisor = fields.Boolean()
    repeat_contact = fields.Boolean()
    callback_not_before = Timestamp(allow_none=True)
    callback_not_after = Timestamp(allow_none=True)
    # A walk-in's number, the counter it was called to and when, and the calls counted.
    ticket_number = fields.String(allow_none=True)
    counter = fields.String(allow_none=True)
    called_at = Timestamp(allow_none=True)
    counted_calls = fields.Integer()
    no_show_at = Timestamp(allow_none=True)
    appointment_start = Timestamp(allow_none=True)
    appointment_end = Timestamp(allow_none=True)
    checked_in_at = Timestamp(allow_none=True)
    callback_attempts = fields.Integer(
        metadata={"description": "A call-back's calls that did not reach the customer."}
    )
    on_the_way = fields.Boolean(
        metadata={"description": "A number taken from home, not yet checked in at the kiosk."}
    )


class HistoryEntrySchema(Schema):
    at = Timestamp()
    kind = fields.String()
    status = fields.String()
    public_message = fields.String(allow_none=True)
    internal_note = fields.String(allow_none=True)
    actor = fields.String(allow_none=True)


# What an agent sees of the requester's earlier requests: a summary of the summary.
EARLIER_REQUEST = TicketSummarySchema(
    only=("id", "reference", "category", "channel", "status", "created_at")
)


class ViewerSchema(Schema):
    person = fields.String()
    seen_at = Timestamp()


class TicketSchema(TicketSummarySchema):
    description = fields.String()
    attachments = fields.List(fields.Dict(), allow_none=True)
    fields_ = fields.Dict(data_key="fields", attribute="fields")
    requester = fields.Dict()
    resolution = fields.String(allow_none=True)
    resolved_at = Timestamp(allow_none=True)
    repeat_of = fields.String(allow_none=True)
    version = fields.Integer()
    # Others who loaded the ticket in the last minutes (the caller is left out).
    viewers = fields.List(fields.Nested(ViewerSchema))
    history = fields.List(fields.Nested(HistoryEntrySchema))
    earlier_requests = fields.List(
        fields.Nested(
            TicketSummarySchema(
                only=("id", "reference", "category", "channel", "status", "created_at")
            )
        )
    )


class TicketPageSchema(Schema):
    tickets = fields.List(fields.Nested(TicketSummarySchema))
    next_cursor = fields.String(allow_none=True)


class UpdateSchema(Schema):
    at = fields.String(required=True)
    status = fields.String(required=True)
    message = fields.String(allow_none=True)


class TrackSchema(Schema):
    reference = fields.String(required=True)
    status = fields.String(required=True)
    ticket_number = fields.String(allow_none=True)
    appointment_start = Timestamp(allow_none=True)
    appointment_end = Timestamp(allow_none=True)
    queue_position = fields.Integer(allow_none=True)
    estimated_wait_seconds = fields.Integer(allow_none=True)
    estimated_wait_low_seconds = fields.Integer(allow_none=True)
    estimated_wait_high_seconds = fields.Integer(allow_none=True)
    channel = fields.String(required=True)
    callback_not_before = Timestamp(allow_none=True)
    callback_not_after = Timestamp(allow_none=True)
    updates = fields.List(fields.Nested(UpdateSchema), required=True)


class QueueOverviewSchema(Schema):
    id = fields.String()
    name = fields.String()
    waiting = fields.Dict(keys=fields.String(), values=fields.Integer())
    total_waiting = fields.Integer()
    oldest_wait_seconds = fields.Float(allow_none=True)
    claims_last_hour = fields.Integer()
    estimated_wait_seconds = fields.Integer(allow_none=True)
    estimated_wait_low_seconds = fields.Integer(allow_none=True)
    estimated_wait_high_seconds = fields.Integer(allow_none=True)


class WaitsQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    # A day in the desk's time zone; today when left out. The desk's own history: a day
    # near year 9999 overflowed the day's end (a 500, found by an outside tester).
    date = fields.Date(
        load_default=None,
        validate=validate.Range(
            min=dt.date(2000, 1, 1),
            max=dt.date(2199, 12, 31),
            error="Must be between 2000 and 2200.",
        ),
    )


class HourlyWaitSchema(Schema):
    hour = fields.Integer()
    channel = fields.String()
    count = fields.Integer()
    mean_wait_seconds = fields.Float()
    max_wait_seconds = fields.Float()


class WaitsReportSchema(Schema):
    date = fields.Date()
    timezone = fields.String()
    hours = fields.List(fields.Nested(HourlyWaitSchema))


class ServiceLevelQuerySchema(ReportQuerySchema):
    """The period of arrivals: since and until, a moment or a date (the desk's day)."""


class ServiceLevelGroupSchema(Schema):
    group = fields.String()
    tickets = fields.Integer()
    first_response_met = fields.Integer()
    first_response_breached = fields.Integer()
    first_response_pending = fields.Integer()
    first_response_compliance = fields.Float(allow_none=True)
    resolution_met = fields.Integer()
    resolution_breached = fields.Integer()
    resolution_pending = fields.Integer()
    resolution_compliance = fields.Float(allow_none=True)
    resolved = fields.Integer()
    resolved_first_contact = fields.Integer()
    first_contact_resolution = fields.Float(allow_none=True)
    handled = fields.Integer()
    mean_handling_seconds = fields.Float(allow_none=True)
    transfers = fields.Integer()
    queue_jumps = fields.Integer()


class ServiceLevelReportSchema(Schema):
    since = Timestamp()
    until = Timestamp()
    total = fields.Nested(ServiceLevelGroupSchema)
    by_priority = fields.List(fields.Nested(ServiceLevelGroupSchema))
    by_queue = fields.List(fields.Nested(ServiceLevelGroupSchema))
    by_channel = fields.List(fields.Nested(ServiceLevelGroupSchema))


class BoardTicketSchema(Schema):
    id = fields.String()
    reference = fields.String()
    subject = fields.String()
    queue = fields.String()
    channel = fields.String()
    priority = fields.Integer()
    status = fields.String()
    assigned_to = fields.String(allow_none=True)


class AtRiskSchema(BoardTicketSchema):
    target = fields.String()
    target_due_at = Timestamp()
    seconds_left = fields.Integer()


class HeldTicketSchema(BoardTicketSchema):
    since = Timestamp(allow_none=True)


class AgentAtWorkSchema(Schema):
    agent = fields.String()
    tickets = fields.List(fields.Nested(HeldTicketSchema))


class BoardSchema(Schema):
    at = Timestamp()
    at_risk_window_seconds = fields.Integer()
    at_risk = fields.List(fields.Nested(AtRiskSchema))
    agents = fields.List(fields.Nested(AgentAtWorkSchema))


class CalledSchema(Schema):
    ticket_number = fields.String()
    counter = fields.String()
    called_at = Timestamp()


class ExpectedWaitSchema(Schema):
    estimated_wait_seconds = fields.Integer(allow_none=True)
    estimated_wait_low_seconds = fields.Integer(allow_none=True)
    estimated_wait_high_seconds = fields.Integer(allow_none=True)


class DisplaySchema(Schema):
    """The waiting room's screen: numbers and counters only, never who."""

    called = fields.List(fields.Nested(CalledSchema))
    waiting = fields.Integer()
    expected_wait = fields.Nested(ExpectedWaitSchema)
