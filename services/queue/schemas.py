"""What the queue service reads from events and answers over HTTP."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from services.common.auth import CHANNELS


class RequesterSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True)
    email = fields.String(load_default=None, allow_none=True)
    phone = fields.String(load_default=None, allow_none=True)
    language = fields.String(load_default="nl")
    preferred_contact = fields.String(load_default="email")


class TicketCreatedSchema(Schema):
    """`ticket.created` v1 data; fields this service does not use are ignored."""

    class Meta:
        unknown = EXCLUDE

    ticket_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    reference = fields.String(required=True, validate=validate.Length(min=1, max=32))
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    category = fields.String(required=True)
    queue = fields.String(required=True)
    priority = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=4))
    subject = fields.String(required=True)
    description = fields.String(required=True)
    fields_ = fields.Dict(data_key="fields", attribute="fields", load_default=dict)
    requester = fields.Nested(RequesterSchema, required=True)
    tracking_token = fields.String(required=True, validate=validate.Length(min=16))
    created_at = fields.AwareDateTime(required=True)
    contact_started_at = fields.AwareDateTime(load_default=None, allow_none=True)
    resolved_on_contact = fields.Boolean(load_default=False)
    resolution = fields.String(load_default=None, allow_none=True)


class CustomerRepliedSchema(Schema):
    """`ticket.customer_replied` v1 data."""

    class Meta:
        unknown = EXCLUDE

    ticket_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    reference = fields.String(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    message = fields.String(required=True)
    received_at = fields.AwareDateTime(required=True)


class UpdateSchema(Schema):
    at = fields.String(required=True)
    status = fields.String(required=True)
    message = fields.String(allow_none=True)


class TrackSchema(Schema):
    reference = fields.String(required=True)
    status = fields.String(required=True)
    queue_position = fields.Integer(allow_none=True)
    estimated_wait_seconds = fields.Integer(allow_none=True)
    estimated_wait_low_seconds = fields.Integer(allow_none=True)
    estimated_wait_high_seconds = fields.Integer(allow_none=True)
    updates = fields.List(fields.Nested(UpdateSchema), required=True)
