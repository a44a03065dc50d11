"""Intake's worker: intake consumes nothing; it relays its outbox."""

from __future__ import annotations

from services.common.config import Settings
from services.common.worker import WorkerSpec, run_worker
from services.intake import storage


def main(settings: Settings) -> None:
    run_worker(settings, WorkerSpec(outbox=storage.outbox))
