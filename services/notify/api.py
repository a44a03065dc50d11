"""Notify's HTTP adapter: admins manage webhook subscriptions; agents read deliveries."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, jsonify, request

from services.common.auth import current_principal, require
from services.common.db import transaction
from services.common.errors import ApiError
from services.common.events import utcnow
from services.common.web import json_body, runtime
from services.notify import schemas, service, storage
from services.notify.domain import REFUSED_BY_POLICY
from services.notify.secret_box import SecretBox
from services.notify.settings import notify_settings
from services.notify.transports import Unresolvable, pinned_address

bp = Blueprint("notify", __name__, url_prefix="/v1")


def _box() -> SecretBox:
    return current_app.extensions["notify.secret_box"]


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
    with transaction(runtime().engine) as conn:
        created = service.create_subscription(
            conn, _box(), body, current_principal().name, utcnow()
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
    with transaction(runtime().engine) as conn:
        service.delete_subscription(conn, subscription_id, utcnow())
    return "", 204


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
    views = [service.delivery_view(row) for row in rows]
    return jsonify(schemas.DeliveryListSchema().dump({"deliveries": views}))
