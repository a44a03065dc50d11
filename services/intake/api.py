"""Intake's HTTP adapter: thin views around the use cases in `service`."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

from services.common.auth import CHANNELS, current_principal, require
from services.common.errors import ApiError
from services.common.events import utcnow
from services.common.vocabulary import LANGUAGES
from services.common.web import body_bytes, json_body, request_id, runtime
from services.intake import inbound_email, service
from services.intake.contact_options import OpeningHours, WaitEstimates, contact_options
from services.intake.domain import body_digest
from services.intake.metrics import CONTACT_WAIT, REJECTED, REQUESTS
from services.intake.schemas import ReplySchema, RequestValidator

bp = Blueprint("intake", __name__, url_prefix="/v1")
# The customer-facing paths' schemas are built once: building one costs more than a load.
REPLY = ReplySchema()
COUNTED_ENDPOINTS = {"intake.submit_request", "intake.receive_email"}
MAX_IDEMPOTENCY_KEY = 255


class IntakeContext:
    """What intake's views need, built once per process from the configuration."""

    def __init__(self, app: Flask, intake: service.Intake, hours: OpeningHours) -> None:
        self.intake = intake
        self.validator = RequestValidator(intake.catalogue)
        self.hours = hours
        self.estimates = WaitEstimates(runtime_of(app).settings.queue_service_url)
        self.localized = {lang: intake.catalogue.localized(lang) for lang in LANGUAGES}


def runtime_of(app: Flask) -> Any:
    return app.extensions["loket"]


def context() -> IntakeContext:
    return current_app.extensions["intake"]


def _language() -> str:
    lang = request.args.get("lang", context().intake.default_language)
    if lang not in LANGUAGES:
        raise ApiError(
            422, "validation_failed", "Unknown language.", {"lang": ["Must be nl or en."]}
        )
    return lang


@bp.get("/catalogue")
def catalogue() -> Response:
    return jsonify(context().localized[_language()])


@bp.get("/contact-options")
def contact_options_view() -> Response:
    ctx = context()
    lang = _language()
    return jsonify(contact_options(ctx.hours, ctx.estimates.get(), lang, utcnow()))


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise ApiError(
            422,
            "validation_failed",
            "Invalid Idempotency-Key header.",
            {"Idempotency-Key": [f"1 to {MAX_IDEMPOTENCY_KEY} printable characters."]},
        )
    return key


def _answer(answer: tuple[int, dict[str, Any]], replayed: bool) -> tuple[Response, int]:
    status, body = answer
    response = jsonify(body)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response, status


def _count(channel: str, category: str, contact_wait: float | None) -> None:
    REQUESTS.labels(channel, category).inc()
    if contact_wait is not None:
        CONTACT_WAIT.labels(channel).observe(contact_wait)


@bp.post("/requests")
@require("client")
def submit_request() -> tuple[Response, int]:
    ctx = context()
    body = json_body()
    key = _idempotency_key()
    submitted = ctx.validator.load(body)
    principal = current_principal()
    if not principal.may_submit(submitted["channel"]):
        raise ApiError(
            403,
            "channel_not_allowed",
            f"This key may not submit requests for channel {submitted['channel']}.",
        )
    answer, replayed = service.submit_request(
        ctx.intake,
        submitted,
        submitted_by=principal.name,
        idempotency_key=key,
        body_sha256=body_digest(body),
        correlation_id=request_id(),
        now=utcnow(),
    )
    if not replayed:
        _count(submitted["channel"], submitted["category"], submitted.get("contact_wait_seconds"))
    return _answer(answer, replayed)


@bp.post("/requests/<reference>/replies")
def reply_on_request(reference: str) -> tuple[Response, int]:
    """No API key: the customer's tracking token is the key (the portal's reply box)."""
    body = json_body()
    reply = REPLY.load(body)
    answer, replayed = service.reply_on_request(
        context().intake,
        reference,
        reply["token"],
        reply["message"],
        idempotency_key=_idempotency_key(),
        body_sha256=body_digest(body),
        correlation_id=request_id(),
        now=utcnow(),
    )
    return _answer(answer, replayed)


@bp.post("/inbound/email")
@require("client")
def receive_email() -> tuple[Response, int]:
    ctx = context()
    if not current_principal().may_submit("email"):
        raise ApiError(403, "channel_not_allowed", "This key may not submit e-mail.")
    if request.mimetype != "message/rfc822":
        raise ApiError(
            415,
            "unsupported_media_type",
            "Send the raw message as Content-Type: message/rfc822.",
        )
    request.max_content_length = runtime().settings.max_email_bytes
    raw = body_bytes(cache=False)
    email = inbound_email.parse(raw)
    answer, replayed = service.receive_email(
        ctx.intake,
        email,
        submitted_by=current_principal().name,
        body_sha256=hashlib.sha256(raw).hexdigest(),
        correlation_id=request_id(),
        now=utcnow(),
    )
    if not replayed and answer[0] == 201:
        _count("email", "unclassified", None)
    return _answer(answer, replayed)


@bp.after_request
def _count_rejections(response: Response) -> Response:
    if response.status_code >= 400 and request.endpoint in COUNTED_ENDPOINTS:
        reason = "error"
        if response.is_json and isinstance(response.get_json(silent=True), dict):
            reason = response.get_json()["error"]["code"]
        REJECTED.labels(_channel_of_request(), reason).inc()
    return response


def _channel_of_request() -> str:
    """The channel a refused request was for, when it says so; a bounded label."""
    if request.endpoint == "intake.receive_email":
        return "email"
    body = g.get("loket_json")  # parsed before the view, if it was JSON at all
    channel = body.get("channel") if isinstance(body, dict) else None
    return channel if channel in CHANNELS else "unknown"
