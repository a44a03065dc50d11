"""Nothing lost, nothing doubled: a steady stream of requests on every channel while the
broker stops, workers are killed mid-batch and PostgreSQL restarts without a clean
shutdown. Every process runs on its own here (the launcher would stop the desk when one
dies), as docker compose runs them."""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path

import pytest
import requests

from services.common.config import SERVICES
from tests import support
from tests.e2e.fleet import (
    CHANNELS,
    Desk,
    Stream,
    environment,
    one_confirmation_each,
    settled,
)
from tests.receivers import http_receiver, smtp_receiver
from tests.support import bearer, valid_request, wait_until


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


def restart_postgres() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart",
         "-m", "immediate"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    wait_until(
        lambda: (
            subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"], check=False).returncode == 0
        ),
        timeout=60,
        what="PostgreSQL back",
    )


@pytest.fixture
def smtp_delay() -> float:
    """Seconds the SMTP server takes per message (a test may make it slow)."""
    return 0.0


@pytest.fixture
def desk(namespace, databases, tmp_path: Path, smtp_delay: float):
    support.require_postgres()
    keys = support.write_keys(tmp_path / "api-keys.yaml")
    with smtp_receiver(delay_seconds=smtp_delay) as smtp:
        urls = {s: databases.url("postgresql", s) for s in SERVICES}
        running = Desk(*environment(namespace, tmp_path, smtp.url, urls))
        try:
            running.start_all()
            yield running, keys, smtp
        finally:
            running.stop()


def test_nothing_is_lost_or_doubled_through_broker_worker_and_database_faults(desk):
    running, keys, smtp = desk
    with Stream(
        f"{running.urls['intake']}/v1/requests", keys["portal"], running.env["LOKET_NAMESPACE"]
    ) as stream:
        stream.wait_for_more(12)

        rabbitmqctl("stop_app")
        try:
            stream.wait_for_more(12)  # HTTP goes on while the broker is away
        finally:
            rabbitmqctl("start_app")
            rabbitmqctl("await_startup")
        stream.wait_for_more(12)

        for name in ("queue-worker", "notify-worker", "intake-worker"):
            running.kill(name)
        stream.wait_for_more(12)
        for service in ("intake", "queue", "notify"):
            running.start(service, "worker")
        stream.wait_for_more(12)

        restart_postgres()
        stream.wait_for_more(12)
    accepted = dict(stream.accepted)
    assert stream.unexpected == []
    assert len(accepted) >= 84

    # Every accepted request is in the queue exactly once, and nothing waits in any
    # outbox.
    settled(running, accepted)
    # Every customer got exactly one confirmation. A worker killed after the SMTP server
    # took a message but before the send was recorded sends it again with the same
    # Message-ID, which mail clients show once: that is the most SMTP allows.
    one_confirmation_each(accepted, smtp)
    resent = len(smtp.messages) - len(accepted)
    print(
        f"accepted {len(accepted)} requests; answered 'try again': {dict(stream.refusals)}; "
        f"confirmations resent with the same Message-ID: {resent}"
    )


@pytest.mark.parametrize("smtp_delay", [1.5])
def test_a_slow_mail_server_and_dead_webhook_receivers_hold_up_neither_intake_nor_queue(desk):
    running, keys, smtp = desk
    admin = bearer(keys["admin"])
    with http_receiver(delay_seconds=5) as slow:
        for url in (slow.url, f"http://127.0.0.1:{support.free_port()}/nobody-listens"):
            subscribed = requests.post(
                f"{running.urls['notify']}/v1/subscriptions",
                json={"url": url, "events": ["ticket.*"], "secret": "s3cret-for-the-test"},
                headers=admin,
                timeout=10,
            )
            assert subscribed.status_code == 201, subscribed.text

        # The mail server takes one message at a time, 1.5 s each: twenty confirmations
        # need at least 30 s, and the webhooks wait 5 s or are refused and retried.
        accepted = []
        for n, channel in zip(range(20), itertools.cycle(CHANNELS), strict=False):
            body = valid_request(channel=channel, requester={"name": "Ann", "email": f"s{n}@x.org"})
            answer = requests.post(
                f"{running.urls['intake']}/v1/requests",
                json=body,
                headers=bearer(keys["portal"]),
                timeout=10,
            )
            assert answer.status_code == 201, answer.text
            accepted.append(answer.json())

        def visible(request: dict) -> bool:
            status = requests.get(
                f"{running.urls['queue']}/v1/track/{request['reference']}",
                params={"token": request["tracking_token"]},
                timeout=5,
            )
            return status.status_code == 200

        wait_until(lambda: all(visible(a) for a in accepted), timeout=60, what="every ticket")
        # Everything is in the queue while most confirmations have still to be sent.
        assert len(smtp.messages) < len(accepted) / 2
        agent = bearer(keys["agent"])
        claimed = requests.post(
            f"{running.urls['queue']}/v1/queues/frontoffice/next", headers=agent, timeout=10
        )
        assert claimed.status_code == 200
