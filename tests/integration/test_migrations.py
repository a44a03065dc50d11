"""Migrations that change what is stored, on a real database: the queue's contract step
0005 names the agent and ticket of every claim that the code from before 0004 stored."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from services.common.db import make_engine, migrate, transaction
from services.common.events import to_utc
from services.queue import storage
from tests.support import wait_until

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes, microseconds=minutes)


def _ticket(n: int, status: str) -> dict:
    return {
        "id": f"ticket-{n}", "reference": f"LKT-{n:06d}", "tracking_token_sha256": "0" * 64,
        "channel": "web", "category": "password_reset", "queue": "frontoffice",
        "priority": 3, "status": status, "subject": "Wachtwoord", "description": "-",
        "fields": {}, "requester": {"name": "Zoë"}, "created_at": T0,
        "contact_started_at": T0, "due_at": T0 + timedelta(hours=4),
        "resolution_due_at": T0 + timedelta(days=1), "transfer_count": 0,
        "needs_supervisor": False, "first_response_breached": False,
        "resolution_breached": False, "updated_at": T0,
    }  # fmt: skip


def _line(ticket: int, minutes: int, kind: str, status: str, actor: str | None) -> dict:
    return {"ticket_id": f"ticket-{ticket}", "at": _at(minutes), "kind": kind,
            "status": status, "actor": actor}  # fmt: skip


def _old_claim(minutes: int) -> dict:
    """A claim as the code from before 0004 stored it: its queue and time, nothing else."""
    return {"queue": "frontoffice", "at": _at(minutes)}


def test_the_contract_step_names_every_old_claims_agent_and_ticket_and_when_it_ended(
    databases, backend
):
    url = databases.url(backend, "queue", migrated=False)
    migrate("queue", url, revision="0004")  # the expand: old and new code ran on this
    engine = make_engine(url)
    try:
        with transaction(engine) as conn:
            conn.execute(insert(storage.tickets), [_ticket(1, "in_progress"),
                         _ticket(2, "resolved"), _ticket(3, "in_progress")])  # fmt: skip
            conn.execute(insert(storage.history), [
                _line(1, 1, "assigned", "in_progress", "agent-ann"),  # still working on it
                _line(2, 2, "assigned", "in_progress", "agent-bob"),
                _line(2, 3, "note", "in_progress", "agent-bob"),
                _line(2, 4, "status", "resolved", "agent-bob"),  # the work ended here
                _line(3, 5, "assigned", "in_progress", "agent-ann"),
                _line(3, 6, "released", "queued", "agent-ann"),
                _line(3, 7, "assigned", "in_progress", "agent-cem"),  # by the new code
            ])  # fmt: skip
            conn.execute(insert(storage.claims), [_old_claim(1), _old_claim(2), _old_claim(5)])
            conn.execute(insert(storage.claims), {"queue": "frontoffice", "at": _at(7),
                         "agent": "agent-cem", "ticket_id": "ticket-3"})  # fmt: skip
            conn.execute(insert(storage.claims), _old_claim(8))  # no line to match: dropped
        engine.dispose()

        migrate("queue", url)  # the contract, once no old code runs

        with transaction(engine) as conn:
            claims = storage.claims.c
            rows = conn.execute(
                select(claims.at, claims.agent, claims.ticket_id, claims.ended_at).order_by(
                    claims.at
                )
            ).all()
        ended = [(agent, ticket, to_utc(end) if end else None) for _, agent, ticket, end in rows]
        assert ended == [
            ("agent-ann", "ticket-1", None),
            ("agent-bob", "ticket-2", _at(4)),
            ("agent-ann", "ticket-3", _at(6)),
            ("agent-cem", "ticket-3", None),
        ]
        with pytest.raises(IntegrityError), transaction(engine) as conn:
            conn.execute(insert(storage.claims), _old_claim(9))  # why old code must be gone
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_an_expand_step_that_loses_a_deadlock_to_a_worker_is_tried_again(databases, backend):
    """0004 alters claims, then indexes tickets; a worker that wrote a ticket and then
    reads claims closes the circle. PostgreSQL rolls the migration back; it runs again."""
    url = databases.url(backend, "queue", migrated=False)
    migrate("queue", url, revision="0003")
    engine = make_engine(url)
    outcome: list[object] = []

    def expand() -> None:
        try:
            migrate("queue", url, revision="0004")
            outcome.append("migrated")
        except Exception as exc:  # the test reports it
            outcome.append(exc)

    try:
        with engine.connect() as worker:
            # The migration's own deadlock check comes first, so it is the one rolled back.
            worker.execute(text("SET deadlock_timeout = '10s'"))
            worker.execute(insert(storage.tickets), [_ticket(1, "queued")])
            migration = threading.Thread(target=expand)
            migration.start()
            wait_until(
                lambda: _waiting_on_a_lock(engine, "CREATE INDEX ix_tickets_queue_created"),
                timeout=30, what="the migration waiting for the worker's ticket",
            )  # fmt: skip
            worker.execute(text("SELECT count(*) FROM claims"))  # waits: the circle is closed
            worker.commit()
            migration.join(timeout=60)
        assert outcome == ["migrated"]
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT version_num FROM alembic_version")) == "0004"
    finally:
        engine.dispose()


def _waiting_on_a_lock(engine, statement: str) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND query LIKE :statement"
                ),
                {"statement": f"{statement}%"},
            )
        )
