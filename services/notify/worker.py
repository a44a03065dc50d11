"""Notify's worker: turns events into deliveries, sends them, relays its outbox."""

from __future__ import annotations

from services.common.config import Settings
from services.common.worker import WorkerSpec, WorkSpec, run_worker
from services.notify import domain, handlers, sender, service, storage
from services.notify.metrics import start_series_at_zero
from services.notify.settings import notify_settings


def spec(settings: Settings) -> WorkerSpec:
    transports = sender.transports_for(settings)
    notifier = sender.notifier_for(settings, transports)
    start_series_at_zero(domain.MEDIA, (service.SENT, service.RETRIED, service.FAILED))
    return WorkerSpec(
        outbox=storage.outbox,
        inbox=storage.inbox,
        handlers=handlers.handlers(settings, notifier),
        work=WorkSpec(
            queue=notifier.work,
            outbox=storage.attempts_outbox,
            processor=lambda engine: sender.AttemptProcessor(engine, notifier, transports),
            concurrency=notify_settings(settings).send_concurrency,
        ),
    )


def main(settings: Settings) -> None:
    run_worker(settings, spec(settings))
