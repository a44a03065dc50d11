"""The console under 30 signed-in agents, next to the queue API's own figures.

    .venv/bin/python -m bench.console [--tickets 100000] [--agents 30] [--seconds 15]

Loads the tickets into a fresh PostgreSQL database (as bench/queue.py does: most long
resolved, the rest waiting in three queues), starts the queue's and intake's web
processes and the portal under gunicorn (deploy/gunicorn.conf.py), makes one account per
agent, and lets every agent sign in, then take next, read the ticket and resolve it,
over and over. Each page is timed apart. The baseline, in the same run with the same
agents, is the queue API itself: `next` and the ticket, with an agent's key. Goal
(issue 19): p95 of the ticket page and of `next` below 150 ms. `--think` gives each
agent a pause between steps (on average, exponentially distributed), as people at work
have; 0 asks again at once (the saturated case).

Then the pages an agent reads all day, under the same agents (issue 34): the ticket page
of a ticket with 200 history entries, the list with every open ticket (the tickets
loaded waiting, 10,000 by default: the page shows the first 200 in fair order), and as
the baseline a bare page (bench/bare_page.py: a template, no backend call) under the same
gunicorn. And what one view and one live update cost: the requests a first view makes
(the page, its stylesheet and scripts) and their bytes, and the fragments a page asks for
every 10 seconds while it is open.
"""

from __future__ import annotations

import argparse
import html
import multiprocessing
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

from bench.intake import PG_ADMIN, wait_healthy
from bench.queue import load_tickets
from services.common.accounts import add_account
from services.common.auth import add_key
from services.common.db import migrate
from tests.support import free_port

REPO = Path(__file__).resolve().parents[1]
QUEUES = ("frontoffice", "it_backoffice", "facilities")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PASSWORD = "bench-password-1"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] * 1000 if ordered else 0


THINK = [0.0]  # seconds an agent spends between two steps (--think), on average


def _pause() -> None:
    if THINK[0]:
        time.sleep(random.expovariate(1 / THINK[0]))


def _console_agent(portal: str, name: str, deadline: float, times: dict, errors: list) -> None:
    browser = requests.Session()
    form = browser.get(f"{portal}/desk/sign-in", timeout=10)
    signed = browser.post(f"{portal}/desk/sign-in", timeout=10, data={
        "csrf": CSRF.search(form.text).group(1), "name": name, "password": PASSWORD})  # fmt: skip
    csrf = CSRF.search(signed.text).group(1)
    _pause()  # agents start at random moments, not in one burst
    n = 0
    while time.monotonic() < deadline:
        n += 1
        started = time.perf_counter()
        taken = browser.post(f"{portal}/desk/next", allow_redirects=False, timeout=10,
                             data={"csrf": csrf, "queue": QUEUES[n % 3]})  # fmt: skip
        times["console next"].append(time.perf_counter() - started)
        _pause()
        location = taken.headers.get("Location", "")
        if taken.status_code != 303 or "/desk/tickets/" not in location:
            errors.append(taken.status_code)
            continue
        started = time.perf_counter()
        page = browser.get(f"{portal}{location}", timeout=10)
        times["console ticket page"].append(time.perf_counter() - started)
        _pause()
        if page.status_code != 200:
            errors.append(page.status_code)
            continue
        started = time.perf_counter()
        browser.post(f"{portal}{location}/status", allow_redirects=False, timeout=10, data={
            "csrf": csrf, "to": "resolved", "public_note": "Done."})  # fmt: skip
        times["console resolve"].append(time.perf_counter() - started)
        _pause()


def signed_in(portal: str, name: str) -> requests.Session:
    browser = requests.Session()
    form = browser.get(f"{portal}/desk/sign-in", timeout=10)
    token = CSRF.search(form.text).group(1)
    data = {"csrf": token, "name": name, "password": PASSWORD}
    browser.post(f"{portal}/desk/sign-in", timeout=10, data=data)
    return browser


def _reader(
    portal: str, name: str, pages: dict, deadline: float, times: dict, errors: list
) -> None:
    """An agent who reads: the long ticket, the whole list, and the bare page, in turn."""
    browser = signed_in(portal, name)
    _pause()
    while time.monotonic() < deadline:
        for kind, url in pages.items():
            started = time.perf_counter()
            answer = (requests if kind == "bare page" else browser).get(url, timeout=10)
            times[kind].append(time.perf_counter() - started)
            if answer.status_code != 200:
                errors.append(answer.status_code)
            _pause()


ASSET = re.compile(r'(?:src|href)="(/static/[^"]+)"')
REFRESH = re.compile(r'hx-get="([^"]+)"')


def view_costs(portal: str, name: str, ticket_id: str) -> list[tuple[str, int, int]]:
    """(what, requests, bytes of the bodies) of a first view, of a view again, and of the
    refreshes the open page makes, as a browser makes them: the parts named by the page's
    `hx-get`, the first time and then with the digest each part gave."""
    browser = signed_in(portal, name)
    costs = []
    refresh = {"HX-Request": "true"}
    for what, path in (
        ("ticket page (200 entries)", f"/desk/tickets/{ticket_id}"),
        ("list (open tickets)", "/desk/?status=open"),
    ):
        page = browser.get(f"{portal}{path}", timeout=10)
        assets = sorted(set(ASSET.findall(page.text)))
        sizes = [len(page.content)] + [
            len(browser.get(f"{portal}{asset}", timeout=10).content) for asset in assets
        ]
        costs.append((f"{what}, first view", len(sizes), sum(sizes)))
        costs.append((f"{what}, view again (assets cached)", 1, len(page.content)))
        parts = [html.unescape(url) for url in REFRESH.findall(page.text)]
        first = [browser.get(f"{portal}{url}", headers=refresh, timeout=10) for url in parts]
        costs.append((f"{what}, first refresh", len(first), sum(len(a.content) for a in first)))
        following = [html.unescape(REFRESH.search(a.text).group(1)) for a in first]
        again = [browser.get(f"{portal}{url}", headers=refresh, timeout=10) for url in following]
        unchanged = sum(a.status_code == 204 for a in again)
        costs.append(
            (
                f"{what}, each refresh after ({unchanged} of {len(again)} unchanged: 204)",
                len(again),
                sum(len(a.content) for a in again),
            )
        )
    return costs


def add_long_history(url: str, entries: int = 200) -> str:
    """A resolved ticket given `entries` history entries (messages, notes, status changes,
    deliveries): the long conversation an agent opens now and then."""
    engine = create_engine(url)
    with engine.begin() as conn:
        ticket_id = conn.scalar(text("SELECT id FROM tickets WHERE status = 'closed' LIMIT 1"))
        start = conn.scalar(
            text("SELECT created_at FROM tickets WHERE id = :id"), {"id": ticket_id}
        )
        kinds = [
            (
                "customer_replied",
                "in_progress",
                "The printer on the second floor still "
                "jams on every second page, even after the restart you suggested.",
                None,
            ),
            (
                "message",
                "in_progress",
                "Thank you. A technician will look at it today; "
                "please leave the printer switched on.",
                None,
            ),
            ("note", "in_progress", None, "Toner replaced, drum worn; ordered a new one."),
            ("status", "waiting_on_customer", "Does it work now?", None),
            (
                "notification_sent",
                "waiting_on_customer",
                None,
                "email to r***@example.org: status_changed (sent, attempt 1)",
            ),
        ]
        conn.execute(
            text(
                "INSERT INTO history (ticket_id, at, kind, status, public_message, "
                "internal_note, actor) VALUES (:t, :at, :kind, :status, :public, :note, 'agent01')"
            ),
            [
                {
                    "t": ticket_id,
                    "at": start + timedelta(minutes=n),
                    "kind": k,
                    "status": st,
                    "public": pub,
                    "note": note,
                }
                for n, (k, st, pub, note) in ((n, kinds[n % len(kinds)]) for n in range(entries))
            ],
        )
    engine.dispose()
    return ticket_id


def _api_agent(queue: str, key: str, deadline: float, times: dict, errors: list) -> None:
    session, headers = requests.Session(), {"Authorization": f"Bearer {key}"}
    _pause()
    n = 0
    while time.monotonic() < deadline:
        n += 1
        started = time.perf_counter()
        taken = session.post(f"{queue}/v1/queues/{QUEUES[n % 3]}/next", headers=headers,
                             timeout=10)  # fmt: skip
        times["API next"].append(time.perf_counter() - started)
        _pause()
        if taken.status_code != 200:
            errors.append(taken.status_code)
            continue
        ticket_id = taken.json()["id"]
        started = time.perf_counter()
        session.get(f"{queue}/v1/tickets/{ticket_id}", headers=headers, timeout=10)
        times["API ticket"].append(time.perf_counter() - started)
        _pause()
        session.post(f"{queue}/v1/tickets/{ticket_id}/status", headers=headers, timeout=10,
                     json={"to": "resolved", "public_note": "Done."})  # fmt: skip
        _pause()


def _process(
    target: str, jobs: list, seconds: float, think: float, out: multiprocessing.Queue
) -> None:
    THINK[0] = think
    times: dict[str, list[float]] = defaultdict(list)
    errors: list[int] = []
    deadline = time.monotonic() + seconds
    work = {"console": _console_agent, "api": _api_agent, "reader": _reader}[target]
    threads = [threading.Thread(target=work, args=(*job, deadline, times, errors))
               for job in jobs]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put((dict(times), errors))


def drive(
    target: str, jobs: list, seconds: float, think: float = 0.0, processes: int = 2
) -> tuple[dict, list]:
    """`jobs` split over a few client processes, one thread per agent."""
    out: multiprocessing.Queue = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_process,
                                       args=(target, jobs[i::processes], seconds, think, out))
               for i in range(processes)]  # fmt: skip
    for worker in workers:
        worker.start()
    times: dict[str, list[float]] = defaultdict(list)
    errors: list[int] = []
    for _ in workers:
        part, failed = out.get()
        for kind, values in part.items():
            times[kind] += values
        errors += failed
    for worker in workers:
        worker.join()
    return times, errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--waiting-share", type=float, default=0.1)
    parser.add_argument("--agents", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds an agent spends between two steps, on average "
                        "(0: each asks again at once, the saturated case)")  # fmt: skip
    args = parser.parse_args()

    name = f"loket_bench_console_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    workdir = Path(tempfile.mkdtemp(prefix="loket-bench-console-"))
    servers: list[subprocess.Popen] = []
    try:
        load_tickets(url, args.tickets, args.waiting_share)
        long_ticket = add_long_history(url)
        keys = workdir / "keys.yaml"
        agent_key = add_key(keys, "bench-agent", "agent")
        portal_key = add_key(keys, "loket-portal", "portal", ["web", "callback"])
        people = [f"agent{i:02d}" for i in range(args.agents)]
        for person in people:
            add_account(workdir / "accounts.yaml", person, "agent", PASSWORD)
        ports = {s: free_port() for s in ("queue", "intake", "portal", "feedback", "bare")}
        env = {
            **os.environ,
            "LOKET_QUEUE_DATABASE_URL": url,
            "LOKET_INTAKE_DATABASE_URL": f"sqlite:///{workdir / 'intake.db'}",
            "LOKET_FEEDBACK_DATABASE_URL": f"sqlite:///{workdir / 'feedback.db'}",
            "LOKET_API_KEYS_FILE": str(keys),
            "LOKET_ACCOUNTS_FILE": str(workdir / "accounts.yaml"),
            "LOKET_PORTAL_API_KEY": portal_key,
            "LOKET_ACCESS_LOG": "0",
            "LOKET_LOG_LEVEL": "WARNING",
            "LOKET_VAR_DIR": str(workdir),
            "LOKET_RATE_LIMIT_PER_KEY": "100000000/minute",
            "LOKET_RATE_LIMIT_PER_ADDRESS": "100000000/minute",
            **{f"LOKET_{s.upper()}_HTTP_PORT": str(p) for s, p in ports.items()},
            "LOKET_QUEUE_URL": f"http://127.0.0.1:{ports['queue']}",
            "LOKET_INTAKE_URL": f"http://127.0.0.1:{ports['intake']}",
            "LOKET_FEEDBACK_URL": f"http://127.0.0.1:{ports['feedback']}",
        }
        migrate("intake", env["LOKET_INTAKE_DATABASE_URL"])
        migrate("feedback", env["LOKET_FEEDBACK_DATABASE_URL"])
        for argv in (["queue", "web"], ["intake", "web"], ["feedback", "web"], ["portal", "web"]):
            servers.append(subprocess.Popen([sys.executable, "-m", "services", *argv], cwd=REPO,
                                            env=env, start_new_session=True))  # fmt: skip
        servers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--config",
                    str(REPO / "deploy" / "gunicorn.conf.py"),
                    "--bind",
                    f"127.0.0.1:{ports['bare']}",
                    "bench.bare_page:create_app()",
                ],
                cwd=REPO,
                # its own metrics directory: gunicorn empties the one it is given
                env={**env, "PROMETHEUS_MULTIPROC_DIR": str(workdir / "bare-metrics")},
                start_new_session=True,
            )
        )
        for service, server in zip(
            ("queue", "intake", "feedback", "portal"), servers, strict=False
        ):
            wait_healthy(f"http://127.0.0.1:{ports[service]}/healthz", server)
        wait_healthy(f"http://127.0.0.1:{ports['bare']}/bare", servers[-1])
        portal = f"http://127.0.0.1:{ports['portal']}"
        drive("console", [(portal, p) for p in people[:4]], 3)  # warm up
        results: dict[str, list[float]] = {}
        errors: dict[str, list[int]] = {}
        for target, jobs in (
            ("api", [(env["LOKET_QUEUE_URL"], agent_key)] * args.agents),
            ("console", [(portal, p) for p in people]),
        ):
            times, errors[target] = drive(target, jobs, args.seconds, args.think)
            results.update(times)
        reading = {
            "bare page": f"http://127.0.0.1:{ports['bare']}/bare",
            "ticket page, 200 entries": f"{portal}/desk/tickets/{long_ticket}",
            "list, open tickets": f"{portal}/desk/?status=open",
        }
        times, errors["reader"] = drive(
            "reader", [(portal, p, reading) for p in people], args.seconds, args.think
        )
        results.update(times)
        costs = view_costs(portal, people[0], long_ticket)
    finally:
        for server in servers:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(workdir, ignore_errors=True)

    print(
        f"# bench/console.py  {time.strftime('%Y-%m-%d %H:%M')}  PostgreSQL  "
        f"{platform.machine()} x{os.cpu_count()}  {args.tickets:,} tickets "
        f"({args.waiting_share:.0%} waiting)  {args.agents} agents x {args.seconds}s  "
        f"think {args.think}s"
    )
    for kind in ("API next", "API ticket", "console next", "console ticket page",
                 "console resolve"):  # fmt: skip
        values = results.get(kind, [])
        print(f"{kind:22} {len(values) / args.seconds:7.1f}/s  p50 {percentile(values, 50):6.1f} "
              f"ms  p95 {percentile(values, 95):6.1f} ms")  # fmt: skip
    print(
        f"errors: API {len(errors['api'])}, console {len(errors['console'])}, "
        f"reading {len(errors['reader'])}"
    )
    print(f"# reading, the same {args.agents} agents, each page in turn")
    for kind in ("bare page", "ticket page, 200 entries", "list, open tickets"):
        values = results.get(kind, [])
        print(
            f"{kind:26} {len(values) / args.seconds:7.1f}/s  p50 "
            f"{percentile(values, 50):6.1f} ms  p95 {percentile(values, 95):6.1f} ms"
        )
    print("# what a view costs (bodies, uncompressed)")
    for what, count, size in costs:
        print(f"{what:55} {count:2} requests {size / 1024:8.1f} KiB")
    for kind in ("console next", "console ticket page"):
        p95 = percentile(results.get(kind, []), 95)
        print(f"{kind} p95 {p95:.0f} ms (goal < 150 ms: {'met' if p95 < 150 else 'MISSED'})")


if __name__ == "__main__":
    main()
