"""Feedback's use cases as plain functions on one open transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Row

from services.common.events import Event, isoformat, to_utc
from services.common.failures import Conflict, Invalid, NotFound
from services.common.hashing import secret_digest
from services.common.outbox import add_events
from services.common.vocabulary import language
from services.feedback import domain, storage
from services.feedback.metrics import CSAT

AfterCommit = list[Callable[[], None]]


def record_contact(
    conn: Connection, data: Mapping[str, Any], rule: domain.SurgeRule, cause: Event
) -> None:
    """Every contact is data, also one solved on the spot; a surge becomes a problem."""
    at = to_utc(data["created_at"])
    storage.record_contact(conn, dict(data, created_at=at))
    detect_surge(conn, data["category"], data["ticket_id"], at, rule, cause)


def detect_surge(
    conn: Connection,
    category: str,
    ticket_id: str,
    at: datetime,
    rule: domain.SurgeRule,
    cause: Event | None,
) -> None:
    """The clock is the contact's own time, so a replayed day detects what it detected."""
    window_start = at - rule.window
    # Counted, not fetched: every contact of a surge looks at the whole window, and
    # fetching it made each contact cost more the larger the surge grew.
    in_window = storage.count_contacts_in(conn, category, window_start, at)
    open_problem = storage.open_detected_problem(conn, category)
    if open_problem is not None:
        # Later contacts of the same surge join the problem that is already open; once
        # the surge has passed, contacts are no longer assumed to be about it.
        if in_window >= rule.min_contacts:
            storage.link_tickets(conn, open_problem.id, [ticket_id])
        return
    before = storage.count_contacts(conn, category, window_start - rule.baseline, window_start)
    baseline = rule.hourly_baseline(before)
    if not rule.is_surge(in_window, baseline):
        return
    ticket_ids = storage.contacts_in(conn, category, window_start, at)
    problem_id = str(uuid.uuid4())
    storage.add_problem(
        conn,
        {
            "id": problem_id,
            "title": f"Surge of contacts about {category}",
            "description": None,
            "category": category,
            "status": "open",
            "detected": True,
            "window_start": window_start,
            "window_end": at,
            "count": len(ticket_ids),
            "baseline": round(baseline, 3),
            "created_by": "surge-detection",
            "created_at": at,
        },
    )
    storage.link_tickets(conn, problem_id, ticket_ids)
    data = {
        "problem_id": problem_id,
        "category": category,
        "window_start": isoformat(window_start),
        "window_end": isoformat(at),
        "count": len(ticket_ids),
        "baseline": round(baseline, 3),
        "ticket_ids": sorted(ticket_ids),
    }
    _emit(conn, "problem.detected", data, cause)


def _emit(
    conn: Connection,
    type: str,
    data: dict[str, Any],
    cause: Event | None,
    correlation_id: str | None = None,
) -> None:
    if cause is not None:
        event = cause.caused(type, data, source="feedback")
    else:
        event = Event(type=type, data=data, source="feedback", correlation_id=correlation_id)
    add_events(conn, storage.outbox, [event])


def open_problem(
    conn: Connection,
    title: str,
    description: str | None,
    category: str | None,
    ticket_ids: list[str],
    by: str,
    now: datetime,
) -> str:
    problem_id = str(uuid.uuid4())
    storage.add_problem(
        conn,
        {
            "id": problem_id,
            "title": title,
            "description": description,
            "category": category,
            "status": "open",
            "detected": False,
            "created_by": by,
            "created_at": now,
        },
    )
    link(conn, problem_id, ticket_ids)
    return problem_id


def link(conn: Connection, problem_id: str, ticket_ids: list[str]) -> None:
    problem = storage.problem_by_id(conn, problem_id, lock=True)
    if problem is None:
        raise NotFound("problem")
    if problem.status != "open":
        raise Conflict("A resolved problem takes no more tickets.")
    unknown = sorted(set(ticket_ids) - storage.known_contacts(conn, ticket_ids))
    if unknown:
        raise Invalid("ticket_ids", [f"Unknown ticket {t}." for t in unknown])
    storage.link_tickets(conn, problem_id, ticket_ids)


def resolve_problem(
    conn: Connection, problem_id: str, resolution: str, now: datetime, correlation_id: str
) -> None:
    """Every linked ticket is resolved by the queue, and every customer hears it."""
    problem = storage.problem_by_id(conn, problem_id, lock=True)
    if problem is None:
        raise NotFound("problem")
    if problem.status != "open":
        raise Conflict("The problem is resolved already.")
    conn.execute(
        storage.problems.update()
        .where(storage.problems.c.id == problem_id)
        .values(status="resolved", resolution=resolution, resolved_at=now)
    )
    _emit(
        conn,
        "problem.resolved",
        {
            "problem_id": problem_id,
            "resolution": resolution,
            "ticket_ids": storage.linked_tickets(conn, problem_id),
        },
        None,
        correlation_id,
    )


def request_survey(conn: Connection, data: Mapping[str, Any], now: datetime, cause: Event) -> None:
    """One survey per resolution; notify sends the invitation (`survey.requested`)."""
    resolved_at = to_utc(data["resolved_at"])
    if storage.survey_exists(conn, data["ticket_id"], resolved_at):
        return
    token = domain.new_survey_token()
    requester = data["requester"]
    addressed_in = language(requester.get("language"))
    storage.add_survey(
        conn,
        {
            "id": str(uuid.uuid4()),
            "token_sha256": secret_digest(token),
            "ticket_id": data["ticket_id"],
            "reference": data["reference"],
            "channel": data["channel"],
            "queue": data["queue"],
            "category": data["category"],
            "agent": data["agent"],
            "language": addressed_in,
            "resolved_at": resolved_at,
            "created_at": now,
            "expires_at": now + domain.SURVEY_VALID_FOR,
        },
    )
    requested = cause.caused(
        "survey.requested",
        {
            "survey_token": token,
            "ticket_id": data["ticket_id"],
            "reference": data["reference"],
            "requester": requester,
            "language": addressed_in,
        },
        source="feedback",
    )
    add_events(conn, storage.outbox, [requested])


def open_survey(conn: Connection, token: str, now: datetime, *, lock: bool = False) -> Row:
    survey = storage.survey_by_token_digest(conn, secret_digest(token), lock=lock)
    # Unknown and expired look the same: the link no longer leads anywhere.
    if survey is None or not domain.is_open(to_utc(survey.expires_at), now):
        raise NotFound("survey")
    return survey


def answer_survey(
    conn: Connection,
    token: str,
    score: int,
    comment: str | None,
    now: datetime,
    correlation_id: str,
) -> AfterCommit:
    survey = open_survey(conn, token, now, lock=True)
    if not storage.record_answer(conn, survey.id, score, comment, now):
        raise Conflict("This survey has its answer already.", code="already_answered")
    received = Event(
        type="feedback.received",
        data={
            "ticket_id": survey.ticket_id,
            "reference": survey.reference,
            "score": score,
            "comment": comment,
            "channel": survey.channel,
        },
        source="feedback",
        correlation_id=correlation_id,
    )
    add_events(conn, storage.outbox, [received])
    channel = survey.channel
    return [lambda: CSAT.labels(channel).observe(score)]


def csat_report(
    conn: Connection, group_by: str, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    return [
        {
            "group": row.group,
            "answers": row.answers,
            "average": round(float(row.average), 2) if row.average is not None else None,
            "satisfied_share": round(row.satisfied / row.answers, 4) if row.answers else None,
        }
        for row in storage.csat_groups(conn, group_by, since, until)
    ]


def contact_reasons_report(
    conn: Connection, group_by: str, since: datetime, until: datetime
) -> tuple[int, list[dict[str, Any]]]:
    current = storage.contact_counts(conn, group_by, since, until)
    previous = storage.contact_counts(conn, group_by, *domain.previous_period(since, until))
    return sum(current.values()), domain.contact_reasons(current, previous)
