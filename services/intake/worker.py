"""Intake's worker: relays its outbox, keeps the queue's status changes (handlers.py) and
forgets old idempotency keys (their answers hold tracking tokens, which must not stay)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from services.common.config import Settings
from services.common.db import transaction
from services.common.events import utcnow
from services.common.worker import Timer, WorkerSpec, run_worker
from services.intake import handlers, storage

IDEMPOTENCY_KEYS_KEPT = timedelta(hours=24)


def forget_old_answers(engine: Engine) -> None:
    with transaction(engine) as conn:
        storage.forget_answers_before(conn, utcnow() - IDEMPOTENCY_KEYS_KEPT)


def spec(settings: Settings) -> WorkerSpec:
    return WorkerSpec(
        outbox=storage.outbox,
        inbox=storage.inbox,
        handlers=handlers.handlers(settings),
        timers=[Timer("idempotency-purge", 600, forget_old_answers)],
        seals_secrets=True,
    )


def main(settings: Settings) -> None:
    run_worker(settings, spec(settings))
