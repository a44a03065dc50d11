"""Intake's HTTP adapter: thin views around the use cases in `service`."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from limits import RateLimitItemPerMinute
from sqlalchemy.exc import IntegrityError

from services.common.auth import CHANNELS, current_principal, require
from services.common.db import reading
from services.common.errors import ApiError
from services.common.events import utcnow
from services.common.failures import Conflict
from services.common.hashing import secret_digest
from services.common.periods import ReportQuerySchema, report_period
from services.common.secret_box import SecretBox, service_box
from services.common.unit_of_work import UnitOfWork
from services.common.vocabulary import LANGUAGES
from services.common.web import body_bytes, change, content_disposition, json_body, runtime
from services.intake import calls, domain, inbound_email, schemas, service, storage
from services.intake.contact_options import (
    OpeningHours,
    WaitEstimates,
    contact_options,
    desk_contacts,
)
from services.intake.metrics import CONTACT_WAIT, REJECTED, REQUESTS
from services.intake.schemas import ReplySchema, RequestValidator

log = logging.getLogger(__name__)
bp = Blueprint("intake", __name__, url_prefix="/v1")
# The customer-facing paths' schemas are built once: building one costs more than a load.
REPLY = ReplySchema()
COUNTED_ENDPOINTS = {"intake.submit_request", "intake.receive_email"}
MAX_IDEMPOTENCY_KEY = 255
EMAIL_SCOPE = "email-message"
Answer = tuple[int, dict[str, Any]]  # an HTTP status and its body, as a replay repeats it


class IntakeContext:
    """What intake's views need, built once per process from the configuration."""

    def __init__(self, app: Flask, intake: service.Intake, hours: OpeningHours) -> None:
        self.intake = intake
        self.validator = RequestValidator(intake.catalogue)
        self.hours = hours
        self.contacts = desk_contacts(runtime_of(app).settings.desk)
        self.estimates = WaitEstimates(runtime_of(app).settings.queue_service_url)
        self.localized = {lang: intake.catalogue.localized(lang) for lang in LANGUAGES}
        # A remembered answer holds the tracking token: kept sealed (storage.py).
        self.box: SecretBox = service_box(runtime_of(app).settings)


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
    return jsonify(
        contact_options(ctx.hours, ctx.estimates.get(), lang, utcnow(), ctx.contacts[lang])
    )


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


def _once(
    scope: str,
    key: str | None,
    body_sha256: str,
    produce: Callable[[UnitOfWork], Answer],
    *,
    same_body_required: bool = True,
) -> tuple[Response, int]:
    """Run `produce` once per (scope, Idempotency-Key); a repeat gets the first answer
    back, marked `Idempotent-Replayed`.

    The key and the change commit together, so a crash can't leave one without the
    other; two racing calls meet at the key's primary key and the loser returns the
    winner's answer.
    """

    def replay(stored: Any) -> tuple[Response, int]:
        if same_body_required and stored.body_sha256 != body_sha256:
            raise Conflict(
                "This Idempotency-Key was used for a different request.",
                code="idempotency_conflict",
            )
        response = jsonify(_opened(stored.response))
        response.headers["Idempotent-Replayed"] = "true"
        return response, stored.status_code

    try:
        with change() as unit:
            stored = storage.remembered_answer(unit.conn, scope, key) if key is not None else None
            if stored is not None:
                return replay(stored)
            status, body = produce(unit)
            if key is not None:
                kept = {"sealed": context().box.seal(json.dumps(body))}
                storage.remember_answer(unit.conn, scope, key, body_sha256, status, kept, utcnow())
    except IntegrityError:
        if key is None:
            raise
        with runtime().engine.connect() as conn:
            stored = storage.remembered_answer(conn, scope, key)
        if stored is None:
            raise
        return replay(stored)
    return jsonify(body), status


def _opened(kept: dict[str, Any]) -> Any:
    if set(kept) != {"sealed"}:
        return kept  # remembered before answers were sealed
    try:
        return json.loads(context().box.open(kept["sealed"]))
    except ValueError:
        raise Conflict(
            "This Idempotency-Key's first answer was sealed under a key since replaced.",
            code="idempotency_conflict",
        ) from None


def _count(channel: str, category: str, contact_wait: float | None) -> None:
    REQUESTS.labels(channel, category).inc()
    if contact_wait is not None:
        CONTACT_WAIT.labels(channel).observe(contact_wait)


@bp.post("/requests")
@require("client", "agent")  # an agent records a phone or counter contact
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

    def produce(unit: UnitOfWork) -> Answer:
        receipt = service.submit_request(unit, ctx.intake, submitted, principal.name, utcnow())
        unit.after_commit(
            lambda: _count(
                submitted["channel"], submitted["category"], submitted.get("contact_wait_seconds")
            )
        )
        return 201, receipt.body

    return _once(f"requests:{principal.name}", key, domain.body_digest(body), produce)


# A customer writes a few messages a minute at most; more is a script filling the
# agents' view (issue 33, 11). Counted per request and token, so guessing with wrong
# tokens (the gateway limits that per address) uses up nothing of the customer's.
REPLIES_PER_REQUEST = RateLimitItemPerMinute(10)


def _count_reply(reference: str, token: str) -> None:
    rt = runtime()
    try:
        allowed = rt.limiter.limiter.hit(
            REPLIES_PER_REQUEST,
            f"loket:{rt.settings.namespace}:intake:replies",
            reference,
            secret_digest(token)[:32],
        )
    except Exception as exc:  # a rate store that does not answer must not lose a message
        log.warning("replies: rate store unavailable (%s); not counted", type(exc).__name__)
        return
    if not allowed:
        raise ApiError(
            429,
            "too_many_replies",
            f"At most {REPLIES_PER_REQUEST.amount} messages a minute on one request.",
            headers={"Retry-After": "60"},
        )


@bp.post("/requests/<reference>/replies")
def reply_on_request(reference: str) -> tuple[Response, int]:
    """No API key: the customer's tracking token is the key (the portal's reply box)."""
    body = json_body()
    reply = REPLY.load(body)
    _count_reply(reference, reply["token"])

    def produce(unit: UnitOfWork) -> Answer:
        receipt = service.reply_on_request(
            unit, context().intake, reference, reply["token"], reply["message"], utcnow()
        )
        return 201, receipt.body

    return _once(f"replies:{reference}", _idempotency_key(), domain.body_digest(body), produce)


# Appointments at the counter

SLOTS_QUERY = schemas.SlotsQuerySchema()
APPOINTMENT_START = schemas.AppointmentStartSchema()


def _walk_in_key() -> str:
    principal = current_principal()
    if not principal.may_submit("walk_in"):
        raise ApiError(403, "channel_not_allowed", "This key may not book the counter.")
    return principal.name


@bp.get("/appointments/slots")
@require("client")
def appointment_slots() -> Response:
    """The counter's times that can be booked, with their seats still free."""
    query = SLOTS_QUERY.load(request.args.to_dict())
    ctx = context()
    if query["category"] is not None and query["category"] not in ctx.intake.catalogue.categories:
        raise ApiError(
            422, "validation_failed", "Unknown category.", {"category": ["Unknown category."]}
        )
    with reading(runtime().engine) as conn:
        slots = service.appointment_slots(conn, ctx.intake, utcnow(), query["days"])
    return jsonify({"slots": slots})


@bp.post("/appointments")
@require("client")
def book_appointment() -> tuple[Response, int]:
    """A request with a time at the counter: the body of a request plus `start`."""
    ctx = context()
    body = json_body()
    by = _walk_in_key()
    if not isinstance(body, dict):
        raise ApiError(422, "validation_failed", "The body must be an object.")
    start = APPOINTMENT_START.load({"start": body.get("start")})["start"]
    submitted = ctx.validator.load(
        {"channel": "walk_in", **{k: v for k, v in body.items() if k != "start"}}
    )
    if submitted["channel"] != "walk_in":
        raise ApiError(
            422,
            "validation_failed",
            "An appointment is at the counter.",
            {"channel": ["Must be walk_in."]},
        )

    def produce(unit: UnitOfWork) -> Answer:
        receipt = service.book_appointment(
            unit, ctx.intake, {**submitted, "start": start}, by, utcnow()
        )
        return 201, receipt.body

    return _once(f"appointments:{by}", _idempotency_key(), domain.body_digest(body), produce)


@bp.post("/appointments/<reference>/cancel")
def cancel_appointment(reference: str) -> Response:
    """No key: the tracking token in the link is the key (a wrong one: 404)."""
    token = request.args.get("token", "")
    with change() as unit:
        done = service.cancel_appointment(unit, context().intake, reference, token, utcnow())
    return jsonify(done)


@bp.post("/appointments/<reference>/move")
def move_appointment(reference: str) -> Response:
    """Another time: no key, the tracking token in the link is the key; body `{start}`."""
    token = request.args.get("token", "")
    start = APPOINTMENT_START.load(json_body())["start"]
    with change() as unit:
        done = service.move_appointment(unit, context().intake, reference, token, start, utcnow())
    return jsonify(done)


@bp.post("/appointments/<reference>/check-in")
@require("client")
def check_in(reference: str) -> Response:
    """At the kiosk: the appointment joins the counter's line with a number of today's."""
    _walk_in_key()
    with change() as unit:
        done = service.check_in(unit, context().intake, reference, utcnow())
    return jsonify(done)


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
    by = current_principal().name

    def produce(unit: UnitOfWork) -> Answer:
        receipt = service.receive_email(unit, ctx.intake, email, by, utcnow())
        if not receipt.created:
            return 200, receipt.body  # an e-mail gateway is told nothing new was made
        unit.after_commit(lambda: _count("email", "unclassified", None))
        return 201, receipt.body

    # The same message twice (the same Message-ID from the same sender with the same
    # content) is one message; another message that reuses a Message-ID is a message of
    # its own, never answered with the first one's reference and tracking token.
    return _once(
        EMAIL_SCOPE,
        domain.email_identity(email),
        hashlib.sha256(raw).hexdigest(),
        produce,
        same_body_required=False,
    )


@bp.get("/attachments/<attachment_id>")
@require("agent")
def download_attachment(attachment_id: str) -> Response:
    """A file an e-mail carried, only ever as a download: a page never shows it, a browser
    never guesses its type, and nothing in it runs (a sandbox with no script)."""
    with runtime().engine.connect() as conn:
        found = service.attachment(conn, attachment_id)
    response = Response(found.content, mimetype=None, content_type=found.content_type)
    response.headers["Content-Disposition"] = content_disposition(found.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# The phone system

CALL_EVENT = schemas.CallEventSchema()
FORM = "application/x-www-form-urlencoded"


@bp.post("/calls")
@require("client")
def call_event() -> tuple[Response, int]:
    """One event of the phone system (Zammad's generic CTI), answered at once."""
    principal = current_principal()
    if not principal.may_submit("phone"):
        raise ApiError(403, "channel_not_allowed", "This key may not report calls (channel phone).")
    sent = request.form.to_dict() if request.mimetype == FORM else json_body()
    event = CALL_EVENT.load(sent)
    ctx = context()
    with change() as unit:
        answer = service.call_event(
            unit, ctx.intake, event, principal.name, utcnow(), ctx.validator.load
        )
    return jsonify(answer), 200


@bp.get("/calls")
@require("agent")
def list_calls() -> Response:
    """The screen pop: an agent's calls, each with who is probably calling and their
    requests. An agent sees their own; a supervisor anyone's."""
    query = schemas.CallsQuerySchema().load(request.args)
    principal = current_principal()
    agent = query["agent"] or (principal.name if not principal.has_role("supervisor") else None)
    if agent != principal.name and not principal.has_role("supervisor"):
        raise ApiError(403, "forbidden", "An agent sees their own calls.")
    with reading(runtime().engine) as conn:
        found = service.calls_view(conn, agent, query["state"])
    return jsonify(schemas.CallsSchema().dump({"calls": found}))


@bp.get("/reports/calls")
@require("supervisor")
def calls_report() -> Response:
    """The phone's service level: inbound calls offered, answered (within the desk
    file's `calls.service_level_seconds`) and abandoned, with the call-backs those got,
    per day in the desk's zone and for the period."""
    query = ReportQuerySchema().load(request.args.to_dict())
    intake = context().intake
    since, until = report_period(query, intake.zone, utcnow())
    with reading(runtime().engine) as conn:
        inbound = storage.inbound_calls_between(conn, since, until)
    report = calls.calls_report(inbound, intake.call_rules, intake.zone)
    return jsonify(schemas.CallsReportSchema().dump({"since": since, "until": until, **report}))


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
