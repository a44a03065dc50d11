"""End-to-end latency (intake's 201 until the ticket is visible in the queue's database)
at a steady request rate, and the cost of a /metrics scrape, on a whole running desk.

    .venv/bin/python -m bench.pipeline [--rate 100] [--seconds 20] [--backend postgresql]
                                       [--generator wrk|python]

Starts every process with the launcher `make run` uses, on free ports and a namespace of
its own. Baselines from the same run: a bare publish-to-consume through RabbitMQ at the
same rate (persistent, confirmed, a quorum queue), and each web process's bare /healthz.
Goals: end-to-end p95 below 250 ms at 100 requests per second; a scrape below 50 ms.

The requests come from Debian's wrk (`make dev` unpacks it), which costs the machine a
fraction of a millisecond per request. A reader polls the queue's database every 5 ms
for new history lines; each ticket's wait runs from its arrival at intake (the
`created_at` the queue keeps) until the reader saw it. `--generator python` sends the
requests from Python threads (open loop) and measures from each 201 instead.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pika
import psycopg
import requests
from sqlalchemy.engine import make_url

from bench import cpu
from bench.intake import REPO, body, database, wait_healthy
from services.common import broker
from services.common.auth import add_key
from services.common.config import SERVICES
from services.common.events import to_utc
from tests import support
from tests.receivers import smtp_receiver

AMQP_URL = support.AMQP_URL


def percentiles(values: list[float]) -> str:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {cuts[49]:.1f} / p95 {cuts[94]:.1f} / p99 {cuts[98]:.1f} ms"


def paced(rate: float, seconds: float, send) -> None:
    """Open loop: request i starts at i / rate, whatever the earlier ones are doing."""
    count = int(rate * seconds)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=32) as pool:
        for i in range(count):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, i)


def bare_publish_consume(namespace: str, rate: float, seconds: float) -> list[float]:
    """Milliseconds from publishing (before the confirm) until a consumer holds it."""
    queue = broker.name(namespace, "bench.latency")
    received: dict[str, float] = {}
    ready = threading.Event()

    def consume() -> None:
        connection = broker.connect(AMQP_URL, "bench-consumer")
        channel = connection.channel()
        channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        ready.set()
        expected = int(rate * seconds)
        for _, properties, _ in channel.consume(queue, auto_ack=True, inactivity_timeout=10):
            if properties is None:
                break
            received[properties.message_id] = time.perf_counter()
            if len(received) == expected:
                break
        channel.cancel()
        channel.queue_delete(queue)
        connection.close()

    consumer = threading.Thread(target=consume)
    consumer.start()
    ready.wait(10)
    sent: dict[str, float] = {}
    connection = broker.connect(AMQP_URL, "bench-publisher")
    channel = connection.channel()
    channel.confirm_delivery()
    count, started = int(rate * seconds), time.perf_counter()
    for i in range(count):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            connection.sleep(delay)
        message_id = str(i)
        sent[message_id] = time.perf_counter()
        channel.basic_publish(
            "",
            queue,
            b"{}" * 200,
            properties=pika.BasicProperties(message_id=message_id, delivery_mode=2),
            mandatory=True,
        )
    connection.close()
    consumer.join()
    return [(received[m] - sent[m]) * 1000 for m in sent if m in received]


def bare_connection(url: str) -> psycopg.Connection | sqlite3.Connection:
    """A driver connection in autocommit: each poll sees what has been committed."""
    if url.startswith("sqlite:///"):
        return sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    libpq_url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(libpq_url, autocommit=True)


def from_python(desk_urls: dict, key: str, rate: float, seconds: float) -> tuple:
    """Requests from Python threads, open loop: (when each was answered 201, errors)."""
    accepted: dict[str, float] = {}
    errors: list[str] = []
    local = threading.local()

    def send(i: int) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        try:
            answer = session.post(
                f"{desk_urls['intake']}/v1/requests",
                json=body(i),
                headers={"Authorization": f"Bearer {key}"},
                timeout=10,
            )
        except requests.RequestException as exc:
            errors.append(type(exc).__name__)
            return
        if answer.status_code != 201:
            errors.append(str(answer.status_code))
            return
        accepted[answer.json()["id"]] = time.time()

    paced(rate, seconds, send)
    return accepted, errors


def end_to_end(send, queue_db: str) -> tuple:
    """Runs `send` while a reader polls the queue's database every few milliseconds for
    new history lines (written in the ticket's own transaction): when each ticket became
    visible there. `send` answers when each request was accepted (wall clock), or None:
    then each ticket's arrival time at intake, which the queue stores, stands for it."""
    seen: dict[str, float] = {}
    done = threading.Event()
    expected = float("inf")
    polls = 0

    def watch() -> None:
        # A bare driver connection, so the watching costs the machine little.
        nonlocal polls
        last = 0
        with closing(bare_connection(queue_db)) as conn:
            while not done.is_set() or len(seen) < expected:
                rows = conn.execute(
                    f"SELECT id, ticket_id FROM history WHERE id > {int(last)} ORDER BY id"
                ).fetchall()
                polls += 1
                now = time.time()
                for row_id, ticket_id in rows:
                    seen.setdefault(ticket_id, now)
                    last = row_id
                if done.is_set() and time.time() - finished > 60:
                    break
                time.sleep(0.005)

    finished = float("inf")
    watcher = threading.Thread(target=watch)
    watcher.start()
    accepted, count, errors, generator_cpu = send()
    expected, finished = count, time.time()
    done.set()
    watcher.join()
    if accepted is None:
        accepted = arrivals(queue_db)
    # A ticket seen before its 201 arrived counts as no wait at all.
    latencies = [max(0.0, seen[t] - at) * 1000 for t, at in accepted.items() if t in seen]
    return latencies, count, errors, polls, generator_cpu


def arrivals(queue_db: str) -> dict[str, float]:
    """When intake accepted each ticket (its `created_at`, which the queue keeps)."""
    with closing(bare_connection(queue_db)) as conn:
        rows = conn.execute("SELECT id, created_at FROM tickets").fetchall()

    def moment(value) -> float:
        return to_utc(
            datetime.fromisoformat(value) if isinstance(value, str) else value
        ).timestamp()

    return {ticket_id: moment(created) for ticket_id, created in rows}


WRK = REPO / ".venv" / "debian" / "usr" / "bin" / "wrk"
WRK_SCRIPT = Path(__file__).with_name("paced_requests.lua")


def with_wrk(
    intake_url: str, key: str, rate: float, seconds: float
) -> tuple[int, list[str], float]:
    """Requests from wrk at about `rate` a second: (answered 201, errors, wrk's CPU seconds)."""
    if not WRK.exists():
        sys.exit(f"{WRK} is missing: run `make dev` (or use --generator python)")
    connections = max(4, round(rate / 2))  # at most half a second's requests at once
    libs = next(WRK.parents[1].glob("lib/*/libluajit-5.1.so.2")).parent
    wrk = subprocess.Popen(
        [str(WRK), "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
         "-s", str(WRK_SCRIPT), intake_url, "--", key, f"{rate:g}", str(connections)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "LD_LIBRARY_PATH": str(libs)},
    )  # fmt: skip
    output = wrk.stdout.read() if wrk.stdout else ""
    _, status, usage = os.wait4(wrk.pid, 0)
    wrk.returncode = os.waitstatus_to_exitcode(status)
    if wrk.returncode != 0:
        sys.exit(f"wrk failed:\n{output}")
    total = int(re.search(r"(\d+) requests in", output).group(1))
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(r"Socket errors: (.*)", output)
    errors = [f"{refused.group(1)} answers not 201"] if refused else []
    errors += [f"socket errors: {socket.group(1)}"] if socket else []
    accepted = total - (int(refused.group(1)) if refused else 0)
    return accepted, errors, usage.ru_utime + usage.ru_stime


def wait_until_drained(namespace: str, timeout: float = 120) -> None:
    """Until every queue of the desk is empty twice in a row: all the work the requests caused.

    Dead-letter queues are left out: what lies there is not waiting for anyone.
    """
    queues = [q for q in support.queues_starting_with(f"{namespace}.") if not q.endswith(".dead")]
    connection = broker.connect(AMQP_URL, "bench-drain")
    channel = connection.channel()
    deadline, empty_in_a_row = time.monotonic() + timeout, 0
    while empty_in_a_row < 2 and time.monotonic() < deadline:
        waiting = sum(channel.queue_declare(q, passive=True).method.message_count for q in queues)
        empty_in_a_row = empty_in_a_row + 1 if waiting == 0 else 0
        connection.sleep(0.5)
    connection.close()


def transactions(urls: list[str]) -> int | None:
    """Transactions the desk's PostgreSQL databases have finished so far (None on SQLite).

    A pool's pre-ping counts as one. A backend reports its counts at most once a second,
    and one that falls idle keeps its last ones until it works again or exits: a count
    taken right after the load may miss the last second of it.
    """
    if not urls[0].startswith("postgresql"):
        return None
    names = [make_url(url).database for url in urls]
    with closing(bare_connection(urls[0])) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return conn.execute(
            "SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database WHERE datname = ANY(%s)",
            (names,),
        ).fetchone()[0]


def messages(urls: dict[str, str]) -> dict[str, dict[str, int]]:
    """Per service, the events it published (its outbox), the jobs it sent itself (notify's
    attempts outbox) and the events it applied (its inbox): counted where they are kept."""
    counts: dict[str, dict[str, int]] = {}
    for service, url in urls.items():
        with closing(bare_connection(url)) as conn:
            for table in ("outbox", "attempts_outbox", "inbox"):
                try:
                    found = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                except (psycopg.Error, sqlite3.Error):
                    continue  # this service has no such table
                counts.setdefault(service, {})[table] = found
    return counts


def scrape_times(url: str, count: int = 50) -> list[float]:
    session, times = requests.Session(), []
    for _ in range(count):
        started = time.perf_counter()
        assert session.get(url, timeout=10).status_code == 200
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--generator", choices=["wrk", "python"], default="wrk")
    args = parser.parse_args()

    smtp_sink = smtp_receiver()
    smtp = smtp_sink.__enter__()  # a real SMTP server that takes every confirmation
    workdir = Path(tempfile.mkdtemp(prefix="loket-bench-"))
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    databases = {s: database(args.backend, workdir / s) for s in SERVICES}
    for service in SERVICES:
        (workdir / service).mkdir(exist_ok=True)
    key = add_key(workdir / "keys.yaml", "bench", "client", ["web"])
    env = {
        **os.environ,
        "LOKET_NAMESPACE": namespace,
        "LOKET_AMQP_URL": AMQP_URL,
        "LOKET_API_KEYS_FILE": str(workdir / "keys.yaml"),
        "LOKET_VAR_DIR": str(workdir),
        "LOKET_ACCESS_LOG": "0",
        "LOKET_LOG_LEVEL": "WARNING",
        "LOKET_RATE_LIMIT_PER_KEY": "100000000/minute",
        "LOKET_RATE_LIMIT_PER_ADDRESS": "100000000/minute",
        "LOKET_SMTP_URL": smtp.url,
    }
    urls = {}
    for service in SERVICES:
        port = support.free_port()
        env[f"LOKET_{service.upper()}_HTTP_PORT"] = str(port)
        env[f"LOKET_{service.upper()}_METRICS_PORT"] = str(support.free_port())
        env[f"LOKET_{service.upper()}_DATABASE_URL"] = databases[service][0]
        urls[service] = f"http://127.0.0.1:{port}"
    env["LOKET_PUBLIC_BASE_URL"] = urls["intake"]
    env["LOKET_QUEUE_URL"] = urls["queue"]
    launcher = subprocess.Popen(
        [sys.executable, "-m", "services.launcher"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for service in SERVICES:
            wait_healthy(f"{urls[service]}/readyz", launcher)
        time.sleep(2)  # the workers connect and declare their queues

        baseline = bare_publish_consume(namespace, args.rate, args.seconds)
        # On stderr, for whoever wants to attach a profiler (py-spy) to a process now.
        print(f"load: {args.rate:g}/s for {args.seconds:g} s", file=sys.stderr, flush=True)
        database_urls = [url for url, _ in databases.values()]
        transactions_before = transactions(database_urls)
        cpu_before, started = cpu.snapshot(launcher.pid), time.perf_counter()
        if args.generator == "wrk":

            def send() -> tuple:
                return None, *with_wrk(urls["intake"], key, args.rate, args.seconds)
        else:

            def send() -> tuple:
                accepted, errors = from_python(urls, key, args.rate, args.seconds)
                return accepted, len(accepted), errors, None

        latencies, accepted, errors, polls, generator_cpu = end_to_end(send, databases["queue"][0])
        sent_for = args.seconds
        wait_until_drained(namespace)
        cpu_after, wall = cpu.snapshot(launcher.pid), time.perf_counter() - started
        if generator_cpu is not None:
            cpu_after["load generator (wrk)"] = generator_cpu
        cpu_used = cpu.report(cpu_before, cpu_after, accepted, wall)
        kept = messages({s: url for s, (url, _) in databases.items()})
        transactions_after = transactions(database_urls)
        scrapes = {s: scrape_times(f"{urls[s]}/metrics") for s in SERVICES}
        health = {s: scrape_times(f"{urls[s]}/healthz") for s in SERVICES}
    finally:
        launcher.terminate()
        launcher.wait(60)
        support.delete_namespace(namespace)
        support.delete_leftovers(f"{namespace}.")  # what else the desk declared: work queues
        for _, drop in databases.values():
            drop()
        smtp_sink.__exit__(None, None, None)

    print(
        f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores, "
        f"{args.backend}, {args.rate:.0f} requests/s for {args.seconds:.0f} s from "
        f"{args.generator} (reached {accepted / sent_for:.1f} accepted/s)"
    )
    print(f"bare publish -> consume (baseline): {percentiles(baseline)}")
    print(
        f"intake 201 -> visible in queue:    {percentiles(latencies)} "
        f"({len(latencies)} of {accepted} accepted seen, {len(errors)} errors)"
    )
    print("goal: p95 below 250 ms")
    for service in SERVICES:
        print(
            f"{service:8} /metrics scrape: {percentiles(scrapes[service])}; "
            f"bare /healthz: {percentiles(health[service])}"
        )
    print("goal: a scrape below 50 ms")
    print(cpu_used)
    if transactions_before is not None:
        # Each of the watcher's polls is a transaction of its own (autocommit).
        desk = transactions_after - transactions_before - polls
        print(f"database transactions per accepted request: {desk / max(accepted, 1):.1f}")

    def per_request(table: str) -> str:
        found = {s: c[table] for s, c in kept.items() if table in c}
        each = ", ".join(f"{s} {n / max(accepted, 1):.2f}" for s, n in found.items())
        return f"{sum(found.values()) / max(accepted, 1):.2f} ({each})"

    print(f"events published per accepted request: {per_request('outbox')}")
    print(f"jobs published per accepted request:   {per_request('attempts_outbox')}")
    print(f"events applied per accepted request:   {per_request('inbox')}")


if __name__ == "__main__":
    main()
