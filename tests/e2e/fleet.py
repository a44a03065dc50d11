"""A desk whose every web and worker process runs on its own, as docker compose runs
them (the launcher would stop the whole desk when one dies), and a front-end that keeps
sending requests: what the fault tests and the tests beyond one host share."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, func, select

from services.common.config import SERVICES
from services.intake import storage as intake_storage
from services.notify import storage as notify_storage
from services.queue import storage as queue_storage
from tests import support
from tests.support import bearer, valid_request, wait_until

CHANNELS = ("web", "email", "phone", "chat", "walk_in", "callback")
# Customers' names as they come: beyond ASCII, in other scripts, with marks and dashes.
NAMES = ("Ann de Vries", "Zoë Ağaoğlu-Østergaard", "李小龍", "Ĳsbrand Ðorđević")


def environment(
    namespace: str, state: Path, smtp_url: str, database_urls: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The environment of every process of one desk, and the services' addresses."""
    env = {
        "PATH": os.environ["PATH"],
        "LOKET_NAMESPACE": namespace,
        "LOKET_AMQP_URL": support.AMQP_URL,
        "LOKET_API_KEYS_FILE": str(state / "api-keys.yaml"),
        "LOKET_VAR_DIR": str(state),
        "GUNICORN_WORKERS": "2",
        "LOKET_ACCESS_LOG": "0",
        "LOKET_SMTP_URL": smtp_url,
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
        env[f"LOKET_{service.upper()}_DATABASE_URL"] = database_urls[service]
        urls[service] = f"http://127.0.0.1:{port}"
    env["LOKET_PUBLIC_BASE_URL"] = urls["intake"]
    env["LOKET_QUEUE_URL"] = urls["queue"]
    return env, urls


class Desk:
    """Each web and worker process started on its own, so one can be killed."""

    def __init__(self, env: dict[str, str], urls: dict[str, str], cwd: Path = support.REPO) -> None:
        """`cwd` is the code the processes run: this checkout, or an older version's."""
        self.env, self.urls, self.cwd = env, urls, cwd
        self.processes: dict[str, support.Proc] = {}

    def start(self, service: str, kind: str, *, another: bool = False) -> str:
        """One process; `another` runs next to the first (the desk scaled out): a worker
        that competes for the same queue, or a web process on a port of its own. Answers
        the web process's address."""
        env, name, url = self.env, f"{service}-{kind}", self.urls[service]
        if another:
            prefix = f"LOKET_{service.upper()}"
            env = {**env, f"{prefix}_METRICS_PORT": str(support.free_port())}
            if kind == "web":
                env[f"{prefix}_HTTP_PORT"] = str(support.free_port())
                url = f"http://127.0.0.1:{env[f'{prefix}_HTTP_PORT']}"
            name += "-2"
        process = support.Proc(support.python_module("services", service, kind), env, self.cwd)
        self.processes[name] = process
        health = (
            f"{url}/readyz"
            if kind == "web"
            else f"http://127.0.0.1:{env[f'LOKET_{service.upper()}_METRICS_PORT']}/metrics"
        )
        wait_until(
            lambda: support.http_ok(health) or process.popen.poll() is not None,
            timeout=60,
            what=f"{service}-{kind}",
        )
        assert process.popen.poll() is None, process.log
        return url

    def kill(self, name: str) -> None:
        self.processes[name].kill()  # SIGKILL: no clean shutdown, whatever it was doing

    def start_all(self) -> None:
        for service in SERVICES:
            self.start(service, "web")
            self.start(service, "worker")

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop(timeout=40)

    def where_workers_are(self, service: str) -> str:
        """Each of a service's workers: its last lines and every thread's stack now."""
        spy = Path(sys.executable).with_name("py-spy")
        report = []
        for name, process in self.processes.items():
            if name.startswith(f"{service}-worker"):
                try:
                    stacks = subprocess.run(
                        [str(spy), "dump", "--pid", str(process.popen.pid)],
                        capture_output=True, text=True, timeout=60, check=False,
                    )  # fmt: skip
                    dumped = stacks.stdout + stacks.stderr
                except subprocess.TimeoutExpired:
                    dumped = "(py-spy did not answer within 60 s)"
                report += [f"--- {name}", process.log, dumped]
        return "\n".join(report)

    def logged(self, text: str) -> list[str]:
        """The processes whose output has `text`."""
        return [name for name, p in self.processes.items() if text in p.log]


class Stream:
    """A front-end that keeps sending requests and, as the contract allows, sends a
    request again with the same Idempotency-Key until it is accepted."""

    def __init__(self, url: str, key: str, namespace: str) -> None:
        self.url, self.key, self.namespace = url, key, namespace
        self.accepted: dict[str, str] = {}  # ticket id -> requester address
        self.refusals: Counter[str] = Counter()  # answers that say "try again"
        self.unexpected: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        session = requests.Session()
        for n, channel in zip(itertools.count(), itertools.cycle(CHANNELS)):
            if self.stop.is_set():
                return
            address = f"fault-{self.namespace}-{n}@example.org"
            name = NAMES[n % len(NAMES)]
            body = valid_request(channel=channel, requester={"name": name, "email": address})
            headers = {**bearer(self.key), "Idempotency-Key": str(uuid.uuid4())}
            while not self.stop.is_set():
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


def outboxes(env: Mapping[str, str]) -> list[tuple[str, str, object]]:
    """Every outbox of the desk, as (service, database URL, table)."""
    return [
        ("intake", env["LOKET_INTAKE_DATABASE_URL"], intake_storage.outbox),
        ("queue", env["LOKET_QUEUE_DATABASE_URL"], queue_storage.outbox),
        ("notify", env["LOKET_NOTIFY_DATABASE_URL"], notify_storage.outbox),
        ("notify", env["LOKET_NOTIFY_DATABASE_URL"], notify_storage.attempts_outbox),
    ]


def tickets_in_queue(env: Mapping[str, str]) -> list[str]:
    engine = create_engine(env["LOKET_QUEUE_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return conn.scalars(select(queue_storage.tickets.c.id)).all()
    finally:
        engine.dispose()


def one_confirmation_each(accepted: Mapping[str, str], smtp) -> None:
    """Every customer has a confirmation, and never under a second Message-ID. (A
    confirmation starts its thread; what follows, such as a resolution, answers it.)"""

    def confirmations() -> dict[str, set[str]]:
        ids: dict[str, set[str]] = {}
        for message in list(smtp.messages):
            if message["In-Reply-To"] is None:
                ids.setdefault(message["To"], set()).add(message["Message-ID"])
        return ids

    wait_until(
        lambda: set(accepted.values()) <= set(confirmations()),
        timeout=120,
        what="a confirmation to every customer",
    )
    assert all(len(confirmations()[a]) == 1 for a in accepted.values())


def settled(desk: Desk, accepted: Mapping[str, str]) -> None:
    """Every accepted request in the queue exactly once, and every outbox empty."""
    _waited(
        desk, ("intake", "queue"), lambda: set(accepted) <= set(tickets_in_queue(desk.env)),
        timeout=120, what="every accepted request in the queue",
    )  # fmt: skip
    tickets = tickets_in_queue(desk.env)
    assert sorted(tickets) == sorted(accepted)
    outboxes_emptied(desk)


def outboxes_emptied(desk: Desk, timeout: float = 180) -> None:
    """Every outbox of the desk empty. The default is generous: after a broker node is
    lost, a relay may wait 15 s for confirms, then up to two heartbeats (60 s) for its
    old connection to close, then reconnect (docs/reliability.md)."""
    for service, url, table in outboxes(desk.env):
        where = f"{table.name} of {url.rsplit('/', 1)[-1]}"
        _waited(desk, (service,), lambda u=url, t=table: unsent(u, t) == 0, timeout, where)


def _waited(desk: Desk, services: tuple[str, ...], probe, timeout: float, what: str) -> None:
    """wait_until, failing with what the services' workers were doing at the time."""
    try:
        wait_until(probe, timeout=timeout, what=what)
    except pytest.fail.Exception as stuck:
        pytest.fail(f"{stuck}\n" + "\n".join(desk.where_workers_are(s) for s in services))
