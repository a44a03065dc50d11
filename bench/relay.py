"""The outbox relay's events per second against bare pika publishing with confirms.

    .venv/bin/python -m bench.relay [--backend postgresql|sqlite] [--events 5000] [--rounds 3]

Both publish the same event bodies to the same exchange with the same routing key (so the
broker routes each to the same three quorum queues), persistent, mandatory, waiting for
each confirm, in batches of the relay's batch size. The relay also selects each batch
from the outbox (FOR UPDATE SKIP LOCKED on PostgreSQL) and marks it sent in the same
transaction; the baseline only publishes. Rounds alternate; the best of each is kept.
Goal: a ratio of at least 0.5.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pika
from sqlalchemy import func, select

from bench.intake import database
from services.common import broker
from services.common.db import make_engine, migrate, transaction
from services.common.events import Event
from services.common.outbox import OutboxRelay, add_events
from services.intake import storage
from tests import support

AMQP_URL = support.AMQP_URL
DELIVERY_LIMIT = 5


def events(count: int) -> list[Event]:
    data = {
        "ticket_id": str(uuid.uuid4()),
        "reference": "LKT-00000001",
        "channel": "web",
        "category": "password_reset",
        "subject": "Locked out",
        "description": "x" * 400,
    }
    return [Event(type="ticket.created", data=data, source="intake") for _ in range(count)]


def run_relay(engine, relay: OutboxRelay, count: int) -> float:
    with transaction(engine) as conn:
        add_events(conn, storage.outbox, events(count))
    connection = broker.connect(AMQP_URL, "bench-relay")
    channel = connection.channel()
    relay.declare(channel)
    channel.confirm_delivery()
    started = time.perf_counter()
    while relay.relay_batch(channel) > 0:
        pass
    seconds = time.perf_counter() - started
    connection.close()
    with engine.connect() as conn:
        unsent = conn.scalar(
            select(func.count())
            .select_from(storage.outbox)
            .where(storage.outbox.c.sent_at.is_(None))
        )
    assert unsent == 0, f"{unsent} events left in the outbox"
    return count / seconds


def run_bare(namespace: str, count: int, batch_size: int) -> float:
    bodies = [e.to_json().encode() for e in events(count)]
    exchange = broker.name(namespace, broker.EVENTS_EXCHANGE)
    connection = broker.connect(AMQP_URL, "bench-bare")
    channel = connection.channel()
    channel.confirm_delivery()
    started = time.perf_counter()
    for first in range(0, count, batch_size):
        for body in bodies[first : first + batch_size]:
            channel.basic_publish(
                exchange,
                "ticket.created",
                body,
                properties=pika.BasicProperties(
                    content_type="application/json", delivery_mode=pika.DeliveryMode.Persistent
                ),
                mandatory=True,
            )
    seconds = time.perf_counter() - started
    connection.close()
    return count / seconds


def purge(namespace: str) -> None:
    connection = broker.connect(AMQP_URL, "bench-purge")
    channel = connection.channel()
    for service in broker.BINDINGS:
        channel.queue_purge(broker.queue_name(namespace, service))
    connection.close()


def delete(namespace: str) -> None:
    connection = broker.connect(AMQP_URL, "bench-cleanup")
    channel = connection.channel()
    for service in broker.BINDINGS:
        channel.queue_delete(broker.queue_name(namespace, service))
        channel.queue_delete(broker.dead_letter_queue_name(namespace, service))
    for exchange in (broker.EVENTS_EXCHANGE, broker.DEAD_EXCHANGE):
        channel.exchange_delete(broker.name(namespace, exchange))
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as workdir:
        url, drop = database(args.backend, Path(workdir))
        engine = make_engine(url)
        try:
            migrate("intake", url)
            relay = OutboxRelay(
                service="intake",
                engine=engine,
                outbox=storage.outbox,
                amqp_url=AMQP_URL,
                namespace=namespace,
                delivery_limit=DELIVERY_LIMIT,
                counted=False,
            )
            relay_rates, bare_rates = [], []
            for round_number in range(1, args.rounds + 1):
                relay_rates.append(run_relay(engine, relay, args.events))
                purge(namespace)
                bare_rates.append(run_bare(namespace, args.events, relay.batch_size))
                purge(namespace)
                print(
                    f"round {round_number}: relay {relay_rates[-1]:.0f} events/s, "
                    f"bare pika {bare_rates[-1]:.0f} events/s",
                    flush=True,
                )
        finally:
            delete(namespace)
            engine.dispose()
            drop()

    best_relay, best_bare = max(relay_rates), max(bare_rates)
    print(
        f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {args.backend}, "
        f"{args.events} events per round, batches of {relay.batch_size}\n"
        f"bare pika (publish + confirm): {best_bare:.0f} events/s\n"
        f"outbox relay:                  {best_relay:.0f} events/s\n"
        f"ratio: {best_relay / best_bare:.2f} (goal at least 0.5)"
    )


if __name__ == "__main__":
    main()
