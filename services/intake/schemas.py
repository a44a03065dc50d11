"""What intake accepts, as marshmallow schemas (unknown fields are refused)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from services.common.auth import CHANNELS
from services.intake.domain import Category

LEVELS = ("high", "medium", "low")
LANGUAGES = ("nl", "en")
CONTACT_MEDIA = ("email", "sms", "phone", "none")
PHONE = validate.Regexp(r"^\+?[0-9][0-9 ()-]{5,22}[0-9]$", error="Not a valid phone number.")


class RequesterSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(load_default=None, allow_none=True, validate=PHONE)
    language = fields.String(load_default="nl", validate=validate.OneOf(LANGUAGES))
    preferred_contact = fields.String(load_default="email", validate=validate.OneOf(CONTACT_MEDIA))


class RequestSchema(Schema):
    """The body of `POST /v1/requests`; category fields are checked by the catalogue."""

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
    resolved_on_contact = fields.Boolean(load_default=False)
    resolution = fields.String(load_default=None, validate=validate.Length(min=1, max=20_000))
    contact_started_at = fields.AwareDateTime(load_default=None)

    @validates_schema
    def _resolution_when_resolved(self, data: Mapping[str, Any], **_: Any) -> None:
        if data.get("resolved_on_contact") and not data.get("resolution"):
            raise ValidationError("Required when resolved_on_contact is true.", "resolution")


class AcceptedSchema(Schema):
    id = fields.String(required=True)
    reference = fields.String(required=True)
    tracking_token = fields.String(required=True)
    status_url = fields.String(required=True)
    status = fields.String(required=True)


def check_category_fields(data: Mapping[str, Any], catalogue: Mapping[str, Category]) -> None:
    """The category must exist and its own required fields be answered."""
    category = catalogue.get(data["category"])
    if category is None:
        raise ValidationError({"category": ["Unknown category."]})
    known = {f["name"]: f for f in category.raw.get("fields", [])}
    answers = data.get("fields") or {}
    errors: dict[str, list[str]] = {}
    for name in answers:
        if name not in known:
            errors[f"fields.{name}"] = ["Unknown field for this category."]
    for name, spec in known.items():
        if spec.get("required") and answers.get(name) in (None, ""):
            errors[f"fields.{name}"] = ["Missing data for required field."]
    if errors:
        raise ValidationError(errors)
