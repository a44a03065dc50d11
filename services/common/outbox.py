"""Transactional outbox and inbox, and the relay that empties the outbox.

A state change and its events commit in one transaction (`add_events`). The relay
publishes unsent rows with publisher confirms and marks them sent only after the confirm;
on PostgreSQL `FOR UPDATE SKIP LOCKED` keeps two relays off the same rows, on SQLite the
immediate transaction does. A row may be published twice (confirm received, commit lost):
consumers are idempotent through the inbox.

On PostgreSQL a transaction that stages events also sends a NOTIFY (delivered only if it
commits), so an idle relay sleeps on LISTEN instead of asking the table twenty times a
second; on SQLite, or while its listening connection is lost, the relay polls.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    func,
    insert,
    select,
    update,
)

from services.common import broker
from services.common.db import BigId, transaction
from services.common.events import Event, utcnow
from services.common.metrics import EVENTS_PUBLISHED
from services.common.secret_box import SecretBox

log = logging.getLogger(__name__)
# How long the relay waits for the broker's confirms of one batch before it gives up on
# the connection (docs/reliability.md: a broker that never confirms a publish).
CONFIRM_SECONDS = 15.0


# Event fields that open something (a request's status page and reply address, a survey).
# They travel in the clear to the consumers that need them; once published, the row keeps
# them sealed, so a copy of the database holds none, and a replay after a restore (which
# publishes sent rows again) opens them with the service's key.
SECRET_FIELDS = ("tracking_token", "reply_token", "survey_token")
SEALED_SUFFIX = "_sealed"


def sealed_body(body: str, box: SecretBox) -> str | None:
    """The event with its secret fields sealed, or None when it has none."""
    if '_token"' not in body:
        return None
    event = json.loads(body)
    data = event.get("data") or {}
    secret = [name for name in SECRET_FIELDS if isinstance(data.get(name), str)]
    if not secret:
        return None
    for name in secret:
        data[name + SEALED_SUFFIX] = box.seal(data.pop(name))
    return json.dumps(event, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def opened_body(body: str, box: SecretBox | None) -> str:
    """The event as it was staged; raises ValueError when sealed under another key."""
    if SEALED_SUFFIX + '"' not in body:
        return body
    if box is None:
        raise ValueError("sealed fields and no key to open them")
    event = json.loads(body)
    data = event["data"]
    for name in SECRET_FIELDS:
        sealed = data.pop(name + SEALED_SUFFIX, None)
        if sealed is not None:
            data[name] = box.open(sealed)
    return json.dumps(event, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


class ConfirmOverdue(pika.exceptions.AMQPConnectionError):
    """The broker took a publish but its confirm did not come in time."""


@contextlib.contextmanager
def confirm_deadline(connection: pika.BlockingConnection, seconds: float) -> Iterator[None]:
    """pika's blocking publish waits for its confirm without end, holding the batch's
    rows locked. Past `seconds` the wait ends in ConfirmOverdue: the transaction rolls
    back, the rows are free for any relay, and this one reconnects (consumers drop what
    they already had)."""
    ioloop = connection._impl.ioloop  # no public way to bound a blocking publish's wait

    def overdue() -> None:
        raise ConfirmOverdue(f"no confirm within {seconds:g} s")

    timer = ioloop.call_later(seconds, overdue)
    try:
        yield
    finally:
        ioloop.remove_timeout(timer)


def outbox_table(metadata: MetaData, name: str = "outbox") -> Table:
    """`type` is the routing key: the event type on the events exchange."""
    return Table(
        name,
        metadata,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("type", String(64), nullable=False),
        Column("body", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("available_at", DateTime(timezone=True), nullable=False),
        Column("sent_at", DateTime(timezone=True), nullable=True, index=True),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text, nullable=True),
    )


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("event_id", String(36), primary_key=True),
        Column("type", String(64), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )


def add_events(
    conn: Connection, outbox: Table, events: Iterable[Event], routing_key: str | None = None
) -> None:
    """Stage events in the caller's transaction; they leave only if it commits.

    They are routed by their type unless a `routing_key` says otherwise (a service's own
    work queue, where the key picks the delay).
    """
    now = utcnow()
    rows = [
        {
            "event_id": e.id,
            "type": routing_key or e.type,
            "body": e.to_json(),
            "created_at": now,
            "available_at": now,
            "attempts": 0,
        }
        for e in events
    ]
    if rows:
        conn.execute(_staging(outbox), rows)
        if conn.dialect.name == "postgresql":
            _notify_once(conn, wakeup_channel(outbox))


# Statements on the path of every event are built once: SQLAlchemy keeps a statement's
# cache key, and building and keying one per call cost more than running it
# (docs/performance.md).
@functools.cache
def _staging(outbox: Table) -> Any:
    return insert(outbox)


_NOTIFY = select(func.pg_notify(bindparam("channel"), ""))


def wakeup_channel(outbox: Table) -> str:
    return f"loket_{outbox.name}"


def _notify_once(conn: Connection, channel: str) -> None:
    """One NOTIFY per channel and transaction: a consumer's batch stages events once per
    event, and PostgreSQL would fold the repeats into one notification anyway."""
    transaction = conn.get_transaction()
    notified = conn.info.get("loket_notified")
    if notified is None or notified[0] is not transaction:
        notified = conn.info["loket_notified"] = (transaction, set())
    if channel not in notified[1]:
        conn.execute(_NOTIFY, {"channel": channel})
        notified[1].add(channel)


class Wakeup:
    """Waits until a transaction stages events in `outbox`, or at most `seconds`.

    PostgreSQL: LISTEN on a driver connection of its own (autocommit, outside the pool),
    so a commit wakes the relay at once. Anything else, and while that connection is lost:
    plain polling every `poll_seconds`.
    """

    def __init__(self, engine: Engine, outbox: Table, poll_seconds: float) -> None:
        self.engine = engine
        self.channel = wakeup_channel(outbox)
        self.poll_seconds = poll_seconds
        self._listener: Any = None

    def wait(self, seconds: float, sleep: Callable[[float], None]) -> None:
        """`sleep` is used when polling (the relay's broker connection keeps beating)."""
        listener = self._listen()
        if listener is None:
            sleep(self.poll_seconds)
            return
        try:
            # Returns with every notification already received, so a burst of commits
            # wakes the relay once.
            for _ in listener.notifies(timeout=seconds, stop_after=1):
                pass
        except Exception as exc:  # any failure of the listener only means polling
            log.warning("relay: lost the wake-up connection (%s); polling", type(exc).__name__)
            self.close()
            sleep(self.poll_seconds)

    def _listen(self) -> Any:
        if self._listener is None and self.engine.dialect.name == "postgresql":
            try:
                args, kwargs = self.engine.dialect.create_connect_args(self.engine.url)
                listener = self.engine.dialect.loaded_dbapi.connect(
                    *args, **{"connect_timeout": 5, **kwargs}
                )
                listener.autocommit = True
                listener.execute(f'LISTEN "{self.channel}"')
                self._listener = listener
            except Exception as exc:
                log.warning("relay: cannot listen for new events (%s)", type(exc).__name__)
                return None
        return self._listener

    def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                self._listener.close()
            self._listener = None


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        engine: Engine,
        outbox: Table,
        amqp_url: str,
        namespace: str,
        delivery_limit: int,
        batch_size: int = 200,
        idle_seconds: float = 0.05,
        listen_seconds: float = 1.0,
        exchange: str | None = None,
        declare: Callable[[BlockingChannel], None] | None = None,
        counted: bool = True,
        confirm_seconds: float = CONFIRM_SECONDS,
        box: SecretBox | None = None,
    ) -> None:
        self.service = service
        self.box = box
        self.engine = engine
        self.outbox = outbox
        self.amqp_url = amqp_url
        self.namespace = namespace
        self.delivery_limit = delivery_limit
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.listen_seconds = listen_seconds
        self.wakeup = Wakeup(engine, outbox, idle_seconds)
        self.exchange = exchange or broker.name(namespace, broker.EVENTS_EXCHANGE)
        self.declare = declare or (
            lambda channel: broker.declare_topology(channel, namespace, delivery_limit)
        )
        self.counted = counted
        self.confirm_seconds = confirm_seconds
        self.name = f"{service}-relay" if outbox.name == "outbox" else f"{service}-{outbox.name}"
        self._due = (
            select(outbox.c.id, outbox.c.type, outbox.c.event_id, outbox.c.body)
            .where(outbox.c.sent_at.is_(None), outbox.c.available_at <= bindparam("now"))
            .order_by(outbox.c.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        self._mark_sent = (
            update(outbox)
            .where(outbox.c.id.in_(bindparam("ids", expanding=True)))
            .values(sent_at=bindparam("now"))
        )
        self._seal = (
            update(outbox)
            .where(outbox.c.id == bindparam("row_id"))
            .values(body=bindparam("sealed"))
        )

    def run(self, stop: threading.Event) -> None:
        """Relay until asked to stop, reconnecting with backoff when the broker goes."""
        broker.stay_connected(
            self.amqp_url,
            self.name,
            stop,
            lambda connection, connected: self._relay(connection, connected, stop),
        )

    def _relay(
        self,
        connection: pika.BlockingConnection,
        connected: Callable[[], None],
        stop: threading.Event,
    ) -> None:
        channel = connection.channel()
        self.declare(channel)
        channel.confirm_delivery()
        log.info("relay: connected")
        connected()
        while not stop.is_set():
            if self.relay_batch(channel) < self.batch_size:
                # Sleeping through the broker connection keeps its heartbeats flowing; a
                # NOTIFY wait is short enough not to miss one.
                self.wakeup.wait(self.listen_seconds, connection.sleep)
                connection.process_data_events(time_limit=0)
        self.wakeup.close()

    def relay_batch(self, channel: BlockingChannel) -> int:
        """Publish one batch of due rows; returns how many rows it looked at."""
        sent: list[tuple[int, str]] = []
        sealed: list[dict[str, Any]] = []
        with transaction(self.engine) as conn:
            now = utcnow()
            rows = conn.execute(self._due, {"now": now}).all()
            with confirm_deadline(channel.connection, self.confirm_seconds):
                for row in rows:
                    try:
                        body = opened_body(row.body, self.box)
                    except ValueError as exc:
                        self._postpone(conn, row.id, str(exc))
                        continue
                    try:
                        self._publish(channel, row.type, row.event_id, body)
                    except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as exc:
                        self._postpone(conn, row.id, repr(exc))
                        continue
                    sent.append((row.id, row.type))
                    if self.box is not None and (kept := sealed_body(body, self.box)):
                        sealed.append({"row_id": row.id, "sealed": kept})
            if sent:
                conn.execute(self._mark_sent, {"ids": [row_id for row_id, _ in sent], "now": now})
            if sealed:
                conn.execute(self._seal, sealed)
        for _, event_type in sent if self.counted else ():
            EVENTS_PUBLISHED.labels(self.service, event_type).inc()
        return len(rows)

    def _publish(self, channel: BlockingChannel, event_type: str, event_id: str, body: str) -> None:
        channel.basic_publish(
            exchange=self.exchange,
            routing_key=event_type,
            body=body.encode(),
            properties=pika.BasicProperties(
                message_id=event_id,
                type=event_type,
                content_type="application/json",
                delivery_mode=pika.DeliveryMode.Persistent,
                app_id=self.service,
            ),
            mandatory=True,
        )

    def _postpone(self, conn: Connection, row_id: int, error: str) -> None:
        log.error("relay: broker refused outbox row %s: %s", row_id, error)
        attempts = self.outbox.c.attempts
        conn.execute(
            update(self.outbox)
            .where(self.outbox.c.id == row_id)
            .values(
                attempts=attempts + 1,
                last_error=error,
                available_at=utcnow() + timedelta(seconds=30),
            )
        )


def purge_sent(conn: Connection, outbox: Table, older_than: timedelta) -> int:
    """Sent rows are kept a while for audit, then dropped so the table stays small."""
    cutoff = utcnow() - older_than
    result = conn.execute(outbox.delete().where(outbox.c.sent_at < cutoff))
    return result.rowcount or 0
