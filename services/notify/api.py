"""Notify's HTTP adapter: admins manage webhook subscriptions; agents read deliveries."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.engine import Row

from services.common.auth import current_principal, require
from services.common.errors import ApiError
from services.common.events import isoformat, utcnow
from services.common.secret_box import SecretBox
from services.common.web import change, json_body, runtime
from services.notify import schemas, service, storage
from services.notify.domain import REFUSED_BY_POLICY
from services.notify.settings import notify_settings
from services.notify.transports import Unresolvable, pinned_address

bp = Blueprint("notify", __name__, url_prefix="/v1")


@dataclass(frozen=True)
class NotifyContext:
    """What notify's views need, built once per process from the configuration."""

    # Seals the webhook secrets a subscription is created with.
    box: SecretBox


def context() -> NotifyContext:
    return current_app.extensions["notify"]


@bp.post("/subscriptions")
@require("admin")
def new_subscription() -> tuple[Response, int]:
    body = schemas.SubscriptionInputSchema().load(json_body())
    networks = [
        ipaddress.ip_network(n)
        for n in notify_settings(runtime().settings).webhook_allowed_networks
    ]
    try:
        refused = pinned_address(urlsplit(body["url"]), networks) is None
    except Unresolvable:
        refused = False  # not known yet; every delivery checks again
    if refused:
        # Checked again at every delivery: a name may resolve elsewhere later.
        raise ApiError(
            422,
            "validation_failed",
            "The request has invalid fields.",
            {"url": [f"The receiver must resolve to a public address ({REFUSED_BY_POLICY})."]},
        )
    with change() as unit:
        created = service.create_subscription(
            unit, context().box, body, current_principal().name, utcnow()
        )
    return jsonify(schemas.SubscriptionSchema().dump(created._mapping)), 201


@bp.get("/subscriptions")
@require("admin")
def subscriptions() -> Response:
    with runtime().engine.connect() as conn:
        rows = [row._mapping for row in storage.active_subscriptions(conn)]
    return jsonify(schemas.SubscriptionListSchema().dump({"subscriptions": rows}))


@bp.delete("/subscriptions/<subscription_id>")
@require("admin")
def delete_subscription(subscription_id: str) -> tuple[str, int]:
    with change() as unit:
        service.delete_subscription(unit, subscription_id, utcnow())
    return "", 204


def _delivery_view(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "event_id": row.event_id,
        "event_type": row.event_type,
        "ticket_id": row.ticket_id,
        "medium": row.medium,
        "recipient": row.recipient_masked,
        "template": row.template,
        "language": row.language,
        "attempts": row.attempts,
        "outcome": row.state,
        "last_error": row.last_error,
        "created_at": isoformat(row.created_at),
        "last_attempt_at": isoformat(row.last_attempt_at) if row.last_attempt_at else None,
        "next_attempt_at": isoformat(row.next_attempt_at) if row.next_attempt_at else None,
        "finished_at": isoformat(row.finished_at) if row.finished_at else None,
    }


@bp.get("/deliveries")
@require("agent")
def deliveries() -> Response:
    query = schemas.DeliveryQuerySchema().load(request.args.to_dict())
    with runtime().engine.connect() as conn:
        rows = storage.list_deliveries(
            conn,
            ticket_id=query["ticket_id"],
            medium=query["medium"],
            state=query["outcome"],
            limit=query["limit"],
        )
    views = [_delivery_view(row) for row in rows]
    return jsonify(schemas.DeliveryListSchema().dump({"deliveries": views}))
