"""The queue service's HTTP adapter: agents and supervisors work here, customers read
their status here."""

from __future__ import annotations

import binascii
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, jsonify, request
from marshmallow import ValidationError
from sqlalchemy import Connection

from services.common.auth import CHANNELS, current_principal, require
from services.common.db import reading, transaction
from services.common.errors import ApiError
from services.common.events import isoformat, to_utc, utcnow
from services.common.failures import NotFound
from services.common.hashing import secret_digest
from services.common.periods import report_period
from services.common.unit_of_work import UnitOfWork
from services.common.vocabulary import desk_language, language
from services.common.web import change, json_body, runtime
from services.queue import domain, reports, schemas, service, storage

bp = Blueprint("queue", __name__, url_prefix="/v1")
# The customer-facing paths' schemas are built once: building one costs more than a load.
TRACK = schemas.TrackSchema()


@dataclass(frozen=True)
class QueueContext:
    """What the queue's views need, built once per process from the configuration."""

    desk: service.Desk
    # What wait estimates learn from, read at most every few seconds per process.
    activity: service.KeptActivity


def context() -> QueueContext:
    return current_app.extensions["queue"]


def desk() -> service.Desk:
    return context().desk


def _activity(conn: Connection, now: datetime) -> storage.QueueActivity:
    return context().activity(conn, now)


def _summary(ticket: Any) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "reference": ticket.reference,
        "channel": ticket.channel,
        "category": ticket.category,
        "queue": ticket.queue,
        "priority": ticket.priority,
        "status": ticket.status,
        "subject": ticket.subject,
        "assigned_to": ticket.assigned_to,
        "created_at": to_utc(ticket.created_at),
        "contact_started_at": to_utc(ticket.contact_started_at),
        "due_at": to_utc(ticket.due_at),
        "resolution_due_at": to_utc(ticket.resolution_due_at),
        "first_claimed_at": _utc_or_none(ticket.first_claimed_at),
        "requester_name": (ticket.requester or {}).get("name"),
        "transfer_count": ticket.transfer_count,
        "needs_supervisor": ticket.needs_supervisor,
        "repeat_contact": ticket.repeat_of is not None,
        "callback_not_before": _utc_or_none(ticket.callback_not_before),
        "callback_not_after": _utc_or_none(ticket.callback_not_after),
        "ticket_number": ticket.ticket_number,
        "counter": ticket.counter,
        "called_at": _utc_or_none(ticket.called_at),
        "counted_calls": ticket.counted_calls,
        "no_show_at": _utc_or_none(ticket.no_show_at),
        "appointment_start": _utc_or_none(ticket.appointment_start),
        "appointment_end": _utc_or_none(ticket.appointment_end),
        "checked_in_at": _utc_or_none(ticket.checked_in_at),
        "on_the_way": ticket.channel == "walk_in" and service.on_the_way(ticket),
        "callback_attempts": ticket.callback_attempts,
    }


def _utc_or_none(moment: Any) -> Any:
    return to_utc(moment) if moment is not None else None


# A ticket loaded in the console this long ago counts as open there still.
VIEWERS_WINDOW = timedelta(minutes=10)


def _ticket_view(conn: Connection, ticket: Any) -> dict[str, Any]:
    """An agent's view: everything, with the full history and the requester's earlier
    requests, so nobody asks the customer twice."""
    history = storage.history_of(conn, ticket.id, public_only=False)
    view = _summary(ticket) | {
        "description": ticket.description,
        "attachments": ticket.attachments,
        "fields": ticket.fields,
        "requester": ticket.requester,
        "resolution": ticket.resolution,
        "resolved_at": to_utc(ticket.resolved_at) if ticket.resolved_at else None,
        "repeat_of": ticket.repeat_of,
        "version": ticket.version,
        "viewers": [
            {"person": v.person, "seen_at": to_utc(v.seen_at)}
            for v in storage.viewers_since(conn, ticket.id, utcnow() - VIEWERS_WINDOW)
            if v.person != current_principal().name
        ],
        "history": [dict(h._mapping, at=to_utc(h.at)) for h in history],
        "earlier_requests": [
            dict(r._mapping, created_at=to_utc(r.created_at))
            for r in storage.earlier_requests(conn, ticket)
        ],
    }
    return schemas.TicketSchema().dump(view)


def _known_queue(queue: str) -> None:
    if queue not in desk().queues:
        raise NotFound("queue")


@bp.get("/queues")
@require("agent")
def queues() -> Response:
    lang = language(request.args.get("lang"), desk_language(runtime().settings.desk))
    now = utcnow()
    with runtime().engine.connect() as conn:
        overview = service.waiting_overview(conn, desk(), now, _activity(conn, now))
    answer = []
    for queue_id, entry in overview.items():
        estimate = entry["estimate"]
        answer.append(
            {
                "id": queue_id,
                "name": desk().queues.get(queue_id, {}).get(lang, queue_id),
                "waiting": {c: entry["waiting"].get(c, 0) for c in CHANNELS},
                "total_waiting": entry["total"],
                "oldest_wait_seconds": entry["oldest_wait_seconds"],
                "claims_last_hour": entry["claims_last_hour"],
                "estimated_wait_seconds": estimate.likely if estimate else None,
                "estimated_wait_low_seconds": estimate.low if estimate else None,
                "estimated_wait_high_seconds": estimate.high if estimate else None,
            }
        )
    return jsonify(queues=schemas.QueueOverviewSchema(many=True).dump(answer))


@bp.get("/estimates")
def estimates() -> Response:
    """Expected wait per channel, public: what intake's contact options show customers.

    A channel's estimate is that of the first queue in the configuration (the first-line
    desk, where every channel arrives); null until there is enough recent history.
    """
    first_line = next(iter(desk().queues))
    now = utcnow()
    with runtime().engine.connect() as conn:
        entry = service.waiting_overview(conn, desk(), now, _activity(conn, now))[first_line]
    estimate = entry["estimate"]
    per_channel = {
        "estimated_wait_seconds": estimate.likely if estimate else None,
        "estimated_wait_low_seconds": estimate.low if estimate else None,
        "estimated_wait_high_seconds": estimate.high if estimate else None,
    }
    return jsonify(channels={channel: dict(per_channel) for channel in CHANNELS})


@bp.post("/queues/<queue>/next")
@require("agent")
def next_ticket(queue: str) -> Response | tuple[str, int]:
    _known_queue(queue)
    agent = current_principal().name

    with change() as unit:
        ticket = service.claim_next(unit, queue, agent, utcnow())
        view = _ticket_view(unit.conn, ticket) if ticket is not None else None
    if view is None:
        return "", 204
    return jsonify(view)


@bp.post("/counters/<counter>/call")
@require("agent")
def call_next(counter: str) -> Response | tuple[str, int]:
    """The next person present for the queue, in fair order, called to this counter."""
    body = schemas.CallSchema().load(json_body())
    _known_queue(body["queue"])
    counter = _known_counter(counter)
    with change() as unit:
        ticket = service.call_next(
            unit, desk(), body["queue"], counter, current_principal().name, utcnow(), _activity
        )
        view = _ticket_view(unit.conn, ticket) if ticket is not None else None
    if view is None:
        return "", 204
    return jsonify(view)


@bp.post("/counters/<counter>/recall")
@require("agent")
def recall(counter: str) -> Response:
    counter = _known_counter(counter)
    with change() as unit:
        ticket = service.call_again(unit, desk(), counter, current_principal().name, utcnow())
        view = _ticket_view(unit.conn, ticket)
    return jsonify(view)


def _known_counter(counter: str) -> str:
    try:
        schemas.COUNTER(counter)
    except ValidationError:
        raise NotFound("counter") from None
    return counter


@bp.post("/tickets/<ticket_id>/no-show")
@require("agent")
def no_show(ticket_id: str) -> Response:
    agent, now = current_principal().name, utcnow()
    return _ticket_change(
        ticket_id, lambda unit: service.no_show(unit, desk(), ticket_id, agent, now)
    )


@bp.post("/tickets/<ticket_id>/callback-attempts")
@require("agent")
def callback_attempt(ticket_id: str) -> Response:
    """The agent holding a call-back called the customer: how it went."""
    body = schemas.CallbackAttemptSchema().load(json_body())
    agent, now, lead = current_principal().name, utcnow(), _lead()

    def record(unit: UnitOfWork) -> Any:
        return service.callback_attempt(
            unit, desk(), ticket_id, body["outcome"], body["note"], agent, now, lead=lead
        )

    return _ticket_change(ticket_id, record)


@bp.post("/tickets/<ticket_id>/reactivate")
@require("agent")
def reactivate(ticket_id: str) -> Response:
    body = schemas.ReactivateSchema().load(json_body())
    agent, now = current_principal().name, utcnow()
    return _ticket_change(
        ticket_id, lambda unit: service.reactivate(unit, ticket_id, body["reason"], agent, now)
    )


@bp.get("/display")
def display() -> Response:
    """The waiting room's screen (public: it hangs on a wall): the last numbers called
    and their counters, how many wait, and what a new number would wait."""
    query = schemas.DisplayQuerySchema().load(request.args.to_dict())
    if query["queue"] is not None:
        _known_queue(query["queue"])
    now = utcnow()
    with reading(runtime().engine) as conn:
        calls = storage.last_calls(conn, query["queue"])
        waiting = storage.waiting_at_counter(conn, query["queue"])
        # A new number's wait is its queue's: unknown for a screen of every queue.
        estimate = None
        if query["queue"] is not None:
            learned = _activity(conn, now)
            new = service.NEW_ARRIVAL_PRIORITY
            estimate = service.estimate_for(desk(), learned, query["queue"], new, waiting + 1, now)
    view = {
        "called": [
            {"ticket_number": c.ticket_number, "counter": c.counter, "called_at": to_utc(c.at)}
            for c in calls
        ],
        "waiting": waiting,
        "expected_wait": {
            "estimated_wait_seconds": estimate.likely if estimate else None,
            "estimated_wait_low_seconds": estimate.low if estimate else None,
            "estimated_wait_high_seconds": estimate.high if estimate else None,
        },
    }
    return jsonify(schemas.DisplaySchema().dump(view))


def _ticket_change(ticket_id: str, work: Callable[[UnitOfWork], Any]) -> Response:
    """A change to one ticket, answered with the agent's view of it afterwards. With
    `If-Match`, only if the ticket is still the version the caller saw (412 otherwise):
    two people on one ticket must not undo each other unknowingly."""
    wanted = _versions_matched()
    with change() as unit:
        if wanted is not None:
            current = storage.ticket_version(unit.conn, ticket_id)
            if current is not None and str(current) not in wanted:
                raise ApiError(
                    412,
                    "precondition_failed",
                    "The ticket changed since it was read; read it again.",
                    headers={"ETag": _etag(current)},
                )
        view = _ticket_view(unit.conn, work(unit))
    response = jsonify(view)
    response.headers["ETag"] = _etag(view["version"])
    return response


def _etag(version: int) -> str:
    return f'"{version}"'


def _versions_matched() -> set[str] | None:
    """The versions `If-Match` accepts (RFC 9110: a list of strong tags, or `*`)."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    return {tag.strip().removeprefix("W/").strip('"') for tag in header.split(",")}


def _lead() -> bool:
    """Supervisors (and admins) may work any ticket; agents the ones they hold."""
    return current_principal().has_role("supervisor")


@bp.post("/tickets/<ticket_id>/claim")
@require("agent")
def claim(ticket_id: str) -> Response:
    body = schemas.ClaimSchema().load(json_body())
    agent, now = current_principal().name, utcnow()
    return _ticket_change(
        ticket_id, lambda unit: service.claim(unit, ticket_id, agent, body["reason"], now)
    )


@bp.get("/tickets")
@require("agent")
def list_tickets() -> Response:
    query = schemas.TicketQuerySchema().load(request.args.to_dict())
    after = None
    if query["cursor"]:
        try:
            after = storage.decode_cursor(query["cursor"])
        except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
            raise ApiError(
                422,
                "validation_failed",
                "Invalid cursor.",
                {"cursor": ["Not a cursor from a previous page."]},
            ) from None
    with runtime().engine.connect() as conn:
        rows = storage.list_tickets(
            conn,
            queue=query["queue"],
            status=query["status"],
            channel=query["channel"],
            assigned_to=current_principal().name if query["mine"] else None,
            requester_key=domain.requester_key(_as_requester(query["requester"]))
            if query["requester"]
            else None,
            text=query["q"],
            flagged=query["flagged"],
            statuses=domain.OPEN_STATUSES if query["open"] else None,
            no_show_since=query["no_show_since"],
            after=after,
            limit=query["limit"] + 1,
        )
    page = rows[: query["limit"]]
    next_cursor = storage.encode_cursor(page[-1]) if len(rows) > query["limit"] else None
    return jsonify(
        schemas.TicketPageSchema().dump(
            {"tickets": [_summary(t) for t in page], "next_cursor": next_cursor}
        )
    )


def _as_requester(wanted: str) -> dict[str, str]:
    return {"email": wanted} if "@" in wanted else {"phone": wanted}


@bp.get("/tickets/<ticket_id>")
@require("agent")
def ticket(ticket_id: str) -> Response:
    """One ticket, by its id or by its reference (`LKT-000123`, what a customer quotes)."""
    with transaction(runtime().engine) as conn:
        found = (
            storage.ticket_by_reference(conn, ticket_id.upper())
            if ticket_id.upper().startswith("LKT-")
            else storage.ticket_by_id(conn, ticket_id)
        )
        if found is None:
            raise NotFound("ticket")
        # Reading it in the console is having it open: colleagues see who else does.
        now = utcnow()
        storage.saw_ticket(conn, found.id, current_principal().name, now, now - VIEWERS_WINDOW)
        response = jsonify(_ticket_view(conn, found))
    response.headers["ETag"] = _etag(found.version)
    return response


@bp.post("/tickets/<ticket_id>/status")
@require("agent")
def change_status(ticket_id: str) -> Response:
    body = schemas.StatusChangeSchema().load(json_body())
    agent, now = current_principal().name, utcnow()
    return _ticket_change(
        ticket_id,
        lambda unit: service.change_status(
            unit,
            ticket_id,
            body["to"],
            body["public_note"],
            body["internal_note"],
            agent,
            now,
            lead=_lead(),
        ),
    )


@bp.post("/tickets/<ticket_id>/messages")
@require("agent")
def add_message(ticket_id: str) -> Response:
    body = schemas.MessageSchema().load(json_body())
    agent, now = current_principal().name, utcnow()
    return _ticket_change(
        ticket_id,
        lambda unit: service.add_message(
            unit, ticket_id, body["message"], body["public"], agent, now, lead=_lead()
        ),
    )


@bp.post("/tickets/<ticket_id>/transfer")
@require("agent")
def transfer(ticket_id: str) -> Response:
    body = schemas.TransferSchema().load(json_body())
    agent, now = current_principal().name, utcnow()
    return _ticket_change(
        ticket_id,
        lambda unit: service.transfer(
            unit, desk(), ticket_id, body["to_queue"], body["note"], agent, now, lead=_lead()
        ),
    )


@bp.post("/tickets/<ticket_id>/priority")
@require("agent")
def change_priority(ticket_id: str) -> Response:
    body = schemas.PriorityChangeSchema().load(json_body())
    agent, now = current_principal().name, utcnow()
    return _ticket_change(
        ticket_id,
        lambda unit: service.change_priority(
            unit, desk(), ticket_id, body["priority"], body["reason"], agent, now, lead=_lead()
        ),
    )


def _desk_zone() -> ZoneInfo:
    return ZoneInfo(runtime().settings.desk.get("opening_hours", {}).get("timezone", "UTC"))


@bp.get("/reports/waits")
@require("supervisor")
def waits_report() -> Response:
    """How long customers waited for an agent over one day, per hour and channel: from
    first contact to first claim, by the hour they were taken, in the desk's zone."""
    query = schemas.WaitsQuerySchema().load(request.args.to_dict())
    zone = _desk_zone()
    day = query["date"] or utcnow().astimezone(zone).date()
    # In UTC, as every time is stored: SQLite compares them as text, and midnight in
    # Amsterdam written with its +01:00 sorted after the evening before in UTC.
    start = datetime.combine(day, datetime.min.time(), zone)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
    with reading(runtime().engine) as conn:
        claims = storage.first_claims_between(conn, start.astimezone(UTC), end.astimezone(UTC))
    report = {"date": day, "timezone": zone.key, "hours": domain.waits_by_hour(claims, zone)}
    return jsonify(schemas.WaitsReportSchema().dump(report))


@bp.get("/reports/service-levels")
@require("supervisor")
def service_levels_report() -> Response:
    """First response and resolution against their targets, first-contact resolution,
    handling time, transfers and queue jumps of the tickets that arrived in the period:
    in total and per priority, queue and channel (decision 0028)."""
    query = schemas.ServiceLevelQuerySchema().load(request.args.to_dict())
    now = utcnow()
    since, until = report_period(query, _desk_zone(), now)
    with reading(runtime().engine) as conn:
        arrived = [r._asdict() for r in storage.tickets_created_between(conn, since, until)]
        claims = [
            reports.Claim(r.ticket_id, r.at, r.ended_at, r.out_of_order)
            for r in storage.claims_of_tickets_created_between(conn, since, until)
        ]
        history = storage.history_of_tickets_created_between(conn, since, until)
    figures = reports.service_levels(arrived, claims, history, now)
    return jsonify(
        schemas.ServiceLevelReportSchema().dump({"since": since, "until": until, **figures})
    )


@bp.get("/reports/board")
@require("supervisor")
def board() -> Response:
    """The wallboard's tickets: those about to break (or past) their running target, and
    who works what now. Waiting per queue and channel is `GET /v1/queues`."""
    now = utcnow()
    with reading(runtime().engine) as conn:
        due = storage.running_targets_due_by(conn, now + reports.AT_RISK_WINDOW)
        held = storage.held_tickets(conn)
    agents: dict[str, list[dict[str, Any]]] = {}
    for row in held:
        ticket = row._asdict()
        ticket["since"] = to_utc(ticket["since"]) if ticket["since"] else None
        agents.setdefault(ticket["assigned_to"], []).append(ticket)
    view = {
        "at": now,
        "at_risk_window_seconds": int(reports.AT_RISK_WINDOW.total_seconds()),
        "at_risk": reports.at_risk([r._asdict() for r in due], now),
        "agents": [{"agent": a, "tickets": t} for a, t in sorted(agents.items())],
    }
    return jsonify(schemas.BoardSchema().dump(view))


@bp.get("/track/<reference>")
def track(reference: str) -> Response:
    """A customer's view of one request, opened by its tracking token and nothing else."""
    token = request.args.get("token", "")
    now = utcnow()
    with reading(runtime().engine) as conn:
        ticket = storage.ticket_by_reference(conn, reference)
        # A wrong token, a missing one and an unknown reference look the same.
        if ticket is None or not hmac.compare_digest(
            ticket.tracking_token_sha256, secret_digest(token)
        ):
            raise NotFound("request")
        # An appointment joins the line when it checks in; until then it has a time, no place.
        waiting = ticket.status == "queued" and (
            ticket.appointment_start is None or ticket.checked_in_at is not None
        )
        position = storage.queue_position(conn, ticket) if waiting else None
        estimate = (
            service.ticket_estimate(conn, desk(), ticket, position, now, _activity(conn, now))
            if position
            else None
        )
        updates = [
            {"at": isoformat(h.at), "status": h.status, "message": h.public_message}
            for h in storage.history_of(conn, ticket.id, public_only=True)
        ]
    status = {
        "reference": ticket.reference,
        "status": ticket.status,
        "ticket_number": ticket.ticket_number,
        "appointment_start": _utc_or_none(ticket.appointment_start),
        "appointment_end": _utc_or_none(ticket.appointment_end),
        "queue_position": position,
        "estimated_wait_seconds": estimate.likely if estimate else None,
        "estimated_wait_low_seconds": estimate.low if estimate else None,
        "estimated_wait_high_seconds": estimate.high if estimate else None,
        "channel": ticket.channel,
        "callback_not_before": _utc_or_none(ticket.callback_not_before),
        "callback_not_after": _utc_or_none(ticket.callback_not_after),
        "updates": updates,
    }
    return jsonify(TRACK.dump(status))


@bp.post("/track/<reference>/callback-window")
def choose_callback_window(reference: str) -> Response:
    """No key: the tracking token in the link is the key (a wrong one: 404). A call-back
    the desk could not reach takes the time the customer chooses."""
    token = request.args.get("token", "")
    body = schemas.CallbackWindowChoiceSchema().load(json_body())
    window = body["not_before"], body["not_after"]
    with change() as unit:
        ticket = service.choose_callback_window(
            unit, desk(), reference, token, window, _desk_zone(), utcnow()
        )
    return jsonify(
        {
            "reference": ticket.reference,
            "status": ticket.status,
            "callback_not_before": isoformat(to_utc(ticket.callback_not_before)),
            "callback_not_after": isoformat(to_utc(ticket.callback_not_after)),
        }
    )
