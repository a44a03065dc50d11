"""Feedback's use cases as plain functions on one open transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Row

from services.common.events import Event, to_utc
from services.common.hashing import secret_digest
from services.common.outbox import add_events
from services.feedback import domain, storage
from services.feedback.metrics import CSAT

AfterCommit = list[Callable[[], None]]


class NotFound(Exception):
    pass


class AlreadyAnswered(Exception):
    pass


def record_contact(conn: Connection, data: Mapping[str, Any]) -> None:
    """Every contact is data, also one solved on the spot."""
    storage.record_contact(conn, dict(data, created_at=to_utc(data["created_at"])))


def request_survey(conn: Connection, data: Mapping[str, Any], now: datetime, cause: Event) -> None:
    """One survey per resolution; notify sends the invitation (`survey.requested`)."""
    resolved_at = to_utc(data["resolved_at"])
    if storage.survey_exists(conn, data["ticket_id"], resolved_at):
        return
    token = domain.new_survey_token()
    requester = data["requester"]
    language = requester.get("language") if requester.get("language") in ("nl", "en") else "nl"
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
            "language": language,
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
            "language": language,
        },
        source="feedback",
    )
    add_events(conn, storage.outbox, [requested])


def open_survey(conn: Connection, token: str, now: datetime, *, lock: bool = False) -> Row:
    survey = storage.survey_by_token_digest(conn, secret_digest(token), lock=lock)
    # Unknown and expired look the same: the link no longer leads anywhere.
    if survey is None or not domain.is_open(to_utc(survey.expires_at), now):
        raise NotFound
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
        raise AlreadyAnswered
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
