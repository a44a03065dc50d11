"""Notify's worker.

Until customer messages and webhooks exist it does not consume: the events it will send
about wait, durable, in its queue `loket.notify` rather than being dropped.
"""

from __future__ import annotations

from services.common.config import Settings
from services.common.worker import WorkerSpec, run_worker
from services.notify import storage


def main(settings: Settings) -> None:
    run_worker(settings, WorkerSpec(outbox=storage.outbox))
