"""Helpers for tests that talk to the real broker, databases and processes."""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pika
import pytest
import redis
import requests
from sqlalchemy import create_engine, text

from services.common import broker
from services.common.accounts import add_account, change_account
from services.common.auth import add_key
from services.common.db import migrate

REPO = Path(__file__).resolve().parents[1]
AMQP_URL = os.environ.get("LOKET_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
PG_ADMIN_URL = os.environ.get(
    "LOKET_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")
T = TypeVar("T")


# Below the kernel's ephemeral range (32768 and up on Linux): a port the kernel hands
# out for port 0 is also what it picks for outgoing connections, and one of those (to
# PostgreSQL, to RabbitMQ) once took a server's port between its choice and its bind.
_PORTS = range(20000, 32768)
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port no server listens on, and not handed out before in this process."""
    while True:
        port = random.choice(_PORTS)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port


def wait_until(
    probe: Callable[[], T], timeout: float = 20.0, interval: float = 0.1, what: str = ""
) -> T:
    """Poll until `probe` answers something truthy; fail naming what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or probe}")
        time.sleep(interval)


def require_broker() -> None:
    try:
        broker.connect(AMQP_URL, "loket-tests").close()
    except (pika.exceptions.AMQPError, OSError) as exc:
        pytest.fail(
            f"RabbitMQ does not answer at {AMQP_URL} ({type(exc).__name__}). These tests need "
            "it: start it with `rabbitmq-server -detached` (see DEVELOPERS.md).",
            pytrace=False,
        )


REDIS_URL = os.environ.get("LOKET_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def require_redis() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis does not answer at {REDIS_URL} ({type(exc).__name__}). The whole-desk "
            "tests count rate limits and sign-in failures there: start it with "
            "`redis-server --daemonize yes`.",
            pytrace=False,
        )
    return REDIS_URL


def require_postgres() -> None:
    engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.fail(
            f"PostgreSQL does not answer at {PG_ADMIN_URL} ({type(exc).__name__}). Start it "
            "with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`.",
            pytrace=False,
        )
    finally:
        engine.dispose()


class Databases:
    """Fresh, migrated databases for one test run; PostgreSQL ones dropped afterwards."""

    def __init__(self, run_id: str, directory: Path) -> None:
        self.run_id = run_id
        self.directory = directory
        self.pg_databases: list[str] = []

    def url(self, backend: str, service: str, *, migrated: bool = True) -> str:
        suffix = uuid.uuid4().hex[:6]
        if backend == "sqlite":
            url = f"sqlite:///{self.directory / f'{service}-{suffix}.db'}"
        else:
            name = f"loket_{self.run_id}_{service}_{suffix}".replace("-", "_")
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            self.pg_databases.append(name)
            url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        if migrated:
            migrate(service, url)
        return url

    def drop_all(self) -> None:
        if not self.pg_databases:
            return
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in self.pg_databases:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def delete_namespace(namespace: str, work_queues: Iterable[broker.WorkQueue] = ()) -> None:
    """Remove a namespace's known exchanges and queues from the shared broker, at once.

    Quorum queues hold file handles in the broker, so a run deletes what each test made as
    soon as the test ends instead of letting hundreds pile up until the broker refuses
    connections.
    """
    queues: list[str] = []
    exchanges = [broker.name(namespace, e) for e in (broker.EVENTS_EXCHANGE, broker.DEAD_EXCHANGE)]
    for service in broker.BINDINGS:
        queues += [
            broker.queue_name(namespace, service),
            broker.dead_letter_queue_name(namespace, service),
        ]
    for work in work_queues:
        exchange, declared = work.objects(namespace, delivery_limit=1)
        exchanges.append(exchange)
        queues += [queue for queue, _, _ in declared]
    _delete(queues, exchanges)


def queues_starting_with(prefix: str) -> list[str]:
    """Every queue on the broker whose name starts with prefix, whoever declared it."""
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "name"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return [q for q in listed.stdout.split() if q.startswith(prefix)]


def delete_leftovers(prefix: str) -> None:
    """Remove every queue whose name starts with prefix, whoever declared it."""
    _delete(queues_starting_with(prefix), [])


def _delete(queues: list[str], exchanges: list[str]) -> None:
    with contextlib.suppress(pika.exceptions.AMQPError, OSError):
        connection = broker.connect(AMQP_URL, "loket-tests-cleanup")
        channel = connection.channel()
        for queue in dict.fromkeys(queues):
            channel.queue_delete(queue)
        for exchange in dict.fromkeys(exchanges):
            channel.exchange_delete(exchange)
        connection.close()


def write_keys(path: Path) -> dict[str, str]:
    """One key per role, plus a phone system that may not submit walk-ins."""
    return {
        "portal": add_key(path, "portal", "client", ["web", "email", "chat", "walk_in",
                                                     "phone", "callback"]),
        "phone": add_key(path, "phone-ivr", "client", ["phone", "callback"]),
        "agent": add_key(path, "alice", "agent"),
        "other_agent": add_key(path, "dave", "agent"),
        "supervisor": add_key(path, "bob", "supervisor"),
        "admin": add_key(path, "carol", "admin"),
        # Loket's own portal: submits for customers, and acts for signed-in people.
        "portal_app": add_key(path, "portal-app", "portal", ["web", "callback"]),
    }  # fmt: skip


# People who sign in to the console (services.common.accounts), with their passwords.
PEOPLE = {
    "ann": ("agent", "ann-password-1"),
    "ben": ("supervisor", "ben-password-1"),
    "cas": ("admin", "cas-password-1"),
    "dora": ("agent", "dora-password-1"),  # disabled
    "eve": ("agent", "eve-password-1"),  # the back office
}


def write_accounts(path: Path) -> Path:
    for name, (role, password) in PEOPLE.items():
        add_account(path, name, role, password)
    change_account(path, "dora", disabled=True)
    return path


def on_behalf(key: str, person: str) -> dict[str, str]:
    """The portal's key, acting for a signed-in person."""
    return {**bearer(key), "X-Loket-On-Behalf-Of": person}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def publish_raw(namespace: str, routing_key: str, body: bytes, **props: Any) -> None:
    connection = broker.connect(AMQP_URL, "loket-tests-publisher")
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            broker.name(namespace, broker.EVENTS_EXCHANGE),
            routing_key,
            body,
            properties=pika.BasicProperties(delivery_mode=2, **props),
            mandatory=True,
        )
    finally:
        connection.close()


def queue_depth(queue: str) -> int:
    return _queue_state(queue).message_count


def queue_consumers(queue: str) -> int:
    """How many consumers are attached; 0 while the queue is not even declared."""
    try:
        return _queue_state(queue).consumer_count
    except pika.exceptions.ChannelClosedByBroker:
        return 0


def _queue_state(queue: str) -> Any:
    connection = broker.connect(AMQP_URL, "loket-tests-depth")
    try:
        return connection.channel().queue_declare(queue, passive=True).method
    finally:
        connection.close()


def drain(queue: str) -> list[bytes]:
    connection = broker.connect(AMQP_URL, "loket-tests-drain")
    bodies = []
    try:
        channel = connection.channel()
        while True:
            method, _props, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return bodies
            bodies.append(body)
    finally:
        connection.close()


class HoldingProxy:
    """A TCP proxy to a server whose open connections can be held: from then on nothing
    the server sends reaches the client (a broker that took a publish and never confirms
    it), while connections made later pass as before."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._held: list[threading.Event] = []
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(self.target)
            held = threading.Event()
            self._held.append(held)
            self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, held), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, held: threading.Event | None) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if held is not None and held.is_set():
                    return  # what the server says from now on goes nowhere
                sink.sendall(data)

    def hold_open_connections(self) -> None:
        for held in self._held:
            held.set()

    def close(self) -> None:
        self.listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class Proc:
    """A real process of the project, its output kept for the failure message."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path = REPO) -> None:
        self.output: list[str] = []
        self.popen = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in iter(self.popen.stdout.readline, b""):
            self.output.append(line.decode(errors="replace"))

    @property
    def log(self) -> str:
        return "".join(self.output[-200:])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self._close()
        return self.popen.returncode

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()
        self._close()

    def _close(self) -> None:
        self._reader.join(timeout=5)
        if self.popen.stdout is not None:
            self.popen.stdout.close()


def python_module(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


@contextlib.contextmanager
def started(proc: Proc, health_url: str | None = None, timeout: float = 30) -> Iterator[Proc]:
    try:
        if health_url:
            deadline = time.monotonic() + timeout
            while not http_ok(health_url):
                if proc.popen.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"process did not become healthy at {health_url}:\n{proc.log}")
                time.sleep(0.1)
        yield proc
    finally:
        proc.stop()


def valid_request(**changes: Any) -> dict[str, Any]:
    """A request that the default catalogue accepts on the portal."""
    body: dict[str, Any] = {
        "channel": "web",
        "category": "password_reset",
        "subject": "Locked out",
        "description": "I cannot sign in since this morning.",
        "fields": {"account": "jdoe", "system": "workstation"},
        "requester": {"name": "J. Doe", "email": "j.doe@example.org", "language": "en"},
    }
    body.update(changes)
    return body


def debian_tool(name: str) -> str:
    """nginx or promtool, as scripts/debian-tools.sh unpacked them (or the machine's own)."""
    for folder in ("usr/sbin", "usr/bin"):
        unpacked = REPO / ".venv" / "debian" / folder / name
        if unpacked.exists():
            return str(unpacked)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: `make test` unpacks it (scripts/debian-tools.sh)")
    return found


def queried_metrics(*expressions: str) -> set[str]:
    """The loket_* metric names PromQL expressions read (a histogram by its base name)."""
    names = set()
    for expression in expressions:
        for metric in re.findall(r"\bloket_[a-z_]+", expression):
            names.add(re.sub(r"_(bucket|sum|count)$", "", metric))
    return names


class FromAddress(requests.adapters.HTTPAdapter):
    """Connections from another loopback address (any 127/8 address is this machine's):
    another client, as a server sees it."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)
