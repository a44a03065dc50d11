"""`make run`: every web and worker process of the four services, on one machine.

Checks the broker first (and says how to start one), migrates every database, then starts
`python -m services <service> web|worker` for each service with its output prefixed by the
process's name. Ctrl-C (or SIGTERM) stops them all; if one dies, the others are stopped too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from types import FrameType

import pika

from services.common import broker
from services.common.config import REPO_ROOT, SERVICES, ConfigError, load_settings, var_dir
from services.common.logs import configure

BROKER_HELP = """\
No RabbitMQ answers at {url} ({error}).
Start one, for example:
  rabbitmq-server -detached                      (Debian/Ubuntu package)
  docker run -d -p 5672:5672 rabbitmq:3.13       (with Docker)
or point LOKET_AMQP_URL at a running broker."""


def check_broker(amqp_url: str) -> str | None:
    try:
        broker.connect(amqp_url, "loket-launcher").close()
    except (pika.exceptions.AMQPError, OSError) as exc:
        return BROKER_HELP.format(url=_redact(amqp_url), error=type(exc).__name__)
    return None


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest


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
    ensure_dev_keys(environ)
    python = sys.executable
    for service in SERVICES:
        result = subprocess.run(
            [python, "-m", "services", service, "migrate"], env=environ, cwd=REPO_ROOT, check=False
        )
        if result.returncode != 0:
            print(f"loket: migrating {service} failed", file=sys.stderr)
            return 1

    processes: list[Process] = []
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
    for service in SERVICES:
        print(
            f"loket: {service:8} http://{settings[service].http_host}:{settings[service].http_port}"
        )

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
