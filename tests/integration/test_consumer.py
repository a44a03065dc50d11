"""The idempotent consumer against the real broker, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
import json
import re
import socket
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select

from services.common import broker
from services.common.consumer import Consumer, EventProcessor, Outcome
from services.common.db import make_engine
from services.common.events import Event
from services.common.worker import run_worker
from services.feedback.worker import spec as spec_of_feedback
from services.queue import handlers, storage
from services.queue.worker import spec
from tests.support import (
    AMQP_URL,
    REPO,
    free_port,
    http_ok,
    publish_raw,
    queue_consumers,
    queue_depth,
    wait_until,
)


def ticket_created(**changes) -> Event:
    data = {
        "ticket_id": str(uuid.uuid4()),
        "reference": f"LKT-{uuid.uuid4().int % 10**8:08d}",
        "channel": "web",
        "category": "password_reset",
        "queue": "frontoffice",
        "priority": 3,
        "subject": "Locked out",
        "description": "Cannot sign in",
        "fields": {"account": "jdoe"},
        "requester": {"name": "J. Doe", "email": "j@example.org", "phone": None,
                      "language": "en", "preferred_contact": "email"},
        "tracking_token": "t" * 32,
        "created_at": datetime.now(UTC).isoformat(),
        "contact_started_at": datetime.now(UTC).isoformat(),
        "resolved_on_contact": False,
        "resolution": None,
        "a_field_from_the_future": {"ignored": True},
    }  # fmt: skip
    data.update(changes)
    return Event(type="ticket.created", data=data, source="intake")


def consumed(outcome: str, service: str = "queue", type: str = "ticket.created") -> float:
    value = REGISTRY.get_sample_value(
        "loket_events_consumed_total", {"service": service, "type": type, "outcome": outcome}
    )
    return value or 0.0


@pytest.fixture
def queue_worker(make_settings):
    settings = make_settings("queue")
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(settings, spec(settings), stop))
    thread.start()
    wait_until(lambda: _consuming(settings.namespace), what="the worker's consumer")
    engine = make_engine(settings.database_url)
    yield settings, engine
    stop.set()
    thread.join(timeout=30)
    engine.dispose()


def dead_lettered(service: str) -> float:
    """Dead-lettered events of a service, whatever type (poison may have none)."""
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "loket_events_consumed"
        for sample in metric.samples
        if sample.name == "loket_events_consumed_total"
        and sample.labels["service"] == service
        and sample.labels["outcome"] == "dead_lettered"
    )


def count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table).where(*where))


def test_a_redelivered_event_changes_nothing(queue_worker):
    settings, engine = queue_worker
    event = ticket_created()
    duplicates_before = consumed("duplicate")
    for _ in range(3):
        publish_raw(settings.namespace, event.type, event.to_json().encode(), message_id=event.id)
    wait_until(lambda: consumed("duplicate") - duplicates_before >= 2, what="two duplicates")

    assert count(engine, storage.tickets) == 1
    assert count(engine, storage.history) == 1
    assert count(engine, storage.inbox) == 1
    assert count(engine, storage.outbox, storage.outbox.c.type == "ticket.queued") == 1


def test_poison_messages_are_dead_lettered_and_the_consumer_goes_on(queue_worker):
    settings, engine = queue_worker
    valid = ticket_created()
    wrong_data = ticket_created(priority="urgent")
    future = Event(type="ticket.created", data=valid.data, source="intake", version=99)
    envelope_without_id = json.loads(valid.to_json())
    del envelope_without_id["id"]
    poison = [
        b"this is not JSON",
        json.dumps(envelope_without_id).encode(),
        wrong_data.to_json().encode(),
        future.to_json().encode(),
    ]
    for body in poison:
        publish_raw(settings.namespace, "ticket.created", body)
    publish_raw(settings.namespace, "ticket.created", valid.to_json().encode())

    dead = broker.dead_letter_queue_name(settings.namespace, "queue")
    wait_until(lambda: queue_depth(dead) == len(poison), what="poison in the dead-letter queue")
    wait_until(lambda: count(engine, storage.tickets) == 1, what="the valid event processed")
    assert count(engine, storage.inbox) == 1


def test_a_handler_that_keeps_failing_is_dead_lettered_after_the_delivery_limit(
    make_settings, namespaces
):
    namespace = namespaces()
    settings = make_settings("queue")
    engine = make_engine(settings.database_url)
    attempts = []

    def always_fails(unit, event):
        attempts.append(event.id)
        raise RuntimeError("bug in a handler")

    processor = EventProcessor(
        service="queue", engine=(engine), inbox=storage.inbox, outbox=storage.outbox,
        handlers={("ticket.created", 1): always_fails},
    )  # fmt: skip
    consumer = Consumer(processor=processor, amqp_url=AMQP_URL, namespace=namespace,
                        delivery_limit=2)  # fmt: skip
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: _consuming(namespace), what="the consumer")
        event = ticket_created()
        publish_raw(namespace, event.type, event.to_json().encode())
        dead = broker.dead_letter_queue_name(namespace, "queue")
        wait_until(lambda: queue_depth(dead) == 1, timeout=30, what="the dead-lettered event")
        assert len(attempts) == 3  # the first delivery and two redeliveries
        assert count(processor.engine, storage.inbox) == 0
        # The operator hears of it: the broker's metric for this queue raises the alert.
        assert re.fullmatch(_dead_letter_alert_queues(), dead)
    finally:
        stop.set()
        thread.join(timeout=30)
        engine.dispose()


def _dead_letter_alert_queues() -> str:
    """The queue-name pattern of the LoketDeadLetters alert, as Prometheus reads it."""
    rules = yaml.safe_load((REPO / "deploy/prometheus/rules/loket.yml").read_text())
    [expr] = [r["expr"] for g in rules["groups"] for r in g["rules"]
              if r.get("alert") == "LoketDeadLetters"]  # fmt: skip
    return re.search(r'queue=~"(.+?)"', expr).group(1).replace("\\\\", "\\")


def _consuming(namespace: str, service: str = "queue") -> bool:
    """The service's consumer is attached, so its queue is declared and bound.

    Only that: the queue can exist, declared by the relay, before its bindings do, and a
    message published then reaches the other services' queues but not this one.
    """
    return queue_consumers(broker.queue_name(namespace, service)) > 0


@pytest.mark.parametrize("service", ["queue", "notify", "feedback"])
def test_every_consumer_dead_letters_every_kind_of_poison_counts_it_and_goes_on(
    service, make_settings
):
    settings = make_settings(service)
    worker = importlib.import_module(f"services.{service}.worker")
    storage_of = importlib.import_module(f"services.{service}.storage")
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(settings, worker.spec(settings), stop))
    thread.start()
    engine = make_engine(settings.database_url)
    try:
        wait_until(lambda: _consuming(settings.namespace, service), what="the worker's consumer")
        valid = ticket_created()
        envelope_without_id = json.loads(valid.to_json())
        del envelope_without_id["id"]
        poison = {
            "not JSON": b"\xff\xfe not JSON at all",
            "wrong envelope": json.dumps(envelope_without_id).encode(),
            "wrong data": ticket_created(ticket_id=None, requester="me", priority="urgent")
            .to_json()
            .encode(),
            "unknown version": Event(
                type="ticket.created", data=valid.data, source="intake", version=99
            )
            .to_json()
            .encode(),
            "not an object": b"[1, 2, 3]",
        }
        dead_before = dead_lettered(service)
        for body in poison.values():
            publish_raw(settings.namespace, "ticket.created", body)
        publish_raw(settings.namespace, valid.type, valid.to_json().encode(), message_id=valid.id)

        dead = broker.dead_letter_queue_name(settings.namespace, service)
        wait_until(lambda: queue_depth(dead) == len(poison), what="every poison dead-lettered")
        wait_until(lambda: count(engine, storage_of.inbox) == 1, what="the valid event processed")
        assert dead_lettered(service) - dead_before == len(poison)
    finally:
        stop.set()
        thread.join(timeout=30)
        engine.dispose()


@pytest.fixture
def queue_processor(make_settings):
    """The queue's own handlers, one of them made to crash on the subject "crash"."""
    settings = make_settings("queue")
    engine = make_engine(settings.database_url)
    real = handlers.handlers(settings)

    def ticket_created_or_crash(unit, event):
        if event.data["subject"] == "crash":
            raise RuntimeError("bug in a handler")
        real[("ticket.created", 1)](unit, event)

    yield EventProcessor(
        service="queue", engine=engine, inbox=storage.inbox, outbox=storage.outbox,
        handlers={**real, ("ticket.created", 1): ticket_created_or_crash},
    )  # fmt: skip
    engine.dispose()


def test_a_batch_of_events_commits_once(queue_processor):
    commits = []
    sqlalchemy_event.listen(queue_processor.engine, "commit", lambda _conn: commits.append(1))
    events = [ticket_created() for _ in range(5)]

    outcomes = queue_processor.process_batch([e.to_json().encode() for e in events])

    assert outcomes == [Outcome.PROCESSED] * 5
    assert len(commits) == 1
    assert count(queue_processor.engine, storage.tickets) == 5
    assert count(queue_processor.engine, storage.inbox) == 5


def test_in_a_batch_a_duplicate_poison_or_crash_costs_only_itself(queue_processor):
    seen = ticket_created()
    assert queue_processor.process(seen.to_json().encode()) is Outcome.PROCESSED
    first, second, twice = ticket_created(), ticket_created(), ticket_created()
    future = Event(type="ticket.created", data=first.data, source="intake", version=99)
    batch = {
        "valid": (first.to_json().encode(), Outcome.PROCESSED),
        "seen before": (seen.to_json().encode(), Outcome.DUPLICATE),
        "wrong data": (ticket_created(priority="urgent").to_json().encode(), Outcome.DEAD_LETTERED),
        "not JSON": (b"not JSON", Outcome.DEAD_LETTERED),
        "crashes": (ticket_created(subject="crash").to_json().encode(), Outcome.REQUEUED),
        "another valid": (second.to_json().encode(), Outcome.PROCESSED),
        "unknown version": (future.to_json().encode(), Outcome.DEAD_LETTERED),
        "new": (twice.to_json().encode(), Outcome.PROCESSED),
        "the same again": (twice.to_json().encode(), Outcome.DUPLICATE),
    }

    outcomes = queue_processor.process_batch([body for body, _ in batch.values()])

    assert dict(zip(batch, outcomes, strict=True)) == {k: v for k, (_, v) in batch.items()}
    tickets = storage.tickets.c.id
    with queue_processor.engine.connect() as conn:
        stored = set(conn.scalars(select(tickets)))
    expected = {uuid.UUID(e.data["ticket_id"]) for e in (seen, first, second, twice)}
    assert {uuid.UUID(str(t)) for t in stored} == expected
    assert count(queue_processor.engine, storage.inbox) == 4


class RecordingProcessor:
    """Takes a while over every batch, so that messages wait and form the next one."""

    service = "queue"

    def __init__(self) -> None:
        self.batches: list[int] = []

    def process_batch(self, bodies, stop=None):
        time.sleep(0.05)
        self.batches.append(len(bodies))
        return [Outcome.PROCESSED] * len(bodies)

    def close(self) -> None:
        pass


def test_messages_that_wait_are_handed_over_together_and_all_acknowledged(namespaces):
    namespace = namespaces()
    connection = broker.connect(AMQP_URL, "loket-tests-publisher")
    channel = connection.channel()
    broker.declare_topology(channel, namespace, 5)
    channel.confirm_delivery()
    for _ in range(30):
        channel.basic_publish(
            broker.name(namespace, broker.EVENTS_EXCHANGE),
            "ticket.created",
            ticket_created().to_json().encode(),
        )
    connection.close()
    processor = RecordingProcessor()
    consumer = Consumer(processor=processor, amqp_url=AMQP_URL, namespace=namespace,
                        delivery_limit=5, prefetch=20, batch_size=8)  # fmt: skip
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: sum(processor.batches) == 30, what="every message handled")
    finally:
        stop.set()
        thread.join(timeout=30)

    assert max(processor.batches) == 8
    assert queue_depth(broker.queue_name(namespace, "queue")) == 0  # every one acknowledged


def _listening_addresses(port: int) -> set[str]:
    """The IPv4 addresses a local socket listens on for this port (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, local_port = local.split(":")
        if state == "0A" and int(local_port, 16) == port:  # 0A: LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_a_workers_metrics_listen_where_the_web_processes_do(make_settings):
    port = free_port()
    settings = make_settings("feedback", LOKET_FEEDBACK_METRICS_PORT=str(port))
    assert settings.http_host == "127.0.0.1"
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(settings, spec_of_feedback(settings), stop))
    thread.start()
    try:
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/metrics"), what="worker metrics")
        assert _listening_addresses(port) == {"127.0.0.1"}  # not 0.0.0.0
    finally:
        stop.set()
        thread.join(timeout=30)
