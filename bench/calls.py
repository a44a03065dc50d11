"""A phone system at 20 call events a second against a whole running desk: how soon a
caller who hung up is in the queue as a call-back, and what a call event costs.

    .venv/bin/python -m bench.calls [--backend postgresql|sqlite] [--rate 20] [--seconds 30]

Starts every process with the launcher `make run` uses, on free ports and a namespace of
its own. The phone system sends Zammad's generic CTI events to intake's `POST /v1/calls`
on a schedule made up front: calls come in at the rate that makes `--rate` events a
second; a quarter of the callers hang up unanswered after 2 to 6 seconds (`cancel`), the
others are answered after 2 to 6 seconds and hang up 2 to 8 seconds later. Every caller
has a number of their own, so every abandoned call owes one call-back.

Two phases of `--seconds` each, then a baseline:

1. **Hangup to queue.** A watcher asks the queue (`GET /v1/tickets?requester=&channel=
   callback`, as the console's list does) every 50 ms for each call-back still owed; a
   call-back's time runs from the moment its hangup was sent until the queue lists it.
   Goal (issue 36): p95 under 1 s.
2. **Cost.** The same load without the watcher: the CPU every process of the desk used
   (web, workers, PostgreSQL, RabbitMQ), less what the idle desk uses in the same time
   (measured for 10 s before), per call event.
3. **Baseline.** A bare Flask endpoint doing one insert and commit (bench/bare_app.py,
   the same gunicorn settings, the same database kind) at the same rate for the same
   time: its CPU (its web process and the database, less the idle desk's database) per
   POST.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench import cpu
from bench.intake import REPO, database, wait_healthy
from services.common.auth import add_key
from services.common.config import SERVICES
from tests import support
from tests.receivers import smtp_receiver

ABANDONED_SHARE = 0.25
WATCH_SECONDS = 0.05
SENDERS = 8
IDLE_SECONDS = 10
# Whose CPU is the desk's: every process the launcher started, and the servers it uses.
NOT_THE_DESK = {"benchmark", "launcher", "bare-web"}


@dataclass(order=True)
class Event:
    at: float  # seconds from the phase's start
    fields: dict = field(compare=False)
    # The caller's number, on the hangup of an abandoned call: a call-back is owed to it.
    owed_to: str | None = field(default=None, compare=False)


@dataclass
class Phase:
    hangups: dict[str, float] = field(default_factory=dict)  # number: hangup sent (epoch)
    visible: dict[str, float] = field(default_factory=dict)  # number: listed by the queue
    sent: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def schedule(rate: float, seconds: float, rng: random.Random, first: int) -> list[Event]:
    """Calls arriving at the rate that gives `rate` events a second, each with its events."""
    per_call = ABANDONED_SHARE * 2 + (1 - ABANDONED_SHARE) * 3
    events, at, n = [], 0.0, first
    while True:
        at += rng.expovariate(rate / per_call)
        if at >= seconds:
            return sorted(events)
        n += 1
        call_id, number = f"bench-{n}", f"06{20000000 + n}"
        events.append(Event(at, {"event": "newCall", "callId": call_id, "from": number,
                                 "to": "0205550100", "direction": "in"}))  # fmt: skip
        rings = rng.uniform(2, 6)
        if rng.random() < ABANDONED_SHARE:
            hangup = {"event": "hangup", "callId": call_id, "cause": "cancel"}
            events.append(Event(at + rings, hangup, owed_to=number))
        else:
            events.append(Event(at + rings, {"event": "answer", "callId": call_id,
                                             "user": "alice"}))  # fmt: skip
            events.append(Event(at + rings + rng.uniform(2, 8), {"event": "hangup",
                                "callId": call_id, "cause": "normalClearing"}))  # fmt: skip


def send_all(url: str, key: str, events: list[Event], phase: Phase) -> None:
    """The phone system: each event at its moment, from a few connections at once."""
    start = time.time() + 0.5
    shares = [events[i::SENDERS] for i in range(SENDERS)]

    def sender(mine: list[Event]) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        for event in mine:
            delay = start + event.at - time.time()
            if delay > 0:
                time.sleep(delay)
            sent_at = time.time()
            try:
                answer = session.post(url, data=event.fields, timeout=10)
            except requests.RequestException as error:
                answer = None
                with phase.lock:
                    phase.errors.append(str(error))
            with phase.lock:
                phase.sent += 1
                if answer is not None and answer.status_code != 200:
                    phase.errors.append(f"{answer.status_code} {answer.text[:200]}")
                if event.owed_to is not None:
                    phase.hangups[event.owed_to] = sent_at

    threads = [threading.Thread(target=sender, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def watch(queue_url: str, agent: str, phase: Phase, stop: threading.Event) -> None:
    """Asks the queue for every call-back still owed until each is listed."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {agent}"
    while not stop.is_set() or _owed(phase):
        for number in _owed(phase):
            found = session.get(f"{queue_url}/v1/tickets", timeout=10,
                                params={"requester": number, "channel": "callback"})  # fmt: skip
            if found.status_code == 200 and found.json()["tickets"]:
                with phase.lock:
                    phase.visible[number] = time.time()
        time.sleep(WATCH_SECONDS)


def _owed(phase: Phase) -> list[str]:
    with phase.lock:
        return [n for n in phase.hangups if n not in phase.visible]


def desk_seconds(before: dict[str, float], after: dict[str, float]) -> float:
    return sum(after[g] - before.get(g, 0.0) for g in after if g not in NOT_THE_DESK)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    smtp_sink = smtp_receiver()
    smtp = smtp_sink.__enter__()
    workdir = Path(tempfile.mkdtemp(prefix="loket-bench-calls-"))
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    keys_file = workdir / "keys.yaml"
    phone_key = add_key(keys_file, "pbx", "client", ["phone", "callback"])
    agent_key = add_key(keys_file, "watcher", "agent")
    env = {
        **os.environ,
        "LOKET_NAMESPACE": namespace,
        "LOKET_AMQP_URL": support.AMQP_URL,
        "LOKET_API_KEYS_FILE": str(keys_file),
        "LOKET_VAR_DIR": str(workdir),
        "LOKET_ACCESS_LOG": "0",
        "LOKET_LOG_LEVEL": "WARNING",
        "LOKET_RATE_LIMIT_PER_KEY": "100000000/minute",
        "LOKET_RATE_LIMIT_PER_ADDRESS": "100000000/minute",
        "LOKET_SMTP_URL": smtp.url,
    }
    urls, drops = {}, []
    for service in SERVICES:
        (workdir / service).mkdir()
        port = support.free_port()
        url, drop = database(args.backend, workdir / service)
        drops.append(drop)
        env[f"LOKET_{service.upper()}_HTTP_PORT"] = str(port)
        env[f"LOKET_{service.upper()}_METRICS_PORT"] = str(support.free_port())
        env[f"LOKET_{service.upper()}_DATABASE_URL"] = url
        urls[service] = f"http://127.0.0.1:{port}"
        env[f"LOKET_{service.upper()}_URL"] = urls[service]
    env["LOKET_PORTAL_HTTP_PORT"] = str(support.free_port())
    env["LOKET_GATEWAY_PORT"] = str(support.free_port())
    env["LOKET_GATEWAY_INTERNAL_PORT"] = str(support.free_port())
    bare_url, bare_drop = database(args.backend, workdir)
    drops.append(bare_drop)
    bare_port = support.free_port()
    launcher = subprocess.Popen([sys.executable, "-m", "services.launcher"], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    bare = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", str(REPO / "deploy" / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{bare_port}", "bench.bare_app:create_app()"],
        cwd=REPO, env={**env, "BENCH_DATABASE_URL": bare_url}, stdout=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    rng = random.Random(args.seed)
    calls_url = f"{urls['intake']}/v1/calls"
    try:
        for url in [f"{u}/readyz" for u in urls.values()]:
            wait_healthy(url, launcher)
        wait_healthy(f"http://127.0.0.1:{bare_port}/", bare)
        time.sleep(3)  # the workers connect and declare their queues
        warm = schedule(args.rate, 3, rng, 0)
        send_all(calls_url, phone_key, warm, Phase())

        # 1. Hangup to queue, with the watcher.
        print(f"phase 1: {args.rate:g} call events/s for {args.seconds:g} s, watched...",
              file=sys.stderr, flush=True)  # fmt: skip
        latency, stop = Phase(), threading.Event()
        watcher = threading.Thread(target=watch, args=(urls["queue"], agent_key, latency, stop))
        watcher.start()
        send_all(calls_url, phone_key, schedule(args.rate, args.seconds, rng, 100_000), latency)
        stop.set()
        watcher.join(timeout=60)

        # 2. Cost, without the watcher, against the idle desk's own.
        time.sleep(5)
        idle_before = cpu.snapshot(launcher.pid)
        time.sleep(IDLE_SECONDS)
        idle_after = cpu.snapshot(launcher.pid)
        idle_per_second = desk_seconds(idle_before, idle_after) / IDLE_SECONDS
        idle_db = (idle_after.get("postgresql", 0) - idle_before.get("postgresql", 0)) / (
            IDLE_SECONDS
        )
        print("phase 2: the same load, for its CPU...", file=sys.stderr, flush=True)
        cost = Phase()
        events = schedule(args.rate, args.seconds, rng, 200_000)
        before, started = cpu.snapshot(launcher.pid), time.monotonic()
        send_all(calls_url, phone_key, events, cost)
        time.sleep(3)  # the last call-backs reach the queue and notify
        after, took = cpu.snapshot(launcher.pid), time.monotonic() - started
        desk_cpu = desk_seconds(before, after) - idle_per_second * took

        # 3. The bare POST at the same rate for the same time.
        print("baseline: a bare insert-and-commit POST...", file=sys.stderr, flush=True)
        session, count = requests.Session(), len(events)
        base_before, base_started = cpu.snapshot(launcher.pid), time.monotonic()
        for n, event in enumerate(events):
            delay = base_started + event.at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            session.post(f"http://127.0.0.1:{bare_port}/bare", json={"n": n}, timeout=10)
        base_after, base_took = cpu.snapshot(launcher.pid), time.monotonic() - base_started
        bare_cpu = sum(
            base_after.get(g, 0) - base_before.get(g, 0) for g in ("bare-web", "postgresql")
        ) - (idle_db * base_took if args.backend == "postgresql" else 0)
    finally:
        for process in (launcher, bare):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(60)
        smtp_sink.__exit__(None, None, None)
        support.delete_namespace(namespace)
        for drop in drops:
            drop()

    times = [
        latency.visible[n] - sent for n, sent in latency.hangups.items() if n in latency.visible
    ]
    print(
        f"# bench/calls.py  {time.strftime('%Y-%m-%d %H:%M')}  backend={args.backend}  "
        f"{platform.processor() or platform.machine()} x{os.cpu_count()}  "
        f"{args.rate:g} events/s x {args.seconds:g} s"
    )
    print(f"phase 1: {latency.sent} events, {len(latency.hangups)} callers hung up, "
          f"{len(times)} call-backs in the queue, {len(latency.errors)} errors")  # fmt: skip
    if times:
        p95 = percentile(times, 0.95)
        print(f"hangup to call-back in the queue: median {statistics.median(times) * 1000:.0f} ms,"
              f" p95 {p95 * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"
              f"  (goal p95 < 1 s: {'met' if p95 < 1 else 'MISSED'})")  # fmt: skip
    print(f"phase 2: {cost.sent} events, {len(cost.errors)} errors; the idle desk uses "
          f"{idle_per_second * 1000:.0f} ms of CPU a second")  # fmt: skip
    per_event, per_bare = desk_cpu / max(1, cost.sent), bare_cpu / max(1, count)
    print(f"CPU per call event (the whole desk): {per_event * 1000:.1f} ms")
    print(f"CPU per bare POST (its web process and database): {per_bare * 1000:.1f} ms")
    print(f"call event / bare POST: {per_event / per_bare:.2f}" if per_bare > 0 else "")
    for error in (latency.errors + cost.errors)[:5]:
        print("error:", error)


if __name__ == "__main__":
    main()
