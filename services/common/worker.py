"""A service's worker process: outbox relay, event consumer and timers, each a thread.

Each thread that talks to the broker makes its own connection (pika connections are not
thread-safe). SIGTERM or SIGINT stops all of them; unacknowledged messages return to the
queue and the inbox makes their redelivery harmless.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import FrameType
from typing import Any

from pika.adapters.blocking_connection import BlockingChannel
from prometheus_client import start_http_server
from sqlalchemy import Engine, Table

from services.common.broker import WorkQueue
from services.common.config import Settings
from services.common.consumer import Consumer, EventProcessor, Handlers, Processor
from services.common.db import make_engine, transaction
from services.common.outbox import OutboxRelay, purge_sent
from services.common.secret_box import service_box

log = logging.getLogger(__name__)

# Sent events stay a week: enough to answer "was it published?" when a consumer doubts it.
SENT_EVENTS_KEPT = timedelta(days=7)
# Events that wait are handled in one transaction, at most this many (the prefetch).
EVENT_BATCH_SIZE = 20


@dataclass(frozen=True)
class Timer:
    """A periodic task, such as an SLA check; it gets the conn factory."""

    name: str
    interval_seconds: float
    run: Callable[[Engine], None]


@dataclass(frozen=True)
class WorkSpec:
    """A service's own job queue: jobs staged in `outbox`, handled by a processor."""

    queue: WorkQueue
    outbox: Table
    processor: Callable[[Engine], Processor]
    concurrency: int = 1


@dataclass
class WorkerSpec:
    outbox: Table
    inbox: Table | None = None
    handlers: Handlers = field(default_factory=dict)
    timers: list[Timer] = field(default_factory=list)
    work: WorkSpec | None = None
    # The service publishes tokens (services/common/outbox.py, SECRET_FIELDS): its sent
    # rows keep them sealed under its key.
    seals_secrets: bool = False


def _run_timer(timer: Timer, engine: Engine, stop: threading.Event) -> None:
    while not stop.wait(timer.interval_seconds):
        try:
            timer.run(engine)
        except Exception:
            log.exception(
                "timer %s failed; it runs again in %ss", timer.name, timer.interval_seconds
            )


def _purge_outbox(engine: Engine, outbox: Table) -> None:
    with transaction(engine) as conn:
        purged = purge_sent(conn, outbox, older_than=SENT_EVENTS_KEPT)
    if purged:
        log.info("outbox: purged %s sent events", purged)


def _relay(settings: Settings, engine: Engine, outbox: Table, **options: Any) -> OutboxRelay:
    return OutboxRelay(
        service=settings.service,
        engine=engine,
        outbox=outbox,
        amqp_url=settings.amqp_url,
        namespace=settings.namespace,
        delivery_limit=settings.delivery_limit,
        **options,
    )


def _work_threads(
    settings: Settings, engine: Engine, work: WorkSpec, stop: threading.Event
) -> list[threading.Thread]:
    def declare(channel: BlockingChannel) -> None:
        work.queue.declare(channel, settings.namespace, settings.delivery_limit)

    relay = _relay(
        settings,
        engine,
        work.outbox,
        exchange=work.queue.exchange(settings.namespace),
        declare=declare,
        counted=False,
    )
    consumer = Consumer(
        processor=work.processor(engine),
        amqp_url=settings.amqp_url,
        namespace=settings.namespace,
        delivery_limit=settings.delivery_limit,
        work=work.queue,
        concurrency=work.concurrency,
    )
    purpose = work.queue.purpose
    return [
        threading.Thread(target=relay.run, args=(stop,), name=f"{purpose}-relay"),
        threading.Thread(target=consumer.run, args=(stop,), name=f"{purpose}-consumer"),
    ]


def run_worker(settings: Settings, spec: WorkerSpec, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    engine = make_engine(settings.database_url)
    if settings.worker_metrics_port:
        # The same address as the web processes: loopback unless the operator opens it
        # (the image sets LOKET_HTTP_HOST=0.0.0.0 for Prometheus in another container).
        start_http_server(settings.worker_metrics_port, addr=settings.http_host)

    box = service_box(settings) if spec.seals_secrets else None
    relay = _relay(settings, engine, spec.outbox, box=box)
    threads = [threading.Thread(target=relay.run, args=(stop,), name="relay")]
    if spec.handlers:
        if spec.inbox is None:
            raise ValueError("a consuming worker needs an inbox table")
        processor = EventProcessor(
            service=settings.service,
            engine=engine,
            inbox=spec.inbox,
            outbox=spec.outbox,
            handlers=spec.handlers,
        )
        consumer = Consumer(
            processor=processor,
            amqp_url=settings.amqp_url,
            namespace=settings.namespace,
            delivery_limit=settings.delivery_limit,
            batch_size=EVENT_BATCH_SIZE,
        )
        threads.append(threading.Thread(target=consumer.run, args=(stop,), name="consumer"))
    purges = [Timer("outbox-purge", 3600, lambda e: _purge_outbox(e, spec.outbox))]
    if spec.work is not None:
        threads.extend(_work_threads(settings, engine, spec.work, stop))
        purges.append(Timer("work-purge", 3600, lambda e: _purge_outbox(e, spec.work.outbox)))
    for timer in [*spec.timers, *purges]:
        threads.append(
            threading.Thread(target=_run_timer, args=(timer, engine, stop), name=timer.name)
        )

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("worker: %s received, stopping", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    for thread in threads:
        thread.start()
    log.info("worker: started %s", ", ".join(t.name for t in threads))
    stop.wait()
    for thread in threads:
        thread.join(timeout=30)
    engine.dispose()
    log.info("worker: stopped")
