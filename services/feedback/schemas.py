"""What the feedback service reads from events."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from services.common.auth import CHANNELS


class ContactSchema(Schema):
    """The part of `ticket.created` v1 that makes a contact reason."""

    class Meta:
        unknown = EXCLUDE

    ticket_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    category = fields.String(required=True, validate=validate.Length(min=1, max=64))
    queue = fields.String(required=True, validate=validate.Length(min=1, max=64))
    resolved_on_contact = fields.Boolean(load_default=False)
    created_at = fields.AwareDateTime(required=True)
