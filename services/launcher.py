"""`make run`: every web and worker process of the four services, on one machine.

Checks the broker first (and says how to start one) and that no other desk holds its
ports, migrates every database, then starts `python -m services <service> web|worker` for
each service and the gateway (Debian's nginx with the deployment's configuration), each
with its output prefixed by the process's name. Ctrl-C (or SIGTERM) stops them all; if one
dies, the others are stopped too.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import pika
from pika.adapters.utils.connection_workflow import (
    AMQPConnectorException,
    AMQPConnectorStackTimeout,
)

from services import gateway
from services.common import broker
from services.common.config import (
    REPO_ROOT,
    SERVICES,
    ConfigError,
    load_settings,
    private_var_dir,
    var_dir,
)
from services.common.logs import configure
from services.portal.settings import load_portal_settings

BROKER_HELP = """\
No RabbitMQ answers at {url} ({error}).
Start one, for example:
  rabbitmq-server -detached                      (Debian/Ubuntu package)
  docker run -d -p 5672:5672 rabbitmq:3.13       (with Docker)
or point LOKET_AMQP_URL at a running broker."""


BROKER_REFUSES = """\
The RabbitMQ at {url} refuses the user, the password or the virtual host ({error}).
Check LOKET_AMQP_URL (amqp://user:password@host:5672/vhost), or give that user access:
  rabbitmqctl set_permissions -p <vhost> <user> '.*' '.*' '.*'"""
BROKER_SILENT = """\
Something accepts connections at {url} but does not answer as RabbitMQ does ({error}):
is it another program on that port, or a broker still starting? Point LOKET_AMQP_URL at
the broker's AMQP port (5672 by default)."""
REFUSED_CREDENTIALS = (
    pika.exceptions.ProbableAuthenticationError,
    pika.exceptions.ProbableAccessDeniedError,
    pika.exceptions.AuthenticationError,
)


def check_broker(amqp_url: str) -> str | None:
    # pika logs every failed step of a connection as an error with a traceback; the one
    # message that says what to do is the launcher's own.
    quiet = logging.getLogger("pika")
    level, quiet.level = quiet.level, logging.CRITICAL
    url = _redact(amqp_url)
    try:
        broker.connect(amqp_url, "loket-launcher").close()
    except REFUSED_CREDENTIALS as exc:
        return BROKER_REFUSES.format(url=url, error=type(exc).__name__)
    except AMQPConnectorStackTimeout as exc:
        return BROKER_SILENT.format(url=url, error=type(exc).__name__)
    except (pika.exceptions.AMQPError, AMQPConnectorException, OSError) as exc:
        # AMQPConnectorException is not an AMQPError: pika's connection workflow has its own.
        return BROKER_HELP.format(url=url, error=type(exc).__name__)
    finally:
        quiet.setLevel(level)
    return None


def taken_ports(addresses: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The (host, port) pairs something already listens on."""
    taken = []
    for host, port in addresses:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                taken.append((host, port))
    return taken


def _redact(url: str) -> str:
    """A URL without its password (each of them, for a cluster's comma-separated nodes)."""
    redacted = []
    for one in url.split(","):
        scheme, sep, rest = one.strip().partition("://")
        if "@" in rest:
            rest = "***@" + rest.rsplit("@", 1)[1]
        redacted.append(scheme + sep + rest)
    return ",".join(redacted)


def ensure_dev_keys(environ: dict[str, str]) -> None:
    """A desk on a developer's machine gets one key per role, printed once."""
    if environ.get("LOKET_API_KEYS_FILE"):
        return
    path = var_dir(environ) / "api-keys.yaml"
    environ["LOKET_API_KEYS_FILE"] = str(path)
    if path.exists():
        return
    from services.common.auth import CHANNELS, add_key

    print("Created development API keys (shown once; only their hashes are stored):")
    for name, role, channels in (
        ("dev-frontend", "client", CHANNELS),
        ("dev-agent", "agent", ()),
        ("dev-supervisor", "supervisor", ()),
        ("dev-admin", "admin", ()),
    ):
        print(f"  {name:15} {role:10} {add_key(path, name, role, channels)}")


PORTAL_KEY_NAME = "loket-portal"
KIOSK_KEY_NAME = "loket-kiosk"


def portal_key(environ: dict[str, str]) -> str:
    """The portal's own key (role `portal`, channels web, call-back and walk-in: its forms
    ask, ask to be called back and book a time at the counter)."""
    channels = ("web", "callback", "walk_in")
    return _own_key(environ, "LOKET_PORTAL_API_KEY", PORTAL_KEY_NAME, "portal", channels)


def kiosk_key(environ: dict[str, str]) -> str:
    """The counter's kiosk key (role client, channel walk_in), served by the portal."""
    return _own_key(environ, "LOKET_KIOSK_API_KEY", KIOSK_KEY_NAME, "client", ("walk_in",))


def _own_key(
    environ: dict[str, str], variable: str, name: str, role: str, channels: tuple[str, ...]
) -> str:
    """A key made anew at every start unless one is given: only its hash is stored, only
    the portal process gets it."""
    if environ.get(variable):
        return environ[variable]
    from services.common.auth import add_key, rotate_key

    path = Path(environ["LOKET_API_KEYS_FILE"])
    try:
        return rotate_key(path, name, channels)  # what this version's portal needs
    except ValueError:
        return add_key(path, name, role, channels)


class Process:
    def __init__(self, label: str, argv: list[str], env: dict[str, str]) -> None:
        self.label = label
        self.popen = subprocess.Popen(
            argv,
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.popen.stdout is not None
        for line in iter(self.popen.stdout.readline, b""):
            sys.stdout.write(f"{self.label:16}| {line.decode(errors='replace')}")
            sys.stdout.flush()

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)


# Where the first run's mail goes when no LOKET_SMTP_URL names a server.
MAIL_CATCHER_PORT = 1025


def _web_url(settings: Any) -> str:
    return f"http://{settings.http_host}:{settings.http_port}"


def _port(environ: dict[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(name, f"must be a port number, got {raw!r}")
    return int(raw)


def main() -> int:
    configure("launcher")
    environ = dict(os.environ)
    try:
        settings = {s: load_settings(s, environ) for s in SERVICES}
    except ConfigError as exc:
        print(f"loket: configuration error: {exc}", file=sys.stderr)
        return 2
    problem = check_broker(settings["intake"].amqp_url)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    try:
        return _run(environ, settings)
    except ConfigError as exc:
        print(f"loket: configuration error: {exc}", file=sys.stderr)
        return 2


def _run(environ: dict[str, str], settings: dict[str, Any]) -> int:
    host = settings["intake"].http_host
    gateway_ports = (
        _port(environ, "LOKET_GATEWAY_PORT", gateway.PUBLIC_PORT),
        _port(environ, "LOKET_GATEWAY_INTERNAL_PORT", gateway.INTERNAL_PORT),
    )
    portal = load_portal_settings(environ)
    # No mail server named: the desk's mail is kept in var/mail/ (services/mailcatcher.py).
    mail_port = (
        None
        if environ.get("LOKET_SMTP_URL")
        else _port(environ, "LOKET_MAIL_CATCHER_PORT", MAIL_CATCHER_PORT)
    )
    wanted = [(host, gateway_port) for gateway_port in gateway_ports]
    if mail_port is not None:
        wanted.append(("127.0.0.1", mail_port))
    wanted.append((portal.http_host, portal.http_port))
    for service in SERVICES:
        wanted.append((host, settings[service].http_port))
        if settings[service].worker_metrics_port:
            wanted.append((settings[service].http_host, settings[service].worker_metrics_port))
    taken = taken_ports(wanted)
    if taken:
        listed = ", ".join(f"{h}:{p}" for h, p in taken)
        print(
            f"loket: {listed} already in use: is a desk running already? Stop it (Ctrl-C in "
            "its shell), or give this one other ports (LOKET_<SERVICE>_HTTP_PORT, "
            "LOKET_<SERVICE>_METRICS_PORT, LOKET_GATEWAY_PORT, LOKET_GATEWAY_INTERNAL_PORT, "
            "LOKET_MAIL_CATCHER_PORT).",
            file=sys.stderr,
        )
        return 1
    public_url = f"http://{'localhost' if host == '127.0.0.1' else host}:{gateway_ports[0]}"
    # The portal reaches the services where this desk runs them.
    environ.setdefault("LOKET_INTAKE_URL", _web_url(settings["intake"]))
    environ.setdefault("LOKET_QUEUE_URL", _web_url(settings["queue"]))
    environ.setdefault("LOKET_FEEDBACK_URL", _web_url(settings["feedback"]))
    # The links the desk sends customers open through the gateway, as under Compose.
    environ.setdefault("LOKET_PUBLIC_BASE_URL", public_url)
    # Behind that gateway each client is the address in its one X-Forwarded-For hop; without
    # it every customer and agent would be 127.0.0.1, and share one rate and one lock.
    environ.setdefault("LOKET_PROXY_HOPS", "1")
    environ.setdefault("LOKET_PORTAL_PROXY_HOPS", "1")
    # What the desk writes (databases, keys, logs, the gateway's files) is its own.
    os.umask(0o077)
    private_var_dir(environ)
    ensure_dev_keys(environ)
    # People who sign in to the console: the file `make user` writes.
    environ.setdefault("LOKET_ACCOUNTS_FILE", str(var_dir(environ) / "accounts.yaml"))
    python = sys.executable
    # One process migrates every database: importing the stack once, not four times.
    result = subprocess.run(
        [python, "-m", "services", "all", "migrate"], env=environ, cwd=REPO_ROOT, check=False
    )
    if result.returncode != 0:
        print("loket: migrating the databases failed", file=sys.stderr)
        return 1

    processes: list[Process] = []
    mail_folder = var_dir(environ) / "mail"
    if mail_port is not None:
        environ["LOKET_SMTP_URL"] = f"smtp://127.0.0.1:{mail_port}"
        processes.append(Process("mail", [python, "-m", "services.mailcatcher", "serve",
                                          "--port", str(mail_port), "--folder", str(mail_folder)],
                                 dict(environ)))  # fmt: skip
    for service in SERVICES:
        for kind in ("web", "worker"):
            env = dict(environ)
            if kind == "web":
                port = settings[service].http_port
                env["PROMETHEUS_MULTIPROC_DIR"] = str(
                    var_dir(environ) / "prometheus" / f"{service}-{port}"
                )
            processes.append(
                Process(f"{service}-{kind}", [python, "-m", "services", service, kind], env)
            )
    processes.append(Process("portal-web", [python, "-m", "services", "portal", "web"], {
        **environ,
        "LOKET_PORTAL_API_KEY": portal_key(environ),
        "LOKET_KIOSK_API_KEY": kiosk_key(environ),
        "PROMETHEUS_MULTIPROC_DIR": str(var_dir(environ) / "prometheus" / "portal"),
    }))  # fmt: skip
    try:
        nginx = gateway.write_config(
            var_dir(environ) / "gateway",
            {
                **{s: f"{settings[s].http_host}:{settings[s].http_port}" for s in SERVICES},
                "portal": f"{portal.http_host}:{portal.http_port}",
            },
            f"{host}:{gateway_ports[0]}",
            f"{host}:{gateway_ports[1]}",
        )
    except FileNotFoundError as exc:
        print(f"loket: {exc}", file=sys.stderr)
        for p in processes:
            p.stop()
        return 1
    processes.append(Process("gateway", nginx, dict(environ)))
    print(f"loket: customers  {environ['LOKET_PUBLIC_BASE_URL']} (the portal and the public API)")
    print(f"loket: all APIs   http://{host}:{gateway_ports[1]}/<service>/ (via the gateway)")
    for service in SERVICES:
        print(
            f"loket: {service:8} http://{settings[service].http_host}:{settings[service].http_port}"
        )
    if mail_port is not None:
        print(f"loket: mail     kept in {mail_folder}/ (no LOKET_SMTP_URL): `make mail` lists it")

    stopping = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    status = 0
    while not stopping.wait(0.5):
        dead = [p for p in processes if p.popen.poll() is not None]
        if dead:
            for p in dead:
                print(
                    f"loket: {p.label} exited with status {p.popen.returncode}; stopping all",
                    file=sys.stderr,
                )
            status = 1
            break
    for p in processes:
        p.stop()
    deadline = time.monotonic() + 25
    for p in processes:
        try:
            p.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.popen.kill()
    print("loket: stopped")
    return status


if __name__ == "__main__":
    sys.exit(main())
