"""Intake's accepted requests per second against a bare Flask insert-and-commit.

    .venv/bin/python -m bench.intake [--backend sqlite|postgresql] [--seconds 10]

Both servers run under gunicorn with deploy/gunicorn.conf.py and the same workers and
threads, on the same database kind; the same load generator drives both, alternating, and
the best of the rounds is kept for each. Intake does everything a real request needs
(authentication, rate limiting, validation against the catalogue, the request row, its
reference and its outbox event in one transaction); the baseline does one insert.
The relay is not running, so the outbox only grows; the goal is a ratio of at least 0.5.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

from bench import load
from services.common.auth import add_key
from services.common.db import migrate
from tests.support import PG_ADMIN_URL, free_port

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN = PG_ADMIN_URL  # the same server and override as the tests


def database(backend: str, workdir: Path) -> tuple[str, callable]:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", lambda: None
    name = f"loket_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


def wait_healthy(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server at {url} exited")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    sys.exit(f"server at {url} did not start")


def body(n: int) -> dict:
    return {
        "channel": "web",
        "category": "password_reset",
        "subject": f"Locked out {n}",
        "description": "I cannot sign in since this morning.",
        "fields": {"account": f"user{n}", "system": "workstation"},
        # A customer each, as on a real desk (one address gets five confirmations an hour).
        "requester": {"name": "J. Doe", "email": f"j.doe{n}@example.org", "language": "en"},
        "impact": "low",
        "urgency": "medium",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--gunicorn-workers", default="2")
    parser.add_argument("--gunicorn-threads", default="4")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="loket-bench-"))
    url, drop = database(args.backend, workdir)
    migrate("intake", url)
    key = add_key(workdir / "keys.yaml", "bench", "client", ["web"])
    intake_port, bare_port = free_port(), free_port()
    env = {
        **os.environ,
        "LOKET_INTAKE_DATABASE_URL": url,
        "LOKET_API_KEYS_FILE": str(workdir / "keys.yaml"),
        "LOKET_INTAKE_HTTP_PORT": str(intake_port),
        "LOKET_RATE_LIMIT_PER_KEY": "100000000/minute",
        "LOKET_RATE_LIMIT_PER_ADDRESS": "100000000/minute",
        "LOKET_ACCESS_LOG": "0",
        "LOKET_LOG_LEVEL": "WARNING",
        "LOKET_VAR_DIR": str(workdir),
        "GUNICORN_WORKERS": args.gunicorn_workers,
        "GUNICORN_THREADS": args.gunicorn_threads,
        "BENCH_DATABASE_URL": url,
    }
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "services", "intake", "web"],
            cwd=REPO,
            env=env,
            start_new_session=True,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                str(REPO / "deploy" / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{bare_port}",
                "bench.bare_app:create_app()",
            ],
            cwd=REPO,
            env=env,
            start_new_session=True,
        ),
    ]
    try:
        wait_healthy(f"http://127.0.0.1:{intake_port}/healthz", servers[0])
        wait_healthy(f"http://127.0.0.1:{bare_port}/", servers[1])
        headers = {"Authorization": f"Bearer {key}"}
        intake_url = f"http://127.0.0.1:{intake_port}/v1/requests"
        bare_url = f"http://127.0.0.1:{bare_port}/bare"

        def call_intake(session: requests.Session, n: int) -> int:
            return session.post(intake_url, json=body(n), headers=headers, timeout=10).status_code

        def call_bare(session: requests.Session, n: int) -> int:
            return session.post(bare_url, json=body(n), timeout=10).status_code

        shape = {"processes": args.processes, "threads": args.threads}
        load.run(call_intake, seconds=2, **shape)  # warm up both
        load.run(call_bare, seconds=2, **shape)
        best: dict[str, load.Result] = {}
        for _ in range(args.rounds):
            for name, call in (
                ("bare insert+commit", call_bare),
                ("intake POST /v1/requests", call_intake),
            ):
                result = load.run(call, seconds=args.seconds, **shape)
                if name not in best or result.rate > best[name].rate:
                    best[name] = result
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        drop()
        shutil.rmtree(workdir, ignore_errors=True)

    bare, intake = best["bare insert+commit"], best["intake POST /v1/requests"]
    print(
        f"# bench/intake.py  {time.strftime('%Y-%m-%d %H:%M')}  backend={args.backend}  "
        f"{platform.processor() or platform.machine()} x{os.cpu_count()}  "
        f"gunicorn {args.gunicorn_workers}w x {args.gunicorn_threads}t  "
        f"load {args.processes}p x {args.threads}t  best of {args.rounds} x {args.seconds}s"
    )
    print(bare.line("bare insert+commit"))
    print(intake.line("intake POST /v1/requests"))
    ratio = intake.rate / bare.rate
    print(f"ratio intake/bare: {ratio:.2f}  (goal >= 0.50: {'met' if ratio >= 0.5 else 'MISSED'})")


if __name__ == "__main__":
    main()
