"""Events committed while the broker is away arrive once it is back; HTTP never fails."""

from __future__ import annotations

import subprocess

import requests

from tests.e2e.test_request_flow import submit, tracked
from tests.support import wait_until


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


def test_requests_accepted_during_a_broker_outage_all_reach_the_queue(desk):
    before = submit(desk)
    wait_until(lambda: tracked(desk, before), timeout=30, what="the ticket before the outage")

    rabbitmqctl("stop_app")
    try:
        during = [submit(desk, channel=c) for c in ("web", "phone", "walk_in") * 4]
        ready = requests.get(f"{desk.urls['intake']}/readyz", timeout=5).json()
        assert ready["outbox_backlog"] >= len(during)
    finally:
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup")

    for accepted in during:
        status = wait_until(lambda a=accepted: tracked(desk, a), timeout=90,
                            what=f"{accepted['reference']} after the outage")  # fmt: skip
        assert status["status"] == "queued"
    wait_until(
        lambda: (
            requests.get(f"{desk.urls['intake']}/readyz", timeout=5).json()["outbox_backlog"] == 0
        ),
        timeout=30,
        what="an empty intake outbox",
    )
