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

Under load the messages that arrived while a batch was being handled are handled together
in one transaction (decision 0014): one begin and one commit instead of one each, and the
batch's inbox rows in one statement. If anything in the batch fails, the transaction
rolls back and each of its messages is handled alone, as above, so one bad message costs
its batch neighbours only time. Handlers change nothing outside the transaction (metrics
wait for the commit of their unit of work), so running one twice this way is harmless.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from enum import Enum
from typing import NamedTuple, Protocol, TypeVar

import pika
from marshmallow import ValidationError
from pika.adapters.blocking_connection import BlockingChannel
from sqlalchemy import Engine, Table, insert
from sqlalchemy.exc import IntegrityError, OperationalError

from services.common import broker
from services.common.db import transaction
from services.common.events import Event, parse_event, utcnow
from services.common.metrics import EVENTS_CONSUMED
from services.common.unit_of_work import UnitOfWork, unit_of_work

log = logging.getLogger(__name__)

# A handler works through the unit of work the consumer opened for its event.
Handler = Callable[[UnitOfWork, Event], None]
Handlers = Mapping[tuple[str, int], Handler]
T = TypeVar("T")


class Outcome(Enum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead_lettered"
    REQUEUED = "requeued"
    STOPPED = "stopped"


class Usable(NamedTuple):
    event: Event
    handler: Handler
    label: str  # the metric label: the type if this service handles it, else "unknown"


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
    """Turns message bodies into outcomes, one per body, in order."""

    service: str

    def process_batch(
        self, bodies: Sequence[bytes], stop: threading.Event | None = None
    ) -> list[Outcome]: ...

    def close(self) -> None:
        """Lets go of what it keeps open between messages; called when consuming stops."""


class EventProcessor:
    """Turns one message body into an outcome; knows nothing about the broker."""

    def __init__(
        self, *, service: str, engine: Engine, inbox: Table, outbox: Table, handlers: Handlers
    ) -> None:
        self.service = service
        self.engine = engine
        self.inbox = inbox
        self.outbox = outbox
        self.handlers = dict(handlers)
        self.known_types = {event_type for event_type, _ in self.handlers}
        # Built once: SQLAlchemy keeps a statement's cache key, and building and keying
        # one per event cost more than running it (docs/performance.md).
        self._record = insert(inbox)

    def process(self, body: bytes, stop: threading.Event | None = None) -> Outcome:
        usable = self._usable(body)
        return usable if isinstance(usable, Outcome) else self._handle_alone(usable, stop)

    def process_batch(
        self, bodies: Sequence[bytes], stop: threading.Event | None = None
    ) -> list[Outcome]:
        prepared = [self._usable(body) for body in bodies]
        together = [usable for usable in prepared if isinstance(usable, Usable)]
        if len(together) > 1:
            try:
                while_database_is_down(lambda: self._apply_together(together), stop)
            except StoppedWaiting:
                return [Outcome.STOPPED if isinstance(p, Usable) else p for p in prepared]
            except Exception as exc:
                # A duplicate, a poison message or a failing handler: each on its own finds
                # out which, and the others go through.
                log.info(
                    "consumer: a batch of %s events failed together (%s); one by one now",
                    len(together),
                    type(exc).__name__,
                )
            else:
                return [
                    self._count(p.label, Outcome.PROCESSED) if isinstance(p, Usable) else p
                    for p in prepared
                ]
        return [self._handle_alone(p, stop) if isinstance(p, Usable) else p for p in prepared]

    def close(self) -> None:
        """Keeps nothing open: the engine belongs to the worker."""

    def _usable(self, body: bytes) -> Usable | Outcome:
        """The event and its handler, or the dead-lettering of a message nobody can use."""
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
        return Usable(event, handler, label)

    def _handle_alone(self, usable: Usable, stop: threading.Event | None) -> Outcome:
        event = usable.event
        try:
            outcome = while_database_is_down(lambda: self._apply(usable.handler, event), stop)
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
        return self._count(usable.label, outcome)

    def _apply(self, handler: Handler, event: Event) -> Outcome:
        try:
            with unit_of_work(self.engine, self.service, self.outbox, event=event) as unit:
                # The inbox row goes first: a competing consumer with the same event
                # waits on it and then fails the unique key instead of doing the work twice.
                unit.conn.execute(
                    self._record,
                    {"event_id": event.id, "type": event.type, "processed_at": utcnow()},
                )
                handler(unit, event)
        except IntegrityError:
            if self._seen(event.id):
                return Outcome.DUPLICATE
            raise
        return Outcome.PROCESSED

    def _apply_together(self, batch: list[Usable]) -> None:
        with unit_of_work(self.engine, self.service, self.outbox) as unit:
            now = utcnow()
            rows = [
                {"event_id": u.event.id, "type": u.event.type, "processed_at": now} for u in batch
            ]
            unit.conn.execute(self._record, rows)
            for usable in batch:
                usable.handler(unit.following(usable.event), usable.event)

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

    Messages that wait while the handlers are busy go to the processor together, up to
    `batch_size` at a time. With `concurrency` above one, batches are handled in parallel
    (sends that wait on a slow receiver); their acknowledgements may then come in any order.
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
        batch_size: int = 1,
    ) -> None:
        self.processor = processor
        self.amqp_url = amqp_url
        self.namespace = namespace
        self.delivery_limit = delivery_limit
        self.concurrency = concurrency
        self.prefetch = max(prefetch, 2 * concurrency)
        self.batch_size = batch_size
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
        broker.stay_connected(
            self.amqp_url,
            self.name,
            stop,
            lambda connection, connected: self._consume(connection, connected, stop),
        )
        self.processor.close()

    def _consume(
        self,
        connection: pika.BlockingConnection,
        connected: Callable[[], None],
        stop: threading.Event,
    ) -> None:
        executor = ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix=f"{self.name}-handler"
        )
        try:
            self._dispatch(connection, executor, connected, stop)
        finally:
            # Unacknowledged deliveries return to the queue when the channel closes; the
            # inbox makes their redelivery harmless.
            executor.shutdown(wait=True, cancel_futures=True)

    def _dispatch(
        self,
        connection: pika.BlockingConnection,
        executor: ThreadPoolExecutor,
        connected: Callable[[], None],
        stop: threading.Event,
    ) -> None:
        channel = connection.channel()
        self._declare(channel)
        channel.basic_qos(prefetch_count=self.prefetch)
        # Touched only in this I/O thread: a finished batch comes back as a callback.
        waiting: deque[tuple[int, bytes]] = deque()
        idle = [self.concurrency]

        def dispatch() -> None:
            while idle[0] and waiting:
                count = min(self.batch_size, len(waiting))
                batch = [waiting.popleft() for _ in range(count)]
                idle[0] -= 1
                executor.submit(work, batch)

        def settle(batch: list[tuple[int, bytes]], outcomes: list[Outcome]) -> None:
            idle[0] += 1
            for (delivery_tag, _), outcome in zip(batch, outcomes, strict=True):
                if outcome is Outcome.STOPPED or not channel.is_open:
                    continue
                if outcome in (Outcome.PROCESSED, Outcome.DUPLICATE):
                    channel.basic_ack(delivery_tag)
                elif outcome is Outcome.DEAD_LETTERED:
                    channel.basic_reject(delivery_tag, requeue=False)
                else:
                    channel.basic_nack(delivery_tag, requeue=True)
            if not stop.is_set():
                dispatch()

        def work(batch: list[tuple[int, bytes]]) -> None:
            try:
                outcomes = self.processor.process_batch([body for _, body in batch], stop)
            except Exception:
                log.exception("consumer: processor failed; requeueing %s messages", len(batch))
                outcomes = [Outcome.REQUEUED] * len(batch)
            connection.add_callback_threadsafe(functools.partial(settle, batch, outcomes))

        def on_message(_ch: object, method: object, _props: object, body: bytes) -> None:
            waiting.append((method.delivery_tag, body))
            dispatch()

        tag = channel.basic_consume(self.queue, on_message)
        connected()
        log.info("consumer: consuming %s", self.queue)
        while not stop.is_set():
            connection.process_data_events(time_limit=0.5)
        channel.basic_cancel(tag)
        # Let the handlers finish what they hold and send their acks before closing; what
        # still waits returns to the queue when the channel closes.
        deadline = 100
        while idle[0] < self.concurrency and deadline > 0:
            connection.process_data_events(time_limit=0.1)
            deadline -= 1
