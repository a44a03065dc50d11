"""Nothing lost, nothing doubled: a steady stream of requests on every channel while the
broker stops, workers are killed mid-batch and PostgreSQL restarts without a clean
shutdown. Every process runs on its own here (the launcher would stop the desk when one
dies), as docker compose runs them."""

from __future__ import annotations

import itertools
import os
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, func, select

from services.common.config import SERVICES
from services.intake import storage as intake_storage
from services.notify import storage as notify_storage
from services.queue import storage as queue_storage
from tests import support
from tests.receivers import http_receiver, smtp_receiver
from tests.support import bearer, valid_request, wait_until

CHANNELS = ("web", "email", "phone", "chat", "walk_in", "callback")


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


def restart_postgres() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart",
         "-m", "immediate"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    wait_until(
        lambda: (
            subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"], check=False).returncode == 0
        ),
        timeout=60,
        what="PostgreSQL back",
    )


class Desk:
    """Each web and worker process started on its own, so one can be killed."""

    def __init__(self, env: dict[str, str], urls: dict[str, str]) -> None:
        self.env, self.urls = env, urls
        self.processes: dict[str, support.Proc] = {}

    def start(self, service: str, kind: str) -> None:
        process = support.Proc(support.python_module("services", service, kind), self.env)
        self.processes[f"{service}-{kind}"] = process
        health = (
            f"{self.urls[service]}/readyz"
            if kind == "web"
            else f"http://127.0.0.1:{self.env[f'LOKET_{service.upper()}_METRICS_PORT']}/metrics"
        )
        wait_until(
            lambda: support.http_ok(health) or process.popen.poll() is not None,
            timeout=60,
            what=f"{service}-{kind}",
        )
        assert process.popen.poll() is None, process.log

    def kill(self, name: str) -> None:
        self.processes[name].kill()  # SIGKILL: no clean shutdown, whatever it was doing

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop(timeout=40)


@pytest.fixture
def smtp_delay() -> float:
    """Seconds the SMTP server takes per message (a test may make it slow)."""
    return 0.0


@pytest.fixture
def desk(namespace, databases, tmp_path: Path, smtp_delay: float):
    support.require_postgres()
    keys_path = tmp_path / "api-keys.yaml"
    keys = support.write_keys(keys_path)
    with smtp_receiver(delay_seconds=smtp_delay) as smtp:
        env = {
            "PATH": os.environ["PATH"],
            "LOKET_NAMESPACE": namespace,
            "LOKET_AMQP_URL": support.AMQP_URL,
            "LOKET_API_KEYS_FILE": str(keys_path),
            "LOKET_VAR_DIR": str(tmp_path),
            "GUNICORN_WORKERS": "2",
            "LOKET_ACCESS_LOG": "0",
            "LOKET_SMTP_URL": smtp.url,
            # The tests' webhook receivers listen on loopback.
            "LOKET_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "LOKET_NOTIFY_RETRY_BASE_SECONDS": "1",
            "LOKET_NOTIFY_SEND_TIMEOUT_SECONDS": "2",
            "LOKET_RATE_LIMIT_PER_KEY": "100000/minute",
            "LOKET_RATE_LIMIT_PER_ADDRESS": "100000/minute",
        }
        urls = {}
        for service in SERVICES:
            port = support.free_port()
            env[f"LOKET_{service.upper()}_HTTP_PORT"] = str(port)
            env[f"LOKET_{service.upper()}_METRICS_PORT"] = str(support.free_port())
            env[f"LOKET_{service.upper()}_DATABASE_URL"] = databases.url("postgresql", service)
            urls[service] = f"http://127.0.0.1:{port}"
        env["LOKET_PUBLIC_BASE_URL"] = urls["intake"]
        env["LOKET_QUEUE_URL"] = urls["queue"]
        running = Desk(env, urls)
        try:
            for service in SERVICES:
                running.start(service, "web")
                running.start(service, "worker")
            yield running, keys, smtp
        finally:
            running.stop()


class Stream:
    """A front-end that keeps sending requests and, as the contract allows, sends a
    request again with the same Idempotency-Key until it is accepted."""

    def __init__(self, url: str, key: str, namespace: str) -> None:
        self.url, self.key, self.namespace = url, key, namespace
        self.accepted: dict[str, str] = {}  # ticket id -> requester address
        self.refusals: Counter[str] = Counter()  # answers that say "try again"
        self.unexpected: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        session = requests.Session()
        for n, channel in zip(itertools.count(), itertools.cycle(CHANNELS)):
            if self.stop.is_set():
                return
            address = f"fault-{self.namespace}-{n}@example.org"
            body = valid_request(channel=channel, requester={"name": "Ann", "email": address})
            headers = {**bearer(self.key), "Idempotency-Key": str(uuid.uuid4())}
            while True:
                try:
                    answer = session.post(self.url, json=body, headers=headers, timeout=15)
                except requests.RequestException as exc:
                    self.refusals[type(exc).__name__] += 1
                    time.sleep(0.2)
                    continue
                if answer.status_code == 201:
                    self.accepted[answer.json()["id"]] = address
                    break
                if answer.status_code != 503:
                    self.unexpected.append(f"{answer.status_code} {answer.text[:200]}")
                    break
                self.refusals["503"] += 1
                time.sleep(0.2)
            time.sleep(0.05)

    def __enter__(self) -> Stream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)

    def wait_for_more(self, count: int) -> None:
        target = len(self.accepted) + count
        wait_until(lambda: len(self.accepted) >= target, timeout=60, what=f"{count} more")


def unsent(url: str, table) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(
                select(func.count()).select_from(table).where(table.c.sent_at.is_(None))
            )
    finally:
        engine.dispose()


def test_nothing_is_lost_or_doubled_through_broker_worker_and_database_faults(desk):
    running, keys, smtp = desk
    with Stream(
        f"{running.urls['intake']}/v1/requests", keys["portal"], running.env["LOKET_NAMESPACE"]
    ) as stream:
        stream.wait_for_more(12)

        rabbitmqctl("stop_app")
        try:
            stream.wait_for_more(12)  # HTTP goes on while the broker is away
        finally:
            rabbitmqctl("start_app")
            rabbitmqctl("await_startup")
        stream.wait_for_more(12)

        for name in ("queue-worker", "notify-worker", "intake-worker"):
            running.kill(name)
        stream.wait_for_more(12)
        for service in ("intake", "queue", "notify"):
            running.start(service, "worker")
        stream.wait_for_more(12)

        restart_postgres()
        stream.wait_for_more(12)
    accepted = dict(stream.accepted)
    assert stream.unexpected == []
    assert len(accepted) >= 84

    # Every accepted request is in the queue exactly once.
    queue_engine = create_engine(running.env["LOKET_QUEUE_DATABASE_URL"])

    def in_queue() -> list[str]:
        with queue_engine.connect() as conn:
            return conn.scalars(select(queue_storage.tickets.c.id)).all()

    try:
        wait_until(lambda: len(in_queue()) >= len(accepted), timeout=120, what="every ticket")
        tickets = in_queue()
    finally:
        queue_engine.dispose()
    assert sorted(tickets) == sorted(accepted)

    # Every customer got exactly one confirmation. A worker killed after the SMTP server
    # took a message but before the send was recorded sends it again with the same
    # Message-ID, which mail clients show once: that is the most SMTP allows.
    def confirmations() -> dict[str, set[str]]:
        ids: dict[str, set[str]] = {}
        for message in list(smtp.messages):
            ids.setdefault(message["To"], set()).add(message["Message-ID"])
        return ids

    wait_until(
        lambda: set(accepted.values()) <= set(confirmations()),
        timeout=120,
        what="a confirmation to every customer",
    )
    sent = confirmations()
    assert all(len(sent[address]) == 1 for address in accepted.values())
    resent = len(smtp.messages) - len(accepted)

    # And nothing waits in any outbox.
    env = running.env
    for url, table in [
        (env["LOKET_INTAKE_DATABASE_URL"], intake_storage.outbox),
        (env["LOKET_QUEUE_DATABASE_URL"], queue_storage.outbox),
        (env["LOKET_NOTIFY_DATABASE_URL"], notify_storage.outbox),
        (env["LOKET_NOTIFY_DATABASE_URL"], notify_storage.attempts_outbox),
    ]:
        wait_until(lambda u=url, t=table: unsent(u, t) == 0, timeout=60, what=f"{table.name} empty")
    print(
        f"accepted {len(accepted)} requests; answered 'try again': {dict(stream.refusals)}; "
        f"confirmations resent with the same Message-ID: {resent}"
    )


@pytest.mark.parametrize("smtp_delay", [1.5])
def test_a_slow_mail_server_and_dead_webhook_receivers_hold_up_neither_intake_nor_queue(desk):
    running, keys, smtp = desk
    admin = bearer(keys["admin"])
    with http_receiver(delay_seconds=5) as slow:
        for url in (slow.url, f"http://127.0.0.1:{support.free_port()}/nobody-listens"):
            subscribed = requests.post(
                f"{running.urls['notify']}/v1/subscriptions",
                json={"url": url, "events": ["ticket.*"], "secret": "s3cret-for-the-test"},
                headers=admin,
                timeout=10,
            )
            assert subscribed.status_code == 201, subscribed.text

        # The mail server takes one message at a time, 1.5 s each: twenty confirmations
        # need at least 30 s, and the webhooks wait 5 s or are refused and retried.
        accepted = []
        for n, channel in zip(range(20), itertools.cycle(CHANNELS), strict=False):
            body = valid_request(channel=channel, requester={"name": "Ann", "email": f"s{n}@x.org"})
            answer = requests.post(
                f"{running.urls['intake']}/v1/requests",
                json=body,
                headers=bearer(keys["portal"]),
                timeout=10,
            )
            assert answer.status_code == 201, answer.text
            accepted.append(answer.json())

        def visible(request: dict) -> bool:
            status = requests.get(
                f"{running.urls['queue']}/v1/track/{request['reference']}",
                params={"token": request["tracking_token"]},
                timeout=5,
            )
            return status.status_code == 200

        wait_until(lambda: all(visible(a) for a in accepted), timeout=60, what="every ticket")
        # Everything is in the queue while most confirmations have still to be sent.
        assert len(smtp.messages) < len(accepted) / 2
        agent = bearer(keys["agent"])
        claimed = requests.post(
            f"{running.urls['queue']}/v1/queues/frontoffice/next", headers=agent, timeout=10
        )
        assert claimed.status_code == 200
