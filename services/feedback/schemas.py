"""What the feedback service reads from events and HTTP requests, and answers."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from services.common.auth import CHANNELS
from services.common.events import EventDataSchema, Timestamp
from services.common.periods import ReportQuerySchema


class ContactSchema(EventDataSchema):
    """The part of `ticket.created` v1 that makes a contact reason."""

    ticket_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    category = fields.String(required=True, validate=validate.Length(min=1, max=64))
    queue = fields.String(required=True, validate=validate.Length(min=1, max=64))
    resolved_on_contact = fields.Boolean(load_default=False)
    created_at = Timestamp(required=True)


class TicketResolvedSchema(EventDataSchema):
    """`ticket.resolved` v1 data."""

    ticket_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    reference = fields.String(required=True, validate=validate.Length(min=1, max=32))
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    category = fields.String(required=True, validate=validate.Length(min=1, max=64))
    queue = fields.String(required=True, validate=validate.Length(min=1, max=64))
    agent = fields.String(required=True, validate=validate.Length(min=1, max=64))
    resolution = fields.String(load_default=None, allow_none=True)
    created_at = Timestamp(required=True)
    resolved_at = Timestamp(required=True)
    requester = fields.Dict(required=True)


class AnswerSchema(Schema):
    class Meta:
        unknown = RAISE

    score = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5))
    comment = fields.String(load_default=None, validate=validate.Length(max=2000))


class SurveySchema(Schema):
    reference = fields.String()
    question = fields.String()
    scale = fields.List(fields.Integer())
    answered = fields.Boolean()
    expires_at = Timestamp()


class CsatQuerySchema(ReportQuerySchema):
    group_by = fields.String(
        load_default="channel", validate=validate.OneOf(["channel", "queue", "agent", "day"])
    )


class ContactReasonsQuerySchema(ReportQuerySchema):
    group_by = fields.String(
        load_default="category", validate=validate.OneOf(["category", "channel"])
    )


class CsatGroupSchema(Schema):
    group = fields.String()
    answers = fields.Integer()
    average = fields.Float(allow_none=True)
    satisfied_share = fields.Float(allow_none=True)


class CsatReportSchema(Schema):
    group_by = fields.String()
    since = Timestamp()
    until = Timestamp()
    groups = fields.List(fields.Nested(CsatGroupSchema))


class ContactReasonSchema(Schema):
    group = fields.String()
    count = fields.Integer()
    share = fields.Float()
    previous_count = fields.Integer()
    change = fields.Integer()
    change_ratio = fields.Float(allow_none=True)


class ContactReasonsReportSchema(Schema):
    group_by = fields.String()
    since = Timestamp()
    until = Timestamp()
    total = fields.Integer()
    groups = fields.List(fields.Nested(ContactReasonSchema))


class NewProblemSchema(Schema):
    class Meta:
        unknown = RAISE

    title = fields.String(required=True, validate=validate.Length(min=3, max=200))
    description = fields.String(load_default=None, validate=validate.Length(max=10_000))
    category = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    ticket_ids = fields.List(
        fields.String(validate=validate.Length(min=1, max=36)),
        load_default=list,
        validate=validate.Length(max=1000),
    )


class LinkSchema(Schema):
    class Meta:
        unknown = RAISE

    ticket_ids = fields.List(
        fields.String(validate=validate.Length(min=1, max=36)),
        required=True,
        validate=validate.Length(min=1, max=1000),
    )


class ResolveSchema(Schema):
    class Meta:
        unknown = RAISE

    resolution = fields.String(required=True, validate=validate.Length(min=3, max=10_000))


class ProblemQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    status = fields.String(load_default=None, validate=validate.OneOf(["open", "resolved"]))


class ProblemSchema(Schema):
    id = fields.String()
    title = fields.String()
    description = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    status = fields.String()
    detected = fields.Boolean()
    window_start = Timestamp(allow_none=True)
    window_end = Timestamp(allow_none=True)
    count = fields.Integer(allow_none=True)
    baseline = fields.Float(allow_none=True)
    created_by = fields.String()
    created_at = Timestamp()
    resolution = fields.String(allow_none=True)
    resolved_at = Timestamp(allow_none=True)
    tickets = fields.Integer()
    ticket_ids = fields.List(fields.String())


class ArticleInputSchema(Schema):
    class Meta:
        unknown = RAISE

    title = fields.String(required=True, validate=validate.Length(min=3, max=200))
    body = fields.String(required=True, validate=validate.Length(min=1, max=50_000))
    language = fields.String(required=True, validate=validate.OneOf(["nl", "en"]))
    tags = fields.List(
        fields.String(validate=validate.Length(min=1, max=40)),
        load_default=list,
        validate=validate.Length(max=20),
    )
    category = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class ArticleSchema(Schema):
    id = fields.String()
    title = fields.String()
    body = fields.String()
    language = fields.String()
    tags = fields.List(fields.String())
    category = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = Timestamp()
    updated_at = Timestamp()


class ArticleListQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    lang = fields.String(load_default=None, validate=validate.OneOf(["nl", "en"]))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100_000))


class SearchQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    q = fields.String(required=True, validate=validate.Length(min=1, max=200))
    # Without it both languages are searched, the desk's default language first.
    lang = fields.String(load_default=None, validate=validate.OneOf(["nl", "en"]))
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))


class SearchHitSchema(Schema):
    id = fields.String()
    title = fields.String()
    language = fields.String()
    tags = fields.List(fields.String())
    category = fields.String(allow_none=True)
    snippet = fields.String()
    rank = fields.Float()


class PreparedAnswerInputSchema(Schema):
    """A prepared answer: a title for agents to choose it by, where it fits, and its text in
    at least one of the desk's languages, with placeholders the console fills in."""

    class Meta:
        unknown = RAISE

    title = fields.String(required=True, validate=validate.Length(min=3, max=120))
    queue = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    category = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    text_nl = fields.String(load_default=None, validate=validate.Length(max=5000))
    text_en = fields.String(load_default=None, validate=validate.Length(max=5000))


class PreparedAnswerSchema(Schema):
    id = fields.String()
    title = fields.String()
    queue = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    text_nl = fields.String(allow_none=True)
    text_en = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = Timestamp()
    updated_at = Timestamp()


class PreparedAnswerQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    queue = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    category = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
