"""A morning at the counter on a whole running desk: how long a call takes to reach the
waiting room's screen, and how near the waits the kiosk prints come to the real ones.

    .venv/bin/python -m bench.counter [--minutes 10] [--counters 2] [--seed 1]

Starts every process with the launcher `make run` uses (the portal with it), on free
ports and a namespace of its own, with the sample desk file changed for a morning
compressed into minutes: the counter always open, two agents for its queue, a handling
time of one minute in the plan, calls 5 seconds apart before a no-show, appointment slots
of 5 minutes and a grace of 5.

Visitors take numbers with the kiosk's key (Poisson arrivals, 3 a minute in the first half
against the counters' 2.7, then 1.6); right after each, the bench reads `GET /v1/display`
as the kiosk page does and keeps the wait it would print. Up to three appointments are
booked for the coming slots; two check in two minutes before their time, the third does
not come. `--counters` agents each call the next person, serve them for an exponentially
distributed time (mean 45 s), resolve the ticket and call again; one in twelve called
does not come and is called twice more, then recorded as a no-show.

The waiting room's screen is the portal's `/counter/display` in headless Chromium,
refreshing itself as it does on a television; a script in the page notes when each call
first appears on it. A call's time to the screen runs from the moment the agent's call
was sent until then. Baseline in the same run: a reader of the display's own endpoint
(the queue's `GET /v1/display`) every 50 ms, so the difference is the page's refresh.
Goal (issue 35): p95 under 1 s. Then what one screen's refresh costs: 200 refreshes of
the board with its digest (a 204 while it is unchanged), their median time and the CPU
per refresh of the portal's and the queue's web processes (SQLite: the database works
inside the queue's process).

The kiosk's waits are measured as `bench.estimates` measures the other channels: the
median absolute percentage error of the printed wait against the real one (taking the
number until its first call; waits of a minute or more, as there), its p90, how often
the real wait fell inside the printed range, and the same error for a naive baseline
(people ahead x the mean time between calls so far) and for chance alone
(0.67 / sqrt(position), what exponential handling times leave to a perfect estimate of
the mean).
"""

from __future__ import annotations

import argparse
import html
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import requests
import yaml
from playwright.sync_api import sync_playwright

from bench import cpu
from bench.intake import REPO, database, wait_healthy
from services.common.auth import add_key
from services.common.config import DEFAULT_CONFIG_FILE, SERVICES
from tests import support
from tests.receivers import smtp_receiver

QUEUE = "frontoffice"
CATEGORY = "password_reset"
SERVICE_SECONDS = 45.0
NO_SHOW_SHARE = 1 / 12
SECONDS_BETWEEN_CALLS = 5
DISPLAY_POLL_SECONDS = 0.05
# The processes a screen's refresh passes through.
REFRESH_PATH = ("portal-web", "queue-web")
# As bench.estimates: a wait under a minute makes a percentage meaningless.
SHORTEST_WAIT = 60.0

# In the page: each call the screen shows (the number now called, with its moment, and
# the earlier calls), noted the moment the board shows it.
WATCH_SCRIPT = """
() => {
  window.__seen = [];
  const known = new Set();
  const look = () => {
    const now = document.querySelector('.now[data-call]');
    const found = [];
    if (now) found.push(now.dataset.call);
    document.querySelectorAll('.earlier li').forEach(li => {
      found.push(li.querySelector('.number').textContent + ' ' +
                 li.querySelector('.to').textContent.replace(/\\D+/g, '') + ' earlier');
    });
    for (const call of found) {
      if (!known.has(call)) { known.add(call); window.__seen.push([call, Date.now() / 1000]); }
    }
  };
  look();
  new MutationObserver(look).observe(document.body, {subtree: true, childList: true,
                                                     attributes: true});
}
"""


@dataclass
class Morning:
    """What happened, with wall-clock times (seconds since the epoch)."""

    calls: list[tuple[float, str, str]] = field(default_factory=list)  # sent, number, counter
    taken: dict[str, tuple[float, dict, int]] = field(default_factory=dict)  # number: ...
    first_called: dict[str, float] = field(default_factory=dict)
    no_shows: int = 0
    served: int = 0
    appointments: int = 0
    checked_in: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def desk_file(path: Path) -> Path:
    config = yaml.safe_load(DEFAULT_CONFIG_FILE.read_text())
    config["opening_hours"]["walk_in"] = "always"
    for queue in config["queues"]:
        if queue["id"] == QUEUE:
            queue["handling_minutes"] = 1
            queue["agents"] = {"mon-sun": {"00:00-24:00": 2}}
    config["counter"].update(
        seconds_between_calls=SECONDS_BETWEEN_CALLS,
        slot_minutes=5,
        appointment_grace_minutes=5,
    )
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


def visitor(n: int) -> dict:
    return {
        "channel": "walk_in", "category": CATEGORY, "subject": "At the counter",
        "description": "Taken a number at the kiosk.", "fields": {},
        "requester": {"name": f"Visitor {n}", "language": "en", "preferred_contact": "none"},
    }  # fmt: skip


def arrivals(morning: Morning, urls: dict, kiosk: str, seconds: float, rng: random.Random):
    """Numbers taken at the kiosk, each with the wait the kiosk would print for it."""
    session, started, n = requests.Session(), time.time(), 0
    while time.time() - started < seconds:
        busy = time.time() - started < seconds / 2
        time.sleep(rng.expovariate((3.0 if busy else 1.6) / 60))
        if time.time() - started >= seconds:
            break
        n += 1
        answer = session.post(f"{urls['intake']}/v1/requests", json=visitor(n),
                              headers={"Authorization": f"Bearer {kiosk}"}, timeout=10)  # fmt: skip
        at = time.time()
        if answer.status_code != 201:
            morning.errors.append(f"kiosk {answer.status_code}")
            continue
        shown = session.get(f"{urls['queue']}/v1/display", params={"queue": QUEUE}, timeout=10)
        printed = shown.json()["expected_wait"]
        with morning.lock:
            morning.taken[answer.json()["ticket_number"]] = (at, printed, shown.json()["waiting"])


def appointments(morning: Morning, urls: dict, portal: str, kiosk: str, seconds: float):
    """Up to three booked for the coming slots; two check in two minutes before their
    time, the third does not come."""
    headers = {"Authorization": f"Bearer {portal}"}
    slots = requests.get(f"{urls['intake']}/v1/appointments/slots", params={"days": 1},
                         headers=headers, timeout=10).json()["slots"]  # fmt: skip
    booked = []
    soon, late = time.time() + 150, time.time() + seconds - 60
    free = [s for s in slots if s["available"]]
    for n, slot in enumerate(
        s for s in free if soon <= datetime.fromisoformat(s["start"]).timestamp() <= late
    ):
        if n == 3:
            break
        body = {**visitor(1000 + n), "requester": {"name": "Booked", "language": "en",
                "email": f"booked{n}@example.org"}, "start": slot["start"]}  # fmt: skip
        answer = requests.post(f"{urls['intake']}/v1/appointments", json=body,
                               headers=headers, timeout=10)  # fmt: skip
        if answer.status_code == 201:
            booked.append(answer.json())
    morning.appointments = len(booked)
    for booking in booked[:2]:
        delay = datetime.fromisoformat(booking["start"]).timestamp() - 120 - time.time()
        time.sleep(max(0.0, delay))
        url = f"{urls['intake']}/v1/appointments/{booking['reference']}/check-in"
        answer = requests.post(url, headers={"Authorization": f"Bearer {kiosk}"}, timeout=10)
        if answer.status_code == 200:
            morning.checked_in += 1


def counter(morning: Morning, urls: dict, agent: str, name: str, until: float, seed: int):
    """An agent at a counter: call, serve (or wait for someone who does not come), resolve."""
    rng, session = random.Random(seed), requests.Session()
    session.headers["Authorization"] = f"Bearer {agent}"
    queue = urls["queue"]
    while time.time() < until:
        sent = time.time()
        called = session.post(f"{queue}/v1/counters/{name}/call", json={"queue": QUEUE},
                              timeout=10)  # fmt: skip
        if called.status_code == 204:
            time.sleep(1)
            continue
        if called.status_code != 200:
            morning.errors.append(f"call {called.status_code}")
            time.sleep(1)
            continue
        ticket = called.json()
        number = ticket["ticket_number"]
        with morning.lock:
            morning.calls.append((sent, number, name))
            morning.first_called.setdefault(number, sent)
        if rng.random() < NO_SHOW_SHARE:
            for _ in range(2):
                time.sleep(SECONDS_BETWEEN_CALLS + 0.5)
                sent = time.time()
                session.post(f"{queue}/v1/counters/{name}/recall", timeout=10)
                with morning.lock:
                    morning.calls.append((sent, number, name))
            time.sleep(SECONDS_BETWEEN_CALLS + 0.5)
            gone = session.post(f"{queue}/v1/tickets/{ticket['id']}/no-show", timeout=10)
            morning.no_shows += gone.status_code == 200
            continue
        session.post(f"{queue}/v1/tickets/{ticket['id']}/claim",
                     json={"reason": "at the counter"}, timeout=10)  # fmt: skip
        time.sleep(rng.expovariate(1 / SERVICE_SECONDS))
        done = session.post(f"{queue}/v1/tickets/{ticket['id']}/status",
                            json={"to": "resolved", "public_note": "Helped at the counter."},
                            timeout=10)  # fmt: skip
        morning.served += done.status_code == 200


def read_endpoint(urls: dict, stop: threading.Event, seen: list) -> None:
    """The baseline: the display's data as soon as the queue serves it."""
    session, known = requests.Session(), set()
    while not stop.is_set():
        shown = session.get(f"{urls['queue']}/v1/display", params={"queue": QUEUE}, timeout=10)
        at = time.time()
        for call in shown.json()["called"]:
            key = (call["ticket_number"], call["counter"], call["called_at"])
            if key not in known:
                known.add(key)
                seen.append((call["ticket_number"], call["counter"], at, True))
        time.sleep(DISPLAY_POLL_SECONDS)


def to_screen(calls: list, sightings: list[tuple[str, str, float, bool]]) -> list[float]:
    """Each call's time until its number at its counter was first seen after the call was
    sent: as the number called (`now`), or among the earlier calls when a call at another
    counter followed before the screen looked (a recall shows only as the number called)."""
    left = sorted(sightings, key=lambda s: s[2])
    used, shown, delays = set(), set(), []
    for sent, number, counter_name in sorted(calls):
        for i, (seen_number, seen_counter, at, now) in enumerate(left):
            fits = seen_number == number and seen_counter == counter_name and at >= sent
            if fits and i not in used and (now or (number, counter_name) not in shown):
                used.add(i)
                shown.add((number, counter_name))
                delays.append(at - sent)
                break
    return delays


def refresh_cost(portal: str, launcher_pid: int, count: int = 200) -> tuple[float, float, int]:
    """What one screen's refresh costs: the wall time of one, the CPU of the two web
    processes it passes per refresh, and how many of them answered 204 (nothing changed).
    A board that did change (its wait, as time passes) is followed as htmx follows it:
    the next refresh names the new board's digest."""
    session = requests.Session()
    part = {"queue": QUEUE, "part": "board", "lang": "en"}
    board = session.get(f"{portal}/counter/display", params=part, timeout=10)
    again = html.unescape(re.search(r'hx-get="([^"]+)"', board.text).group(1))
    before, times, unchanged = cpu.snapshot(launcher_pid), [], 0
    for _ in range(count):
        started = time.perf_counter()
        answer = session.get(f"{portal}{again}", timeout=10)
        times.append(time.perf_counter() - started)
        if answer.status_code == 204:
            unchanged += 1
        else:
            again = html.unescape(re.search(r'hx-get="([^"]+)"', answer.text).group(1))
    after = cpu.snapshot(launcher_pid)
    used = sum(after.get(k, 0.0) - before.get(k, 0.0) for k in REFRESH_PATH)
    return statistics.median(times), used / count, unchanged


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def accuracy(morning: Morning) -> dict[str, float]:
    errors, inside, naive, chance, unknown, short = [], 0, [], [], 0, 0
    calls = sorted(sent for sent, _, _ in morning.calls)
    first = calls[0] if calls else 0.0
    for number, (at, printed, waiting) in morning.taken.items():
        if number not in morning.first_called:
            continue
        real = morning.first_called[number] - at
        if real < SHORTEST_WAIT:
            short += 1
            continue
        likely = printed.get("estimated_wait_seconds")
        if likely is None:
            unknown += 1
            continue
        errors.append(abs(likely - real) / real)
        low, high = printed["estimated_wait_low_seconds"], printed["estimated_wait_high_seconds"]
        inside += low <= real <= high
        before = [c for c in calls if c < at]
        if len(before) >= 2:
            gap = (before[-1] - first) / (len(before) - 1)
            naive.append(abs(gap * (waiting + 1) - real) / real)
        chance.append(0.67 / math.sqrt(waiting + 1))
    measured = len(errors)
    return {
        "measured": measured,
        "short": short,
        "unknown": unknown,
        "mape": statistics.median(errors) if errors else float("nan"),
        "p90": percentile(errors, 0.9) if errors else float("nan"),
        "inside": inside / measured if measured else float("nan"),
        "naive": statistics.median(naive) if naive else float("nan"),
        "chance": statistics.median(chance) if chance else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--counters", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    seconds = args.minutes * 60

    smtp_sink = smtp_receiver()
    smtp = smtp_sink.__enter__()
    workdir = Path(tempfile.mkdtemp(prefix="loket-bench-counter-"))
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    keys_file = workdir / "keys.yaml"
    kiosk = add_key(keys_file, "kiosk", "client", ["walk_in"])
    portal_key = add_key(keys_file, "booking", "client", ["walk_in"])
    agent = add_key(keys_file, "counter", "agent")
    env = {
        **os.environ,
        "LOKET_NAMESPACE": namespace,
        "LOKET_AMQP_URL": support.AMQP_URL,
        "LOKET_API_KEYS_FILE": str(keys_file),
        "LOKET_VAR_DIR": str(workdir),
        "LOKET_CONFIG": str(desk_file(workdir / "loket.yaml")),
        "LOKET_ACCESS_LOG": "0",
        "LOKET_LOG_LEVEL": "WARNING",
        "LOKET_RATE_LIMIT_PER_KEY": "100000000/minute",
        "LOKET_RATE_LIMIT_PER_ADDRESS": "100000000/minute",
        "LOKET_SMTP_URL": smtp.url,
    }
    urls = {}
    for service in SERVICES:
        (workdir / service).mkdir()
        port = support.free_port()
        env[f"LOKET_{service.upper()}_HTTP_PORT"] = str(port)
        env[f"LOKET_{service.upper()}_METRICS_PORT"] = str(support.free_port())
        env[f"LOKET_{service.upper()}_DATABASE_URL"] = database("sqlite", workdir / service)[0]
        urls[service] = f"http://127.0.0.1:{port}"
        env[f"LOKET_{service.upper()}_URL"] = urls[service]
    portal = f"http://127.0.0.1:{support.free_port()}"
    env["LOKET_PORTAL_HTTP_PORT"] = portal.rsplit(":", 1)[1]
    env["LOKET_PUBLIC_BASE_URL"] = portal
    env["LOKET_GATEWAY_PORT"] = str(support.free_port())
    env["LOKET_GATEWAY_INTERNAL_PORT"] = str(support.free_port())
    launcher = subprocess.Popen([sys.executable, "-m", "services.launcher"], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    morning, endpoint_seen, stop = Morning(), [], threading.Event()
    try:
        for url in [f"{u}/readyz" for u in urls.values()] + [f"{portal}/healthz"]:
            wait_healthy(url, launcher)
        time.sleep(2)  # the workers connect and declare their queues
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
            screen = browser.new_page(viewport={"width": 1440, "height": 900})
            screen.goto(f"{portal}/counter/display?queue={QUEUE}&lang=en")
            screen.evaluate(WATCH_SCRIPT)
            rng = random.Random(args.seed)
            until = time.time() + seconds
            threads = [
                threading.Thread(target=arrivals, args=(morning, urls, kiosk, seconds, rng)),
                threading.Thread(
                    target=appointments, args=(morning, urls, portal_key, kiosk, seconds)
                ),
                threading.Thread(target=read_endpoint, args=(urls, stop, endpoint_seen)),
            ]
            threads += [
                threading.Thread(
                    target=counter,
                    args=(morning, urls, agent, str(n + 1), until + 60, args.seed * 100 + n),
                )
                for n in range(args.counters)
            ]
            for thread in threads:
                thread.daemon = True
                thread.start()
            print(f"a morning of {args.minutes:g} minutes at {args.counters} counters...",
                  file=sys.stderr, flush=True)  # fmt: skip
            while time.time() < until + 60:  # the last visitors are still called
                screen.wait_for_timeout(1000)
            stop.set()
            seen = screen.evaluate("window.__seen")
            browser.close()
        report(morning, seen, endpoint_seen)  # before anything else can fail
        median, used, unchanged = refresh_cost(portal, launcher.pid)
        cost = f"{median * 1000:.1f} ms, {used * 1000:.1f} ms of CPU in the portal and the queue"
        print(f"a screen's refresh: {cost} ({unchanged} of 200 answered 204)", flush=True)
    finally:
        launcher.terminate()
        launcher.wait(60)
        smtp_sink.__exit__(None, None, None)
        support.delete_namespace(namespace)
        support.delete_leftovers(f"{namespace}.")


def report(morning: Morning, seen: list, endpoint_seen: list) -> None:
    sightings = []
    for call, at in seen:
        number, counter_name, moment = call.split(" ")
        sightings.append((number, counter_name, at, moment != "earlier"))
    on_screen = to_screen(morning.calls, sightings)
    on_endpoint = to_screen(morning.calls, endpoint_seen)
    estimates = accuracy(morning)
    print(f"visitors {len(morning.taken)}, called {len(morning.first_called)}, "
          f"calls {len(morning.calls)}, served {morning.served}, no-shows {morning.no_shows}, "
          f"appointments {morning.appointments} (checked in {morning.checked_in}), "
          f"errors {len(morning.errors)}")  # fmt: skip
    for label, delays in (("screen (page)", on_screen), ("display endpoint", on_endpoint)):
        if not delays:
            print(f"call -> {label}: no calls seen")
            continue
        print(f"call -> {label}: n={len(delays)}/{len(morning.calls)} "
              f"p50 {statistics.median(delays) * 1000:.0f} ms, "
              f"p95 {percentile(delays, 0.95) * 1000:.0f} ms, "
              f"max {max(delays) * 1000:.0f} ms")  # fmt: skip
    print(f"kiosk waits of a minute or more: n={estimates['measured']} "
          f"(shorter {estimates['short']}, no estimate {estimates['unknown']}), "
          f"median error {estimates['mape']:.0%}, p90 {estimates['p90']:.0%}, "
          f"inside the range {estimates['inside']:.0%}; naive {estimates['naive']:.0%}, "
          f"chance alone {estimates['chance']:.0%}")  # fmt: skip
    if morning.errors:
        print("errors:", sorted(set(morning.errors)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
