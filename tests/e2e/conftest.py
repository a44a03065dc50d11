"""A whole desk, started by the same launcher `make run` uses, on free ports."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from services.common.config import DEFAULT_CONFIG_FILE, SERVICES
from tests import support
from tests.receivers import HttpReceiver, SmtpReceiver, http_receiver, smtp_receiver


@dataclass
class Desk:
    namespace: str
    urls: dict[str, str]
    metrics_urls: dict[str, str]
    keys: dict[str, str]
    process: support.Proc
    database_urls: dict[str, str]
    smtp: SmtpReceiver
    env: dict[str, str]
    public_url: str  # the gateway's public address: what customers' links open
    portal_url: str
    sms: HttpReceiver  # the test SMS gateway: every text message the desk sends


@pytest.fixture(scope="module")
def smtp():
    with smtp_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def sms():
    with http_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module", params=support.BACKENDS)
def desk(request, namespaces, databases, tmp_path_factory, smtp, sms):
    backend = request.param
    support.require_broker()
    if backend == "postgresql":
        support.require_postgres()
    namespace = namespaces()
    state = tmp_path_factory.mktemp(f"desk-{backend}")
    keys_path: Path = state / "api-keys.yaml"
    keys = support.write_keys(keys_path)
    env = {
        "PATH": os.environ["PATH"],
        "LOKET_NAMESPACE": namespace,
        "LOKET_AMQP_URL": support.AMQP_URL,
        "LOKET_API_KEYS_FILE": str(keys_path),
        "LOKET_VAR_DIR": str(state),
        "GUNICORN_WORKERS": "2",
        "LOKET_ACCESS_LOG": "0",
        "LOKET_SMTP_URL": smtp.url,
        "LOKET_SMS_GATEWAY_URL": f"http://127.0.0.1:{sms.port}/sms",
        # The tests' webhook receivers listen on loopback.
        "LOKET_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "LOKET_MAIL_FROM": "Desk <desk@example.org>",
        # Rate limits and the console's sign-in failures counted across web processes.
        "LOKET_RATE_LIMIT_STORAGE_URL": support.require_redis(),
    }
    changes = getattr(request.module, "DESK_CHANGES", None)
    if changes:  # a module's own desk file: the sample's, with what it changes
        config = yaml.safe_load(DEFAULT_CONFIG_FILE.read_text())
        for dotted, value in changes.items():
            *path, last = dotted.split(".")
            place = config
            for key in path:
                place = place[key]
            place[last] = value
        (state / "loket.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
        env["LOKET_CONFIG"] = str(state / "loket.yaml")
    urls, metrics_urls = {}, {}
    for service in SERVICES:
        port, metrics_port = support.free_port(), support.free_port()
        env[f"LOKET_{service.upper()}_HTTP_PORT"] = str(port)
        env[f"LOKET_{service.upper()}_METRICS_PORT"] = str(metrics_port)
        env[f"LOKET_{service.upper()}_DATABASE_URL"] = databases.url(
            backend, service, migrated=False
        )
        urls[service] = f"http://127.0.0.1:{port}"
        metrics_urls[service] = f"http://127.0.0.1:{metrics_port}/metrics"
    gateway_port = support.free_port()
    env["LOKET_GATEWAY_PORT"] = str(gateway_port)
    env["LOKET_GATEWAY_INTERNAL_PORT"] = str(support.free_port())
    public_url = f"http://127.0.0.1:{gateway_port}"
    env["LOKET_PUBLIC_BASE_URL"] = public_url
    env["LOKET_QUEUE_URL"] = urls["queue"]
    env["LOKET_FEEDBACK_URL"] = urls["feedback"]
    env["LOKET_INTAKE_URL"] = urls["intake"]
    portal_port = support.free_port()
    env["LOKET_PORTAL_HTTP_PORT"] = str(portal_port)
    portal_url = f"http://127.0.0.1:{portal_port}"
    process = support.Proc(support.python_module("services.launcher"), env)
    try:
        for service in SERVICES:
            support.wait_until(
                lambda s=service: (
                    support.http_ok(f"{urls[s]}/healthz") or process.popen.poll() is not None
                ),
                timeout=60,
                what=f"{service} to answer",
            )
            support.wait_until(
                lambda s=service: (
                    support.http_ok(metrics_urls[s]) or process.popen.poll() is not None
                ),
                timeout=60,
                what=f"{service}'s worker to answer",
            )
        if process.popen.poll() is not None:
            pytest.fail(f"the launcher stopped:\n{process.log}")
        database_urls = {s: env[f"LOKET_{s.upper()}_DATABASE_URL"] for s in SERVICES}
        for health in (f"{public_url}/gateway-health", f"{portal_url}/healthz"):
            support.wait_until(lambda h=health: support.http_ok(h), timeout=30, what=health)
        yield Desk(
            namespace, urls, metrics_urls, keys, process, database_urls, smtp, env, public_url,
            portal_url, sms,
        )  # fmt: skip
    finally:
        status = process.stop(timeout=40)
        assert status == 0, f"the launcher did not stop cleanly ({status}):\n{process.log}"
