"""The queue service's worker: consumes events, checks SLA targets, missed appointments and
whose turn at the counter nears, relays its outbox."""

from __future__ import annotations

from sqlalchemy import Engine

from services.common.config import Settings
from services.common.events import utcnow
from services.common.unit_of_work import unit_of_work
from services.common.worker import Timer, WorkerSpec, run_worker
from services.queue import handlers, service, storage
from services.queue.metrics import start_worker_series_at_zero

SLA_CHECK_SECONDS = 30


def spec(settings: Settings) -> WorkerSpec:
    desk = service.Desk.from_config(settings.desk)
    start_worker_series_at_zero(desk.queues)

    def check_sla(engine: Engine) -> None:
        with unit_of_work(engine, settings.service, storage.outbox) as unit:
            service.check_sla(unit, desk, utcnow())

    def check_appointments(engine: Engine) -> None:
        with unit_of_work(engine, settings.service, storage.outbox) as unit:
            service.check_missed_appointments(unit, desk, utcnow())
        with unit_of_work(engine, settings.service, storage.outbox) as unit:
            service.check_turns_near(unit, desk, utcnow())

    return WorkerSpec(
        outbox=storage.outbox,
        inbox=storage.inbox,
        handlers=handlers.handlers(settings),
        timers=[
            Timer("sla-check", SLA_CHECK_SECONDS, check_sla),
            Timer("appointment-check", SLA_CHECK_SECONDS, check_appointments),
        ],
    )


def main(settings: Settings) -> None:
    run_worker(settings, spec(settings))
