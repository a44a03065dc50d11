"""The queue service's HTTP adapter."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, jsonify, request

from services.common.auth import CHANNELS
from services.common.errors import not_found
from services.common.events import isoformat
from services.common.hashing import secret_digest
from services.common.web import runtime
from services.queue import storage
from services.queue.schemas import TrackSchema

bp = Blueprint("queue", __name__, url_prefix="/v1")


@bp.get("/track/<reference>")
def track(reference: str) -> Response:
    """A customer's view of one request, opened by its tracking token and nothing else."""
    token = request.args.get("token", "")
    with runtime().engine.connect() as conn:
        ticket = storage.ticket_by_reference(conn, reference)
        # A wrong token and an unknown reference must be indistinguishable.
        if ticket is None or not hmac.compare_digest(
            ticket.tracking_token_sha256, secret_digest(token)
        ):
            raise not_found("request")
        waiting = ticket.status == "queued"
        position = storage.queue_position(conn, ticket) if waiting else None
        updates = [
            {"at": isoformat(h.at), "status": h.status, "message": h.public_message}
            for h in storage.public_history(conn, ticket.id)
        ]
    status = {
        "reference": ticket.reference,
        "status": ticket.status,
        "queue_position": position,
        "estimated_wait_seconds": None,
        "estimated_wait_low_seconds": None,
        "estimated_wait_high_seconds": None,
        "updates": updates,
    }
    return jsonify(TrackSchema().dump(status))


@bp.get("/estimates")
def estimates() -> Response:
    """Expected waits per channel, public: what the contact options show customers.

    Null until the queue has enough recent history to estimate honestly.
    """
    unknown = {
        "estimated_wait_seconds": None,
        "estimated_wait_low_seconds": None,
        "estimated_wait_high_seconds": None,
    }
    return jsonify(channels={channel: dict(unknown) for channel in CHANNELS})
