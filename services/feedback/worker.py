"""Feedback's worker: records contacts, relays its outbox."""

from __future__ import annotations

from services.common.config import Settings
from services.common.worker import WorkerSpec, run_worker
from services.feedback import handlers, storage


def spec(settings: Settings) -> WorkerSpec:
    return WorkerSpec(
        outbox=storage.outbox,
        inbox=storage.inbox,
        handlers=handlers.handlers(settings),
        seals_secrets=True,
    )


def main(settings: Settings) -> None:
    run_worker(settings, spec(settings))
