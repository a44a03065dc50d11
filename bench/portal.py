"""The customer portal under 20 simulated customers, next to a bare Flask page.

    make run                                  # in another shell: the desk to measure
    .venv/bin/python -m bench.portal [--portal http://127.0.0.1:8000] [--seconds 10]

Customers (processes x threads, each a keep-alive browser session) go through the pages
a customer sees: the request form, sending it (with its CSRF cookie and form id, the
knowledge suggestions already seen), the status page of their request, and the status
page again. Every page is timed; a page that is not a 200 (or the form's 303) counts as
an error. The baseline is a bare Flask page (bench/bare_page.py: a template, no backend
calls) under the same gunicorn settings, driven by the same customers in the same run.
Goal (issue 18): p95 below 150 ms, and at least 0.3 of the bare page's rate. The portal
is asked directly (port 8000): the gateway in front of it limits each address to 20
pages a second, as it should for real customers.
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


def answers(n: int, csrf: str) -> dict[str, str]:
    return {
        "csrf": csrf, "form_id": secrets.token_urlsafe(16), "suggested": "1",
        "subject": f"Locked out {n}", "description": "I cannot sign in since this morning.",
        "field-account": f"user{n}", "field-system": "workstation", "name": "J. Doe",
        "email": "j.doe@example.org",
    }  # fmt: skip


def customer(portal: str, views: int = 2):
    """One page per call, in the order a customer sees them (the form, sending it, then
    the status page `views` times); the session is the browser."""
    status_pages: dict[int, str] = {}

    def call(session: requests.Session, n: int) -> int:
        me, step = n // 1_000_000, n % (2 + views)
        if step == 0:
            page = session.get(f"{portal}{FORM}?lang=en", timeout=10)
            session.csrf = CSRF.search(page.text).group(1) if page.ok else ""  # type: ignore[attr-defined]
            return page.status_code
        if step == 1:
            sent = session.post(f"{portal}{FORM}?lang=en", data=answers(n, session.csrf),  # type: ignore[attr-defined]
                                allow_redirects=False, timeout=10)  # fmt: skip
            if sent.status_code == 303:
                status_pages[me] = sent.headers["Location"]  # as the browser follows it
                return 200
            return sent.status_code
        if me not in status_pages:
            return 0
        return session.get(f"{portal}{status_pages[me]}", timeout=10).status_code

    return call


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--portal", default="http://127.0.0.1:8000")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--views", type=int, default=2, help="status views per request sent")
    args = parser.parse_args()
    try:
        requests.get(f"{args.portal}/healthz", timeout=2).raise_for_status()
    except requests.RequestException as exc:
        sys.exit(f"no portal answers at {args.portal} ({exc}): start the desk with `make run`")

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
    finally:
        os.killpg(bare_server.pid, signal.SIGTERM)
        bare_server.wait(timeout=30)

    bare, portal = best["bare Flask page"], best["portal pages"]
    print(
        f"# bench/portal.py  {time.strftime('%Y-%m-%d %H:%M')}  "
        f"{platform.processor() or platform.machine()} x{os.cpu_count()}  "
        f"gunicorn {os.environ.get('GUNICORN_WORKERS', '2')}w x "
        f"{os.environ.get('GUNICORN_THREADS', '4')}t  customers {args.processes}p x "
        f"{args.threads}t  {args.views} status views per request  best of {args.rounds} x "
        f"{args.seconds}s"
    )
    print(bare.line("bare Flask page"))
    print(portal.line("portal pages"))
    ratio, p95 = portal.rate / bare.rate, portal.percentile(95) * 1000
    print(f"ratio portal/bare: {ratio:.2f}  (goal >= 0.30: {'met' if ratio >= 0.3 else 'MISSED'})")
    print(f"portal p95: {p95:.0f} ms  (goal < 150 ms: {'met' if p95 < 150 else 'MISSED'})")


if __name__ == "__main__":
    main()
