"""The deployment's gateway (Debian's nginx with deploy/nginx/loket.conf) in front of a
running desk, and every metric the dashboard and the alerts read, after a customer's
whole journey through it."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time

import pytest
import requests
import yaml

from services.common.config import SERVICES
from services.gateway import write_config
from tests import support
from tests.support import REPO, bearer, queried_metrics, valid_request, wait_until

# Compose runs PostgreSQL; one backend is enough to prove the gateway and the metrics.
pytestmark = pytest.mark.parametrize("desk", ["postgresql"], indirect=True)

CHANNELS = ("web", "email", "phone", "chat", "walk_in", "callback")


class Gateway:
    def __init__(self, public: str, internal: str) -> None:
        self.public, self.internal = public, internal


@pytest.fixture(scope="module")
def gateway(desk, tmp_path_factory) -> Gateway:
    """nginx with the committed configuration; only upstream addresses and ports differ."""
    public, internal = support.free_port(), support.free_port()
    argv = write_config(
        tmp_path_factory.mktemp("nginx"),
        {
            **{service: desk.urls[service].split("//")[1] for service in SERVICES},
            "portal": desk.portal_url.split("//")[1],
        },
        f"127.0.0.1:{public}",
        f"127.0.0.1:{internal}",
    )
    nginx = support.Proc(argv, {})
    with support.started(nginx, f"http://127.0.0.1:{public}/gateway-health", timeout=20):
        yield Gateway(f"http://127.0.0.1:{public}", f"http://127.0.0.1:{internal}")


def test_public_paths_pass_the_gateway_and_agent_paths_do_not(desk, gateway):
    public, portal, agent = gateway.public, desk.keys["portal"], bearer(desk.keys["agent"])
    assert requests.get(f"{public}/v1/catalogue", timeout=5).status_code == 200
    assert requests.get(f"{public}/v1/contact-options", timeout=5).status_code == 200
    assert requests.get(f"{public}/v1/knowledge/search", params={"q": "printer"}, timeout=5).ok
    answer = requests.post(
        f"{public}/v1/requests",
        json=valid_request(),
        headers={**bearer(portal), "X-Request-ID": "gateway-test-1"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["X-Request-ID"] == "gateway-test-1"
    accepted = answer.json()
    track = f"{public}/v1/track/{accepted['reference']}"
    wait_until(
        lambda: requests.get(track, params={"token": accepted["tracking_token"]}, timeout=5).ok,
        timeout=30,
        what="the status page through the gateway",
    )

    for method, path in [
        ("GET", "/v1/tickets"), ("GET", f"/v1/tickets/{accepted['id']}"), ("GET", "/v1/queues"),
        ("POST", "/v1/queues/frontoffice/next"), ("GET", "/v1/estimates"),
        ("POST", "/v1/inbound/email"), ("GET", "/v1/subscriptions"), ("GET", "/v1/deliveries"),
        ("GET", "/v1/problems"), ("GET", "/v1/reports/csat"), ("GET", "/v1/knowledge/articles"),
        ("GET", "/metrics"), ("GET", "/openapi.json"), ("GET", "/readyz"),
    ]:  # fmt: skip
        refused = requests.request(method, f"{public}{path}", headers=agent, timeout=5)
        assert refused.status_code == 404, (method, path, refused.status_code)
        assert refused.json()["error"]["code"] == "not_found"

    # Agents' tools reach the APIs on the internal port, where each service still checks keys.
    internal = f"{gateway.internal}/queue/v1/tickets"
    assert requests.get(internal, headers=agent, timeout=5).status_code == 200
    assert requests.get(internal, timeout=5).status_code == 401


def test_the_gateways_own_refusals_speak_the_contracts_error_format(desk, gateway):
    too_large = requests.post(
        f"{gateway.public}/v1/requests",
        data=b"x" * (2 * 1024 * 1024),
        headers={**bearer(desk.keys["portal"]), "Content-Type": "application/json"},
        timeout=10,
    )
    assert too_large.status_code == 413
    assert too_large.json()["error"]["code"] == "payload_too_large"


def claim_until(desk, gateway, reference: str) -> dict:
    agent = bearer(desk.keys["agent"])
    while True:
        claimed = requests.post(
            f"{gateway.internal}/queue/v1/queues/frontoffice/next", headers=agent, timeout=10
        )
        assert claimed.status_code == 200, claimed.text
        if claimed.json()["reference"] == reference:
            return claimed.json()


def test_every_metric_the_dashboard_and_alerts_read_is_exported(desk, gateway):
    portal, agent = bearer(desk.keys["portal"]), bearer(desk.keys["agent"])
    accepted = {}
    for channel in CHANNELS:
        address = f"{channel}-{desk.namespace}@example.org"
        body = valid_request(channel=channel, requester={"name": "Ann", "email": address})
        if channel in ("phone", "chat", "walk_in"):
            body["contact_wait_seconds"] = 42
        answer = requests.post(
            f"{gateway.public}/v1/requests", json=body, headers=portal, timeout=10
        )
        assert answer.status_code == 201, answer.text
        accepted[channel] = answer.json()
    rejected = requests.post(f"{gateway.public}/v1/requests", json={}, headers=portal, timeout=10)
    assert rejected.status_code == 422
    for request in accepted.values():
        track = f"{gateway.public}/v1/track/{request['reference']}"
        token = {"token": request["tracking_token"]}
        wait_until(lambda t=track, q=token: requests.get(t, params=q, timeout=5).ok, timeout=30)

    # An agent takes the web request in hand and resolves it; the phone one goes elsewhere.
    web = claim_until(desk, gateway, accepted["web"]["reference"])
    resolved = requests.post(
        f"{gateway.internal}/queue/v1/tickets/{web['id']}/status",
        json={"to": "resolved", "public_note": "Your password is reset."},
        headers=agent,
        timeout=10,
    )
    assert resolved.status_code == 200, resolved.text
    moved = requests.post(
        f"{gateway.internal}/queue/v1/tickets/{accepted['phone']['id']}/transfer",
        json={"to_queue": "it_backoffice", "note": "Needs the back office."},
        headers=agent,
        timeout=10,
    )
    assert moved.status_code == 200, moved.text

    # The customer answers the survey from the link in the e-mail, through the gateway.
    address = f"web-{desk.namespace}@example.org"

    def survey_link() -> str | None:
        for message in desk.smtp.to(address):
            text = message.get_body(("plain",)).get_content()
            if found := re.search(r"/survey/([\w-]+)", text):
                return found.group(1)
        return None

    token = wait_until(survey_link, timeout=30, what="the survey invitation")
    answered = requests.post(f"{gateway.public}/v1/surveys/{token}", json={"score": 4}, timeout=5)
    assert answered.status_code == 201, answered.text

    # Enough claims for an estimate (never made up from less), and the web customer comes
    # back about the same thing: a repeat contact, waiting with an estimate.
    for channel in ("email", "chat", "walk_in", "callback"):
        claim_until(desk, gateway, accepted[channel]["reference"])
    again = valid_request(channel="web", requester={"name": "Ann", "email": address})
    answer = requests.post(f"{gateway.public}/v1/requests", json=again, headers=portal, timeout=10)
    assert answer.status_code == 201, answer.text

    # The phone system through the gateway's internal side: a call answered, one given up.
    phone = bearer(desk.keys["phone"])
    for event in (
        {"event": "newCall", "callId": f"in-{desk.namespace}", "from": "0612340001",
         "to": "0205550100", "direction": "in"},
        {"event": "answer", "callId": f"in-{desk.namespace}", "user": "alice"},
        {"event": "hangup", "callId": f"in-{desk.namespace}", "cause": "normalClearing"},
        {"event": "newCall", "callId": f"gone-{desk.namespace}", "from": "0612340002",
         "to": "0205550100", "direction": "in"},
        {"event": "hangup", "callId": f"gone-{desk.namespace}", "cause": "cancel"},
    ):  # fmt: skip
        sent = requests.post(f"{gateway.internal}/intake/v1/calls", json=event, headers=phone,
                             timeout=10)  # fmt: skip
        assert sent.status_code == 200, sent.text

    dashboard = json.loads((REPO / "deploy/grafana/dashboards/loket-desk.json").read_text())
    rules = yaml.safe_load((REPO / "deploy/prometheus/rules/loket.yml").read_text())
    wanted = queried_metrics(
        *(t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])),
        *(r["expr"] for g in rules["groups"] for r in g["rules"]),
    )

    def exported() -> set[str]:
        text = "".join(
            requests.get(url, timeout=5).text
            for url in [f"{u}/metrics" for u in desk.urls.values()]
            + list(desk.metrics_urls.values())
        )
        return {m for m in re.findall(r"^(loket_[a-z_]+?)(?:_bucket|_sum|_count)?[{ ]", text, re.M)}

    def missing() -> set[str]:
        return wanted - exported()

    with contextlib.suppress(pytest.fail.Exception):
        wait_until(lambda: not missing(), timeout=30, what="every queried metric")
    assert missing() == set()
    assert len(wanted) >= 20


def test_a_portal_that_does_not_answer_gets_a_page_not_json(desk, tmp_path):
    """Customers' pages behind the gateway, the portal down: a page in both languages."""
    public = support.free_port()
    argv = write_config(
        tmp_path,
        {**{service: desk.urls[service].split("//")[1] for service in SERVICES},
         "portal": f"127.0.0.1:{support.free_port()}"},  # nothing listens there
        f"127.0.0.1:{public}",
        f"127.0.0.1:{support.free_port()}",
    )  # fmt: skip
    nginx = support.Proc(argv, {})
    with support.started(nginx, f"http://127.0.0.1:{public}/gateway-health", timeout=20):
        for path in ("/", "/track/LKT-000001?token=x", "/desk/", "/ask/password_reset"):
            page = requests.get(f"http://127.0.0.1:{public}{path}", timeout=10)
            assert page.status_code == 503, path
            assert page.headers["Content-Type"].startswith("text/html")
            assert "Briefly unavailable" in page.text and "Even niet beschikbaar" in page.text
        # The API paths keep the contract's JSON.
        api = requests.get(f"http://127.0.0.1:{public}/v1/catalogue", timeout=10)
        assert api.status_code == 200


def test_the_gateway_writes_no_token_or_address_where_the_image_would_log(desk, tmp_path):
    """The nginx image logs every request line and client address at the http level, the
    level our configuration is included at (conf.d/default.conf)."""
    public = f"127.0.0.1:{support.free_port()}"
    upstreams = {service: desk.urls[service].split("//")[1] for service in SERVICES}
    argv = write_config(tmp_path, {**upstreams, "portal": desk.portal_url.split("//")[1]},
                        public, f"127.0.0.1:{support.free_port()}")  # fmt: skip
    main, log = tmp_path / "nginx.conf", tmp_path / "access.log"
    image_logging = (
        "log_format main '$remote_addr - $remote_user [$time_local] \"$request\" $status';"
        f" access_log {log} main;"
    )
    main.write_text(main.read_text().replace("access_log off;", image_logging))
    with support.started(support.Proc(argv, {}), f"http://{public}/gateway-health", timeout=20):
        link = f"http://{public}/track/LKT-000001?token=s3cr3t-tracking-t0ken"
        assert requests.get(link, timeout=10).status_code == 404  # no such request
    assert "s3cr3t" not in (log.read_text() if log.exists() else "")


def _held(address: str, port: int, source: str, first_bytes: bytes) -> socket.socket:
    """A client at `source` (any 127/8 address is this machine's) that sends the start of
    a request and then nothing more."""
    held = socket.create_connection((address, port), timeout=10, source_address=(source, 0))
    held.sendall(first_bytes)
    return held


def test_slow_clients_take_no_one_elses_place_and_no_token_or_address_reaches_the_log(
    desk, tmp_path
):
    """An outside tester: 600 sockets sending partial headers reset every other client for
    a minute, and the gateway's error lines for rate limits, oversized bodies and a portal
    that did not answer held the request line with its tracking and survey tokens."""
    port, closed = support.free_port(), support.free_port()
    upstreams = {service: desk.urls[service].split("//")[1] for service in SERVICES}
    # The portal does not answer: its pages become the gateway's own 503 (an error line).
    argv = write_config(tmp_path, {**upstreams, "portal": f"127.0.0.1:{closed}"},
                        f"127.0.0.1:{port}", f"127.0.0.1:{support.free_port()}")  # fmt: skip
    gateway = support.Proc(argv, {})
    public = f"http://127.0.0.1:{port}"
    with support.started(gateway, f"{public}/gateway-health", timeout=20):
        with requests.Session() as flood:
            answers = [
                flood.get(f"{public}{path}", timeout=10).status_code
                for i in range(30)
                for path in (
                    f"/track/LKT-000001?token=trackingflood{i}",
                    f"/v1/track/LKT-000001?token=trackingflood{i}",
                    f"/survey/surveyflood{i}",
                    f"/v1/surveys/surveyflood{i}",
                )
            ]
        assert 429 in answers and 503 in answers  # rate limited, and the portal was down
        big = b"x" * 2_000_000
        for path in ("/track/LKT-000001?token=trackingbig", "/v1/surveys/surveybig"):
            assert requests.post(f"{public}{path}", data=big, timeout=10).status_code == 413

        slow_headers = b"GET /v1/catalogue HTTP/1.1\r\nHost: desk\r\nX-Slow: "
        slow_body = (
            b"POST /v1/requests HTTP/1.1\r\nHost: desk\r\nContent-Type: application/json\r\n"
            b"Content-Length: 5000\r\n\r\n"
        )
        held = [_held("127.0.0.1", port, "127.0.0.2", slow_headers) for _ in range(700)]
        try:
            # Someone else, meanwhile, is served at once.
            other = requests.Session()
            other.mount("http://", support.FromAddress("127.0.0.3"))
            assert other.get(f"{public}/v1/catalogue", timeout=5).status_code == 200
            # One address holds at most 40 requests at once (bodies that never come), even
            # sent slower than its rate limit: the rest are refused at once with a 429.
            for _ in range(50):
                held.append(_held("127.0.0.1", port, "127.0.0.4", slow_body))
                time.sleep(1 / 15)
            time.sleep(0.3)
            refused = 0
            for client in held[700:]:
                client.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    refused += client.recv(100).startswith(b"HTTP/1.1 429")
            assert refused == 10
        finally:
            for client in held:
                client.close()
    lines = gateway.log
    for secret in ("trackingflood", "surveyflood", "trackingbig", "surveybig", "127.0.0.",
                   "token="):  # fmt: skip
        assert secret not in lines, lines
