"""The idempotent consumer of a service's queue.

One thread owns the pika connection and does nothing but I/O (so heartbeats always flow);
handlers run in a worker thread and hand their ack back with `add_callback_threadsafe`,
as pika's threaded-acks example does.

Per message:
- unusable (not JSON, bad envelope, unknown type or version, data a handler rejects):
  rejected without requeue, so the queue dead-letters it to `loket.<service>.dead`;
- already in the inbox: acknowledged, nothing changes;
- otherwise the handler runs and the event id enters the inbox in one transaction, and
  the message is acknowledged only after that commit;
- the database unreachable: retried in place with backoff (not counted as a delivery);
- any other failure: requeued, and after the queue's delivery limit dead-lettered.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from enum import Enum
from typing import Protocol, TypeVar

import pika
from marshmallow import ValidationError
from pika.adapters.blocking_connection import BlockingChannel
from sqlalchemy import Connection, Engine, Table, insert
from sqlalchemy.exc import IntegrityError, OperationalError

from services.common import broker
from services.common.db import transaction
from services.common.events import Event, parse_event, utcnow
from services.common.metrics import EVENTS_CONSUMED

log = logging.getLogger(__name__)

# A handler may return what must happen only after its transaction committed (metrics).
Handler = Callable[[Connection, Event], Iterable[Callable[[], None]] | None]
Handlers = Mapping[tuple[str, int], Handler]
T = TypeVar("T")


class Outcome(Enum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead_lettered"
    REQUEUED = "requeued"
    STOPPED = "stopped"


class StoppedWaiting(Exception):
    """The process is stopping while the database is still away."""


def while_database_is_down(work: Callable[[], T], stop: threading.Event | None) -> T:
    """Run `work`, again and again with backoff while the database is unreachable.

    An unreachable database is nobody's fault in the message: retried in place, it is not
    counted against the delivery limit.
    """
    delays = broker.backoff_delays(initial=0.5, cap=10.0)
    while True:
        try:
            return work()
        except OperationalError as exc:
            log.warning("consumer: database unavailable (%s); retrying", exc.orig)
            if stop is not None and stop.wait(next(delays)):
                raise StoppedWaiting from None


class Processor(Protocol):
    """Turns one message body into an outcome."""

    service: str

    def process(self, body: bytes, stop: threading.Event | None = None) -> Outcome: ...


class EventProcessor:
    """Turns one message body into an outcome; knows nothing about the broker."""

    def __init__(self, *, service: str, engine: Engine, inbox: Table, handlers: Handlers) -> None:
        self.service = service
        self.engine = engine
        self.inbox = inbox
        self.handlers = dict(handlers)
        self.known_types = {event_type for event_type, _ in self.handlers}

    def process(self, body: bytes, stop: threading.Event | None = None) -> Outcome:
        try:
            event = parse_event(body)
        except ValidationError as exc:
            log.warning("consumer: dead-lettering an invalid envelope: %s", exc.messages)
            return self._count("invalid", Outcome.DEAD_LETTERED)
        label = event.type if event.type in self.known_types else "unknown"
        handler = self.handlers.get((event.type, event.version))
        if handler is None:
            log.warning(
                "consumer: dead-lettering event %s: no handler for %s v%s",
                event.id,
                label,
                event.version,
            )
            return self._count(label, Outcome.DEAD_LETTERED)

        try:
            outcome = while_database_is_down(lambda: self._apply(handler, event), stop)
        except StoppedWaiting:
            return Outcome.STOPPED
        except ValidationError as exc:
            log.warning(
                "consumer: dead-lettering event %s (%s): invalid data %s",
                event.id,
                event.type,
                exc.messages,
            )
            outcome = Outcome.DEAD_LETTERED
        except Exception:
            log.exception("consumer: handler failed on event %s (%s)", event.id, event.type)
            outcome = Outcome.REQUEUED
        return self._count(label, outcome)

    def _apply(self, handler: Handler, event: Event) -> Outcome:
        after_commit: Iterable[Callable[[], None]] | None = None
        try:
            with transaction(self.engine) as conn:
                # The inbox row goes first: a competing consumer with the same event
                # waits on it and then fails the unique key instead of doing the work twice.
                conn.execute(
                    insert(self.inbox).values(
                        event_id=event.id, type=event.type, processed_at=utcnow()
                    )
                )
                after_commit = handler(conn, event)
        except IntegrityError:
            if self._seen(event.id):
                return Outcome.DUPLICATE
            raise
        for action in after_commit or ():
            action()
        return Outcome.PROCESSED

    def _seen(self, event_id: str) -> bool:
        with transaction(self.engine) as conn:
            found = conn.execute(
                self.inbox.select().where(self.inbox.c.event_id == event_id)
            ).first()
        return found is not None

    def _count(self, label: str, outcome: Outcome) -> Outcome:
        EVENTS_CONSUMED.labels(self.service, label, outcome.value).inc()
        return outcome


class Consumer:
    """Consumes the service's event queue, or (with `work`) one of its own work queues.

    With `concurrency` above one, messages are handled in parallel (sends that wait on a
    slow receiver); their acknowledgements may then come in any order.
    """

    def __init__(
        self,
        *,
        processor: Processor,
        amqp_url: str,
        namespace: str,
        delivery_limit: int,
        prefetch: int = 20,
        work: broker.WorkQueue | None = None,
        concurrency: int = 1,
    ) -> None:
        self.processor = processor
        self.amqp_url = amqp_url
        self.namespace = namespace
        self.delivery_limit = delivery_limit
        self.concurrency = concurrency
        self.prefetch = max(prefetch, 2 * concurrency)
        self.work = work
        if work is None:
            self.queue = broker.queue_name(namespace, processor.service)
            self.name = f"{processor.service}-consumer"
        else:
            self.queue = work.queue(namespace)
            self.name = f"{processor.service}-{work.purpose}"

    def _declare(self, channel: BlockingChannel) -> None:
        if self.work is None:
            broker.declare_topology(channel, self.namespace, self.delivery_limit)
        else:
            self.work.declare(channel, self.namespace, self.delivery_limit)

    def run(self, stop: threading.Event) -> None:
        delays = broker.backoff_delays()
        while not stop.is_set():
            try:
                connection = broker.connect(self.amqp_url, self.name)
            except broker.CONNECTION_ERRORS as exc:
                log.warning("consumer: broker unreachable (%s); retrying", type(exc).__name__)
                broker.wait(stop, next(delays))
                continue
            executor = ThreadPoolExecutor(
                max_workers=self.concurrency, thread_name_prefix=f"{self.name}-handler"
            )
            try:
                self._consume(connection, executor, stop)
                delays = broker.backoff_delays()
            except broker.CONNECTION_ERRORS as exc:
                log.warning("consumer: lost the broker (%s); reconnecting", type(exc).__name__)
                broker.wait(stop, next(delays))
            except Exception:
                log.exception("consumer: unexpected error; reconnecting")
                broker.wait(stop, next(delays))
            finally:
                # Unacknowledged deliveries return to the queue when the channel closes;
                # the inbox makes their redelivery harmless.
                executor.shutdown(wait=True, cancel_futures=True)
                if connection.is_open:
                    with contextlib.suppress(*broker.CONNECTION_ERRORS):
                        connection.close()

    def _consume(
        self,
        connection: pika.BlockingConnection,
        executor: ThreadPoolExecutor,
        stop: threading.Event,
    ) -> None:
        channel = connection.channel()
        self._declare(channel)
        channel.basic_qos(prefetch_count=self.prefetch)
        pending = [0]  # touched only in this I/O thread (settle arrives as a callback)

        def settle(delivery_tag: int, outcome: Outcome) -> None:
            pending[0] -= 1
            if outcome is Outcome.STOPPED or not channel.is_open:
                return
            if outcome in (Outcome.PROCESSED, Outcome.DUPLICATE):
                channel.basic_ack(delivery_tag)
            elif outcome is Outcome.DEAD_LETTERED:
                channel.basic_reject(delivery_tag, requeue=False)
            else:
                channel.basic_nack(delivery_tag, requeue=True)

        def work(delivery_tag: int, body: bytes) -> None:
            outcome = self.processor.process(body, stop)
            connection.add_callback_threadsafe(functools.partial(settle, delivery_tag, outcome))

        def on_message(_ch: object, method: object, _props: object, body: bytes) -> None:
            pending[0] += 1
            executor.submit(work, method.delivery_tag, body)

        tag = channel.basic_consume(self.queue, on_message)
        log.info("consumer: consuming %s", self.queue)
        while not stop.is_set():
            connection.process_data_events(time_limit=0.5)
        channel.basic_cancel(tag)
        # Let the handler finish what it holds and send its acks before closing.
        deadline = 100
        while pending[0] > 0 and deadline > 0:
            connection.process_data_events(time_limit=0.1)
            deadline -= 1
