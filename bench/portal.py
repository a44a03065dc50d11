"""The customer portal under 20 simulated customers, next to a bare Flask page.

    LOKET_PORTAL_REQUESTS_PER_ADDRESS_HOUR=1000000 make run   # in another shell
    .venv/bin/python -m bench.portal [--portal http://127.0.0.1:8000] [--views 2]

Customers (processes x threads, each a keep-alive browser session) go through the pages
a customer sees: the request form; sending it (with its CSRF cookie and form id; the
portal first asks the knowledge base, and a page of suggested articles is read and the
form sent anyway); then the status page of their request `--views` times. Every page is
timed; a page that is not a 200 (or the form's 303) counts as an error. The baseline is
a bare Flask page (bench/bare_page.py: a template, no backend calls) under the same
gunicorn settings, driven by the same customers in the same run.

Two runs of each: saturated (customers who ask for the next page the moment they have
one: the rates and their ratio) and paced (customers who take `--think` seconds a page
on average: the page time customers see). Goal (issue 18): p95 below 150 ms, and at
least 0.3 of the bare page's rate. The portal is asked directly (port 8000): the
gateway in front of it limits each address to 20 pages a second, as it should for real
customers, and the portal itself takes 20 requests an hour from one address unless told
otherwise (every simulated customer is 127.0.0.1).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench import load
from bench.intake import wait_healthy
from tests.support import free_port

REPO = Path(__file__).resolve().parents[1]
FORM = "/ask/password_reset"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def answers(n: int, csrf: str, form_id: str) -> dict[str, str]:
    return {
        "csrf": csrf, "form_id": form_id, "subject": f"Locked out {n}",
        "description": "I cannot sign in since this morning.", "field-account": f"user{n}",
        "field-system": "workstation", "name": "J. Doe", "email": f"j.doe{n}@example.org",
    }  # fmt: skip


def customer(portal: str, views: int = 2):
    """One page per call, in the order a customer sees them: the form; sending it (the
    portal first looks for knowledge articles; if it offers some, that is a page the
    customer reads before sending anyway); then their status page `views` times, the
    first as the browser follows the redirect. The session is the browser."""
    journeys: dict[int, dict] = {}

    def call(session: requests.Session, n: int) -> int:
        me = n // 1_000_000
        journey = journeys.get(me)
        if journey is None or journey["views"] >= views:
            page = session.get(f"{portal}{FORM}?lang=en", timeout=10)
            csrf = CSRF.search(page.text).group(1) if page.ok else ""
            journeys[me] = {"csrf": csrf, "form_id": secrets.token_urlsafe(16), "sent": None,
                            "suggested": False, "views": 0}  # fmt: skip
            return page.status_code
        if journey["sent"] is None:
            form = answers(n, journey["csrf"], journey["form_id"])
            if journey["suggested"]:
                form["suggested"] = "1"
            sent = session.post(f"{portal}{FORM}?lang=en", data=form, allow_redirects=False,
                                timeout=10)  # fmt: skip
            if sent.status_code == 303:
                journey["sent"] = sent.headers["Location"]  # as the browser follows it
                return 200
            if sent.status_code == 200:  # articles offered; the next post sends anyway
                journey["suggested"] = True
            else:
                journeys.pop(me)
            return sent.status_code
        journey["views"] += 1
        return session.get(f"{portal}{journey['sent']}", timeout=10).status_code

    return call


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--portal", default="http://127.0.0.1:8000")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--views", type=int, default=2, help="status views per request sent")
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="paced run: seconds a customer takes per page on average",
    )
    parser.add_argument("--paced-seconds", type=float, default=20)
    args = parser.parse_args()
    try:
        requests.get(f"{args.portal}/healthz", timeout=2).raise_for_status()
    except requests.RequestException as exc:
        sys.exit(
            f"no portal answers at {args.portal} ({exc}): start the desk with"
            " `LOKET_PORTAL_REQUESTS_PER_ADDRESS_HOUR=1000000 make run`"
        )

    workdir = Path(tempfile.mkdtemp(prefix="loket-bench-portal-"))
    bare_port = free_port()
    bare_server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", str(REPO / "deploy" / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{bare_port}", "bench.bare_page:create_app()"],
        cwd=REPO, start_new_session=True,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(workdir), "LOKET_ACCESS_LOG": "0"},
    )  # fmt: skip
    bare_url = f"http://127.0.0.1:{bare_port}/bare"

    def call_bare(session: requests.Session, _n: int) -> int:
        return session.get(bare_url, timeout=10).status_code

    shape = {"processes": args.processes, "threads": args.threads}
    try:
        wait_healthy(bare_url, bare_server)
        load.run(customer(args.portal, args.views), seconds=2, **shape)  # warm up both
        load.run(call_bare, seconds=2, **shape)
        best: dict[str, load.Result] = {}
        for _ in range(args.rounds):
            for name, call in (("bare Flask page", call_bare),
                               ("portal pages", customer(args.portal, args.views))):  # fmt: skip
                result = load.run(call, seconds=args.seconds, **shape)
                if name not in best or result.rate > best[name].rate:
                    best[name] = result
        paced = {
            name: load.run(call, seconds=args.paced_seconds, interval=args.think, **shape)
            for name, call in (("bare Flask page", call_bare),
                               ("portal pages", customer(args.portal, args.views)))
        }  # fmt: skip
    finally:
        os.killpg(bare_server.pid, signal.SIGTERM)
        bare_server.wait(timeout=30)

    bare, portal = best["bare Flask page"], best["portal pages"]
    print(
        f"# bench/portal.py  {time.strftime('%Y-%m-%d %H:%M')}  "
        f"{platform.processor() or platform.machine()} x{os.cpu_count()}  "
        f"gunicorn {os.environ.get('GUNICORN_WORKERS', '2')}w x "
        f"{os.environ.get('GUNICORN_THREADS', '4')}t  customers {args.processes}p x "
        f"{args.threads}t  {args.views} status views per request"
    )
    print(f"saturated: customers who never pause, best of {args.rounds} x {args.seconds:g} s")
    print(bare.line("  bare Flask page"))
    print(portal.line("  portal pages"))
    ratio, p95 = portal.rate / bare.rate, portal.percentile(95) * 1000
    print(
        f"  ratio portal/bare: {ratio:.2f}  (goal >= 0.30: {'met' if ratio >= 0.3 else 'MISSED'})"
    )
    print(f"paced: customers who take {args.think:g} s a page on average, {args.paced_seconds:g} s")
    print(paced["bare Flask page"].line("  bare Flask page"))
    print(paced["portal pages"].line("  portal pages"))
    for name, result in (("saturated", portal), ("paced", paced["portal pages"])):
        p95 = result.percentile(95) * 1000
        print(
            f"portal p95 {name}: {p95:.0f} ms  (goal < 150 ms: {'met' if p95 < 150 else 'MISSED'})"
        )


if __name__ == "__main__":
    main()
