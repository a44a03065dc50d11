"""Intake's HTTP adapter: thin views around the domain functions."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from services.common.auth import current_principal, require
from services.common.db import transaction
from services.common.errors import ApiError
from services.common.events import Event, utcnow
from services.common.outbox import add_events
from services.common.web import json_body, request_id, runtime
from services.intake import domain, storage
from services.intake.schemas import AcceptedSchema, RequestSchema, check_category_fields

bp = Blueprint("intake", __name__, url_prefix="/v1")


def _catalogue() -> dict[str, domain.Category]:
    return domain.load_catalogue(runtime().settings.desk)


@bp.get("/catalogue")
def catalogue() -> Response:
    lang = request.args.get("lang", "nl")
    if lang not in ("nl", "en"):
        raise ApiError(
            422, "validation_failed", "Unknown language.", {"lang": ["Must be nl or en."]}
        )

    def text(value: object) -> object:
        return value.get(lang) if isinstance(value, dict) else value

    categories = [
        {
            "id": c.id,
            "name": text(c.raw["name"]),
            "description": text(c.raw.get("description", "")),
            "queue": c.queue,
            "default_priority": c.default_priority,
            "fields": [
                {
                    "name": f["name"],
                    "label": text(f.get("label", f["name"])),
                    "type": f.get("type", "text"),
                    "required": bool(f.get("required", False)),
                    "options": [o.get("value") for o in f.get("options", [])] or None,
                }
                for f in c.raw.get("fields", [])
            ],
        }
        for c in _catalogue().values()
    ]
    return jsonify(categories=categories)


@bp.post("/requests")
@require("client")
def submit_request() -> tuple[Response, int]:
    rt = runtime()
    submitted = RequestSchema().load(json_body())
    if not current_principal().may_submit(submitted["channel"]):
        raise ApiError(
            403,
            "channel_not_allowed",
            f"This key may not submit requests for channel {submitted['channel']}.",
        )
    catalogue = _catalogue()
    check_category_fields(submitted, catalogue)
    new = domain.new_request(
        submitted, catalogue[submitted["category"]], rt.settings.desk["priority_matrix"], utcnow()
    )
    with transaction(rt.sessions) as session:
        reference = storage.insert_request(session, new.row, domain.reference_for)
        created = Event(
            type="ticket.created",
            data=domain.ticket_created_data(new.row, reference, new.tracking_token),
            source="intake",
            correlation_id=request_id(),
        )
        add_events(session, storage.outbox, [created])
    base = rt.settings.public_base_url.rstrip("/")
    accepted = {
        "id": new.id,
        "reference": reference,
        "tracking_token": new.tracking_token,
        "status_url": f"{base}/v1/track/{reference}?token={new.tracking_token}",
        "status": "received",
    }
    return jsonify(AcceptedSchema().dump(accepted)), 201
