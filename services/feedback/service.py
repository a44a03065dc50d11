"""Feedback's use cases as plain functions.

A use case that changes something works through the unit of work it is given; reports
only read, on a connection.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Row

from services.common.events import isoformat, to_utc
from services.common.failures import Conflict, Invalid, NotFound
from services.common.hashing import secret_digest
from services.common.unit_of_work import UnitOfWork
from services.common.vocabulary import language
from services.feedback import domain, storage
from services.feedback.metrics import CSAT


def record_contact(unit: UnitOfWork, data: Mapping[str, Any], rule: domain.SurgeRule) -> None:
    """Every contact is data, also one solved on the spot; a surge becomes a problem."""
    at = to_utc(data["created_at"])
    storage.record_contact(unit.conn, dict(data, created_at=at))
    detect_surge(unit, data["category"], data["ticket_id"], at, rule)


def detect_surge(
    unit: UnitOfWork, category: str, ticket_id: str, at: datetime, rule: domain.SurgeRule
) -> None:
    """The clock is the contact's own time, so a replayed day detects what it detected."""
    window_start = at - rule.window
    # Counted, not fetched: every contact of a surge looks at the whole window, and
    # fetching it made each contact cost more the larger the surge grew.
    in_window = storage.count_contacts_in(unit.conn, category, window_start, at)
    open_problem = storage.open_detected_problem(unit.conn, category)
    if open_problem is not None:
        # Later contacts of the same surge join the problem that is already open; once
        # the surge has passed, contacts are no longer assumed to be about it.
        if in_window >= rule.min_contacts:
            storage.link_tickets(unit.conn, open_problem.id, [ticket_id])
        return
    before = storage.count_contacts(unit.conn, category, window_start - rule.baseline, window_start)
    baseline = rule.hourly_baseline(before)
    if not rule.is_surge(in_window, baseline):
        return
    ticket_ids = storage.contacts_in(unit.conn, category, window_start, at)
    problem_id = str(uuid.uuid4())
    storage.add_problem(
        unit.conn,
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
    storage.link_tickets(unit.conn, problem_id, ticket_ids)
    data = {
        "problem_id": problem_id,
        "category": category,
        "window_start": isoformat(window_start),
        "window_end": isoformat(at),
        "count": len(ticket_ids),
        "baseline": round(baseline, 3),
        "ticket_ids": sorted(ticket_ids),
    }
    unit.emit("problem.detected", data)


def open_problem(
    unit: UnitOfWork,
    title: str,
    description: str | None,
    category: str | None,
    ticket_ids: list[str],
    by: str,
    now: datetime,
) -> str:
    problem_id = str(uuid.uuid4())
    storage.add_problem(
        unit.conn,
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
    link(unit, problem_id, ticket_ids)
    return problem_id


def link(unit: UnitOfWork, problem_id: str, ticket_ids: list[str]) -> None:
    problem = storage.problem_by_id(unit.conn, problem_id, lock=True)
    if problem is None:
        raise NotFound("problem")
    if problem.status != "open":
        raise Conflict("A resolved problem takes no more tickets.")
    unknown = sorted(set(ticket_ids) - storage.known_contacts(unit.conn, ticket_ids))
    if unknown:
        raise Invalid("ticket_ids", [f"Unknown ticket {t}." for t in unknown])
    storage.link_tickets(unit.conn, problem_id, ticket_ids)


def resolve_problem(unit: UnitOfWork, problem_id: str, resolution: str, now: datetime) -> None:
    """Every linked ticket is resolved by the queue, and every customer hears it."""
    problem = storage.problem_by_id(unit.conn, problem_id, lock=True)
    if problem is None:
        raise NotFound("problem")
    if problem.status != "open":
        raise Conflict("The problem is resolved already.")
    storage.resolve_problem(unit.conn, problem_id, resolution, now)
    unit.emit(
        "problem.resolved",
        {
            "problem_id": problem_id,
            "resolution": resolution,
            "ticket_ids": storage.linked_tickets(unit.conn, problem_id),
        },
    )


def request_survey(unit: UnitOfWork, data: Mapping[str, Any], now: datetime) -> None:
    """One survey per resolution; notify sends the invitation (`survey.requested`)."""
    resolved_at = to_utc(data["resolved_at"])
    if storage.survey_exists(unit.conn, data["ticket_id"], resolved_at):
        return
    token = domain.new_survey_token()
    requester = data["requester"]
    addressed_in = language(requester.get("language"))
    storage.add_survey(
        unit.conn,
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
    unit.emit(
        "survey.requested",
        {
            "survey_token": token,
            "ticket_id": data["ticket_id"],
            "reference": data["reference"],
            "requester": requester,
            "language": addressed_in,
        },
    )


def open_survey(conn: Connection, token: str, now: datetime, *, lock: bool = False) -> Row:
    survey = storage.survey_by_token_digest(conn, secret_digest(token), lock=lock)
    # Unknown and expired look the same: the link no longer leads anywhere.
    if survey is None or not domain.is_open(to_utc(survey.expires_at), now):
        raise NotFound("survey")
    return survey


def answer_survey(
    unit: UnitOfWork, token: str, score: int, comment: str | None, now: datetime
) -> None:
    survey = open_survey(unit.conn, token, now, lock=True)
    if not storage.record_answer(unit.conn, survey.id, score, comment, now):
        raise Conflict("This survey has its answer already.", code="already_answered")
    unit.emit(
        "feedback.received",
        {
            "ticket_id": survey.ticket_id,
            "reference": survey.reference,
            "score": score,
            "comment": comment,
            "channel": survey.channel,
        },
    )
    channel = survey.channel
    unit.after_commit(lambda: CSAT.labels(channel).observe(score))


def csat_report(
    conn: Connection, group_by: str, since: datetime, until: datetime, zone: tzinfo
) -> list[dict[str, Any]]:
    """Satisfaction per channel, queue or agent; per day (in the desk's zone) for the
    trend."""
    if group_by == "day":
        rows = storage.csat_answers(conn, since, until)
        return domain.csat_by_day([(to_utc(r.answered_at), r.score) for r in rows], zone)
    return [
        domain.csat_group(row.group, row.answers, row.average, row.satisfied)
        for row in storage.csat_groups(conn, group_by, since, until)
    ]


def contact_reasons_report(
    conn: Connection, group_by: str, since: datetime, until: datetime
) -> tuple[int, list[dict[str, Any]]]:
    current = storage.contact_counts(conn, group_by, since, until)
    previous = storage.contact_counts(conn, group_by, *domain.previous_period(since, until))
    return sum(current.values()), domain.contact_reasons(current, previous)
