"""Notify's worker: turns events into deliveries, sends them, relays its outbox."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import Engine

from services.common.config import Settings
from services.common.worker import Timer, WorkerSpec, WorkSpec, run_worker
from services.notify import domain, handlers, sender, service, storage
from services.notify.metrics import start_series_at_zero
from services.notify.settings import notify_settings

# Reminders are for the day before: a minute late is on time.
REMINDER_CHECK_SECONDS = 60


def spec(settings: Settings) -> WorkerSpec:
    transports = sender.transports_for(settings)
    concurrency = notify_settings(settings).send_concurrency
    send_timeout = timedelta(seconds=notify_settings(settings).send_timeout_seconds)
    direct = sender.DirectSending(concurrency, wait_at_most=2 * send_timeout)
    notifier = dataclasses.replace(sender.notifier_for(settings, transports), direct=direct)
    start_series_at_zero(domain.MEDIA, (service.SENT, service.RETRIED, service.FAILED))

    def processor(engine: Engine) -> sender.AttemptProcessor:
        return direct.attach(sender.AttemptProcessor(engine, notifier, transports))

    return WorkerSpec(
        outbox=storage.outbox,
        inbox=storage.inbox,
        handlers=handlers.handlers(settings, notifier),
        # A third of a lease: an attempt whose process stopped is sent again soon after.
        timers=[
            Timer(
                "abandoned-attempts",
                notifier.lease.total_seconds() / 3,
                sender.requeue_abandoned,
            ),
            Timer(
                "appointment-reminders",
                REMINDER_CHECK_SECONDS,
                lambda engine: sender.send_reminders(engine, notifier),
            ),
        ],
        work=WorkSpec(
            queue=notifier.work,
            outbox=storage.attempts_outbox,
            processor=processor,
            concurrency=concurrency,
        ),
    )


def main(settings: Settings) -> None:
    run_worker(settings, spec(settings))
