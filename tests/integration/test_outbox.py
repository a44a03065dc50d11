"""The outbox and its relay against the real broker, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections import Counter
from urllib.parse import urlsplit, urlunsplit

import pika
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select, text, update

from services.common import broker
from services.common.db import make_engine, transaction
from services.common.events import Event
from services.common.outbox import OutboxRelay, Wakeup, add_events
from services.common.secret_box import SecretBox
from services.intake import storage
from tests.support import AMQP_URL, HoldingProxy, wait_until


@pytest.fixture
def intake_db(make_settings):
    settings = make_settings("intake")
    engine = make_engine(settings.database_url)
    yield settings, engine
    engine.dispose()


@pytest.fixture
def probe(namespace):
    """A private queue that receives every event of the namespace."""
    connection = broker.connect(AMQP_URL, "loket-tests-probe")
    channel = connection.channel()
    broker.declare_topology(channel, namespace, 5)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, broker.name(namespace, broker.EVENTS_EXCHANGE), "#")

    def received() -> list[tuple[pika.BasicProperties, bytes]]:
        got = []
        while (message := channel.basic_get(queue, auto_ack=True))[0] is not None:
            got.append((message[1], message[2]))
        return got

    yield received
    connection.close()


def _events(n: int) -> list[Event]:
    return [Event(type="ticket.created", data={"n": i}, source="intake") for i in range(n)]


def _relay(settings, engine, **kw) -> OutboxRelay:
    return OutboxRelay(
        service="intake", engine=engine, outbox=storage.outbox, amqp_url=AMQP_URL,
        namespace=settings.namespace, delivery_limit=5, **kw,
    )  # fmt: skip


def _unsent(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).where(storage.outbox.c.sent_at.is_(None)))


def _run_until_empty(relays, engine):
    stop = threading.Event()
    threads = [threading.Thread(target=r.run, args=(stop,)) for r in relays]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: _unsent(engine) == 0, timeout=60, what="an empty outbox")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)


def test_relay_publishes_with_the_contract_properties_and_marks_rows_sent(intake_db, probe):
    settings, engine = intake_db
    events = _events(3)
    with transaction(engine) as conn:
        add_events(conn, storage.outbox, events)
    _run_until_empty([_relay(settings, engine)], engine)

    received = wait_until(lambda: probe() or None, what="published events")
    while len(received) < 3:
        received += wait_until(probe, what="the rest of the events")
    by_id = {props.message_id: (props, body) for props, body in received}
    assert set(by_id) == {e.id for e in events}
    for event in events:
        props, body = by_id[event.id]
        assert props.type == "ticket.created"
        assert props.content_type == "application/json"
        assert props.delivery_mode == 2
        assert json.loads(body)["data"] == event.data


def test_a_sent_event_keeps_its_tokens_sealed_and_a_replay_publishes_them_again(intake_db, probe):
    settings, engine = intake_db
    secrets = {"tracking_token": "t" * 32, "reply_token": "r" * 26, "survey_token": "s" * 32}
    event = Event("ticket.created", {"reference": "LKT-000001", **secrets}, source="intake")
    with transaction(engine) as conn:
        add_events(conn, storage.outbox, [event])
    box = SecretBox(Fernet.generate_key().decode())

    def published_once() -> dict:
        _run_until_empty([_relay(settings, engine, box=box)], engine)
        ((_, body),) = wait_until(probe, what="the published event")
        return json.loads(body)["data"]

    assert published_once() == event.data
    with engine.connect() as conn:
        kept = conn.scalar(select(storage.outbox.c.body))
    assert not any(secret in kept for secret in secrets.values())
    # A restore's replay marks sent rows unsent: consumers get the tokens again.
    with transaction(engine) as conn:
        conn.execute(update(storage.outbox).values(sent_at=None))
    assert published_once() == event.data


def test_events_of_a_rolled_back_change_never_leave(intake_db, probe):
    settings, engine = intake_db
    with pytest.raises(RuntimeError), transaction(engine) as conn:
        add_events(conn, storage.outbox, _events(2))
        raise RuntimeError("the state change failed")
    with transaction(engine) as conn:
        add_events(conn, storage.outbox, _events(1))
    _run_until_empty([_relay(settings, engine)], engine)
    assert len(wait_until(probe, what="the committed event")) == 1


def test_two_relays_at_once_publish_each_row_once(intake_db, probe, make_settings):
    settings, engine = intake_db
    total = 600
    with transaction(engine) as conn:
        add_events(conn, storage.outbox, _events(total))
    # Each relay with its own engine, as two worker processes would have.
    second_engine = make_engine(settings.database_url)
    relays = [
        _relay(settings, engine, batch_size=25),
        _relay(settings, second_engine, batch_size=25),
    ]
    _run_until_empty(relays, engine)
    second_engine.dispose()

    seen: Counter[str] = Counter()

    def all_arrived() -> bool:
        seen.update(props.message_id for props, _ in probe())
        return sum(seen.values()) >= total

    wait_until(all_arrived, timeout=30, what=f"{total} events")
    assert len(seen) == total
    assert max(seen.values()) == 1


def _wait_in_thread(wakeup: Wakeup, seconds: float, slept: list[float]) -> threading.Thread:
    thread = threading.Thread(target=wakeup.wait, args=(seconds, slept.append), daemon=True)
    thread.start()
    return thread


@pytest.fixture
def listening(intake_db):
    """A PostgreSQL wake-up that already listens, with the sleeps it fell back to."""
    _settings, engine = intake_db
    wakeup, slept = Wakeup(engine, storage.outbox, poll_seconds=0.05), []
    wakeup.wait(0.01, slept.append)  # nothing staged yet: it only starts listening
    yield engine, wakeup, slept
    wakeup.close()


def _listener(engine, channel: str):
    """A connection of the test's own that listens on `channel`, as the relay does."""
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    listener = engine.dialect.loaded_dbapi.connect(*args, **kwargs)
    listener.autocommit = True
    listener.execute(f'LISTEN "{channel}"')
    return listener


def _commit_one_event(engine) -> None:
    with transaction(engine) as conn:
        add_events(conn, storage.outbox, _events(1))


def test_a_confirm_that_never_comes_frees_the_rows_for_another_relay(intake_db, probe):
    """The broker takes a publish and its confirm never reaches the relay: past the
    deadline the relay lets go of its batch, and the rows go out through another."""
    settings, engine = intake_db
    address = urlsplit(AMQP_URL)
    proxy = HoldingProxy(address.hostname or "127.0.0.1", address.port or 5672)
    through_proxy = urlunsplit(address._replace(netloc=f"guest:guest@127.0.0.1:{proxy.port}"))
    held = _relay(settings, engine, confirm_seconds=2)
    held.amqp_url = through_proxy
    stop = threading.Event()
    threads = [threading.Thread(target=held.run, args=(stop,))]
    threads[0].start()
    try:
        with transaction(engine) as conn:
            add_events(conn, storage.outbox, _events(1))
        wait_until(lambda: _unsent(engine) == 0, timeout=30, what="the relay at work")
        proxy.hold_open_connections()
        [late] = _events(1)
        with transaction(engine) as conn:
            add_events(conn, storage.outbox, [late])
        # The broker has it; the relay waits for the confirm, its row locked and unsent.
        seen: list[str] = []

        def taken() -> bool:
            seen.extend(props.message_id for props, _ in probe())
            return late.id in seen

        wait_until(taken, what="the broker taking the event")
        assert _unsent(engine) == 1
        seen.clear()
        other_engine = make_engine(settings.database_url)
        other = _relay(settings, other_engine)
        threads.append(threading.Thread(target=other.run, args=(stop,)))
        threads[1].start()
        wait_until(lambda: _unsent(engine) == 0, timeout=30, what="the row sent after all")
        wait_until(taken, what="the event sent again")
    finally:
        stop.set()
        proxy.close()
        for thread in threads:
            thread.join(timeout=30)
        held.wakeup.close()
        if len(threads) > 1:
            other.wakeup.close()
            other_engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_on_sqlite_an_idle_relay_polls(intake_db):
    _settings, engine = intake_db
    slept: list[float] = []
    Wakeup(engine, storage.outbox, poll_seconds=0.05).wait(60, slept.append)
    assert slept == [0.05]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_on_postgresql_an_idle_relay_wakes_when_events_commit(listening):
    engine, wakeup, slept = listening
    waiting = _wait_in_thread(wakeup, 60, slept)
    witness = _listener(engine, wakeup.channel)
    # The rolled-back transaction keeps its own connection, so that the committing one,
    # which the pool hands out meanwhile, is another backend.
    with engine.connect() as held:
        rolled_back_by = held.connection.dbapi_connection.info.backend_pid
        with pytest.raises(RuntimeError), held.begin():
            add_events(held, storage.outbox, _events(1))
            raise RuntimeError("rolled back: no wake-up")
        _commit_one_event(engine)
    waiting.join(timeout=10)
    assert not waiting.is_alive()
    assert slept == []
    # Notifications arrive in commit order: had the rollback sent one, it would be first.
    first = next(witness.notifies(timeout=10, stop_after=1))
    assert first.pid != rolled_back_by
    witness.close()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_relay_that_loses_its_listening_connection_polls_then_listens_again(listening):
    engine, wakeup, slept = listening
    pid = wakeup._listener.info.backend_pid
    with transaction(engine) as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    wakeup.wait(5, slept.append)
    assert slept == [0.05]
    waiting = _wait_in_thread(wakeup, 60, slept)
    wait_until(lambda: wakeup._listener is not None, what="listening again")
    _commit_one_event(engine)
    waiting.join(timeout=10)
    assert not waiting.is_alive()
    assert wakeup._listener.info.backend_pid != pid


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_transaction_notifies_once_however_often_it_stages_events(intake_db):
    _settings, engine = intake_db
    notifies = []

    def record(_conn, _cursor, statement, *_args):
        if "pg_notify" in statement:
            notifies.append(statement)

    sqlalchemy_event.listen(engine, "before_cursor_execute", record)
    for _ in range(2):  # the pool hands the second transaction the same connection
        with transaction(engine) as conn:
            for _ in range(3):  # as a consumer's batch does, once per event
                add_events(conn, storage.outbox, _events(1))
    sqlalchemy_event.remove(engine, "before_cursor_execute", record)
    assert len(notifies) == 2
