"""What the stack's parts cost on this machine, bare, and what a request can cost at least.

    .venv/bin/python -m bench.floor [--count 3000] [--published 3] [--consumed 5]
                                    [--transactions 6]

Each part is measured without any Loket code, and its CPU counted in every process it
touches (from /proc: this process, PostgreSQL's backends, RabbitMQ, gunicorn):
- an HTTP POST of a request's JSON to a bare Flask endpoint that inserts it and commits,
  served by gunicorn with intake's settings (the server's side: gunicorn, PostgreSQL);
- a transaction that inserts one row and commits (SQLAlchemy and psycopg, as the
  services use them);
- a persistent event published with a confirm to a quorum queue, and one consumed and
  acknowledged, through pika;
- an e-mail sent over a kept SMTP session to a local server (the sender's side).

The floor is one POST, one e-mail, and the transactions, publishes and consumptions a
request causes beyond it (give the counts `bench.pipeline` printed): no Loket code at
all, only the parts. Issue 23's goal is 15 ms of CPU per request for the whole desk.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pika
import requests
from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from bench import cpu
from bench.intake import REPO, body, database, wait_healthy
from bench.pipeline import paced
from services.common import broker
from services.common.db import make_engine
from services.notify.transports import Outgoing, Transports
from tests import support

AMQP_URL = support.AMQP_URL


def groups() -> dict[str, float]:
    """CPU seconds so far of this process, PostgreSQL, RabbitMQ and the bare web server."""
    used = cpu.snapshot(launcher_pid=-1)
    return {
        "this process": used.get("benchmark", 0.0),
        "postgresql": used.get("postgresql", 0.0),
        "rabbitmq": used.get("rabbitmq", 0.0),
        "web server": used.get("bare-web", 0.0),
    }


def measured(count: int, run) -> dict[str, float]:
    """Milliseconds of CPU per operation in each group, `count` operations by `run`."""
    before = groups()
    extra = run() or {}
    after = groups()
    costs = {k: (after[k] - before[k]) * 1000 / count for k in after}
    costs.update({k: v * 1000 / count for k, v in extra.items()})
    return {k: v for k, v in costs.items() if v >= 0.005}


def transactions(url: str, count: int) -> dict[str, float]:
    engine = make_engine(url)
    table = Table("floor", MetaData(), Column("id", Integer, primary_key=True),
                  Column("body", String(2000)))  # fmt: skip
    table.create(engine)
    statement, body = insert(table), "x" * 1000

    def run() -> None:
        for _ in range(count):
            with engine.begin() as conn:
                conn.execute(statement, {"body": body})

    run()  # warm: connection made, statement compiled
    try:
        costs = measured(count, run)
        return {k: v for k, v in costs.items() if k in ("this process", "postgresql")}
    finally:
        engine.dispose()


def publishes_and_consumptions(count: int) -> tuple[dict[str, float], dict[str, float]]:
    queue = f"floor-{uuid.uuid4().hex[:8]}"
    connection = broker.connect(AMQP_URL, "bench-floor")
    channel = connection.channel()
    channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
    channel.confirm_delivery()
    body = b'{"type":"ticket.created",' + b'"x":"' + b"x" * 1200 + b'"}'
    properties = pika.BasicProperties(delivery_mode=2, content_type="application/json")

    def publish() -> None:
        for _ in range(count):
            channel.basic_publish("", queue, body, properties=properties, mandatory=True)

    def consume() -> None:
        channel.basic_qos(prefetch_count=20)
        messages = channel.consume(queue, inactivity_timeout=10)
        for taken, (method, _, _) in enumerate(messages, start=1):
            if method is None:
                break
            channel.basic_ack(method.delivery_tag)
            if taken == count:
                break
        channel.cancel()

    def broker_side(costs: dict[str, float]) -> dict[str, float]:
        return {k: v for k, v in costs.items() if k in ("this process", "rabbitmq")}

    try:
        return broker_side(measured(count, publish)), broker_side(measured(count, consume))
    finally:
        channel.queue_delete(queue)
        connection.close()


def emails(count: int) -> dict[str, float]:
    """The sending side only: the receiver (aiosmtpd, which takes and drops every message)
    runs as a process of its own, not counted."""
    port = support.free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
         "-l", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    transports = Transports(smtp_url=f"smtp://127.0.0.1:{port}", mail_from="desk@example.org",
                            sms_gateway_url=None, timeout_seconds=5)  # fmt: skip
    text = "We have received your request. " * 20
    content = {"subject": "[LKT-00000001] Received", "text": text,
               "html": f"<p>{text}</p>", "message_id": "<1@example.org>"}  # fmt: skip

    def run() -> None:
        for n in range(count):
            transports.send(Outgoing(str(n), str(n), "email", f"c{n}@example.org", content))

    try:
        for _ in range(50):
            try:
                run_once = Outgoing("0", "0", "email", "warm@example.org", content)
                transports.send(run_once)  # warm: the session opened
                break
            except Exception:  # the receiver is not listening yet
                time.sleep(0.1)
        costs = measured(count, run)
        return {k: v for k, v in costs.items() if k == "this process"}
    finally:
        transports.close()
        receiver.terminate()
        receiver.wait(10)


def posts(url: str, count: int) -> dict[str, float]:
    """The serving side only (gunicorn and PostgreSQL): the client is this process, whose
    CPU is left out. Paced at 100 a second, as a desk at the goal's rate would see them."""
    port = support.free_port()
    env = {**os.environ, "BENCH_DATABASE_URL": url, "GUNICORN_WORKERS": "2",
           "GUNICORN_THREADS": "4", "LOKET_ACCESS_LOG": "0"}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", str(REPO / "deploy" / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{port}", "bench.bare_app:create_app()"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    local = threading.local()

    def send(i: int) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        answer = session.post(f"http://127.0.0.1:{port}/bare", json=body(i), timeout=10)
        assert answer.status_code == 201, answer.text

    try:
        wait_healthy(f"http://127.0.0.1:{port}/", server)
        paced(100, 2, send)  # warm: connections, compiled statements
        costs = measured(count, lambda: paced(100, count / 100, send))
        return {k: v for k, v in costs.items() if k in ("web server", "postgresql")}
    finally:
        server.terminate()
        server.wait(30)


def line(name: str, costs: dict[str, float]) -> str:
    parts = ", ".join(f"{k} {v:.3f}" for k, v in costs.items())
    return f"  {name:34} {sum(costs.values()):6.3f} ms  ({parts})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--published", type=float, default=3)
    parser.add_argument("--consumed", type=float, default=5)
    parser.add_argument("--transactions", type=float, default=6)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="loket-floor-"))
    url, drop = database("postgresql", workdir)
    try:
        transaction = transactions(url, args.count)
        published, consumed = publishes_and_consumptions(args.count)
        email = emails(args.count // 3)
        post = posts(url, min(args.count, 2000))
    finally:
        drop()

    floor = (
        sum(post.values())
        + sum(email.values())
        + (args.transactions - 1) * sum(transaction.values())
        + args.published * sum(published.values())
        + args.consumed * sum(consumed.values())
    )
    print(
        f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores,"
        f" PostgreSQL and RabbitMQ of this machine; ms of CPU per operation, all processes:"
    )
    print(line("POST, insert, commit, 201", post))
    print(line("transaction: insert and commit", transaction))
    print(line("event published, confirmed", published))
    print(line("event consumed, acknowledged", consumed))
    print(line("e-mail sent over a kept session", email))
    print(
        f"floor of one request: 1 POST + 1 e-mail + {args.transactions - 1:g} transactions + "
        f"{args.published:g} publishes + {args.consumed:g} consumptions = {floor:.1f} ms "
        f"(goal for the whole desk: 15 ms)"
    )


if __name__ == "__main__":
    main()
