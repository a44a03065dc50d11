"""The HTTP edge as clients meet it: a real gunicorn web process and a pooled client.

Flask's test client skips gunicorn, which is where a refused body's unread bytes and
keep-alive connections are handled, so these go over real sockets."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
import requests

from services.common.config import SERVICES
from tests import support
from tests.support import bearer, valid_request


@pytest.fixture(scope="module")
def web(namespaces, databases, tmp_path_factory) -> Iterator[dict]:
    """Every service's web process on SQLite, with small body limits."""
    state = tmp_path_factory.mktemp("web")
    keys = support.write_keys(state / "api-keys.yaml")
    env = {
        "PATH": os.environ["PATH"],
        "LOKET_NAMESPACE": namespaces(),
        "LOKET_API_KEYS_FILE": str(state / "api-keys.yaml"),
        "LOKET_VAR_DIR": str(state),
        "LOKET_ACCESS_LOG": "0",
        "GUNICORN_WORKERS": "1",
        "LOKET_MAX_BODY_BYTES": "65536",
        "LOKET_MAX_EMAIL_BYTES": "131072",
    }
    urls = {}
    for service in SERVICES:
        port = support.free_port()
        env[f"LOKET_{service.upper()}_HTTP_PORT"] = str(port)
        env[f"LOKET_{service.upper()}_DATABASE_URL"] = databases.url("sqlite", service)
        urls[service] = f"http://127.0.0.1:{port}"
    processes = {}
    try:
        for service in SERVICES:
            process = support.Proc(support.python_module("services", service, "web"), env)
            processes[service] = process
            support.wait_until(
                lambda s=service, p=process: (
                    support.http_ok(f"{urls[s]}/healthz") or p.popen.poll() is not None
                ),
                timeout=60,
                what=f"{service} web",
            )
            assert process.popen.poll() is None, process.log
        yield {"urls": urls, "keys": keys, "keys_file": state / "api-keys.yaml", "env": env,
               "processes": processes}  # fmt: skip
    finally:
        for process in processes.values():
            process.stop()


def test_access_lines_name_no_query_and_no_address_and_can_be_turned_off(web, databases):
    quiet = web["processes"]["feedback"]
    assert requests.get(f"{web['urls']['feedback']}/healthz?token=s3cr3t", timeout=10).ok
    port = support.free_port()
    env = {**web["env"], "LOKET_ACCESS_LOG": "1", "LOKET_FEEDBACK_HTTP_PORT": str(port),
           "LOKET_FEEDBACK_DATABASE_URL": databases.url("sqlite", "feedback")}  # fmt: skip
    loud = support.Proc(support.python_module("services", "feedback", "web"), env)
    try:
        url = f"http://127.0.0.1:{port}"
        support.wait_until(lambda: support.http_ok(f"{url}/healthz"), timeout=60, what="web")
        assert requests.get(f"{url}/healthz?token=s3cr3t", timeout=10).ok
        # A survey's token is its path: a customer's link, as the portal passes it on.
        assert requests.get(f"{url}/v1/surveys/s3cr3t-5urvey-t0ken", timeout=10).status_code == 404
        # A decoded path forging a line of its own and a terminal escape (issue 33, 10).
        forged = "/nothing%0a2026-12-03 12:00:00 INFO [feedback-web] forged%1b[2J"
        assert requests.get(f"{url}{forged}", timeout=10).status_code == 404
        support.wait_until(lambda: loud.log.count("gunicorn.access") >= 3, timeout=10,
                           what="three lines")  # fmt: skip
    finally:
        loud.stop()
    lines = [line for line in loud.log.splitlines() if "gunicorn.access" in line]
    assert any('"GET /healthz" 200' in line for line in lines), lines
    assert any('"GET /v1/surveys/{token}" 404' in line for line in lines), lines
    assert not any("s3cr3t" in line or "127.0.0.1" in line for line in lines), lines
    assert any('"GET /nothing\\n2026-12-03' in line and "forged\\x1b[2J" in line for line in lines)
    assert not any(line.startswith("2026-12-03 12:00") for line in loud.log.splitlines())
    assert "\x1b" not in loud.log
    assert "gunicorn.access" not in quiet.log


def test_after_a_413_the_next_request_on_a_pooled_connection_is_answered(web):
    url = f"{web['urls']['intake']}/v1/requests"
    headers = bearer(web["keys"]["portal"])
    with requests.Session() as session:
        for _ in range(3):
            big = valid_request(description="x" * 3_000_000)
            refused = session.post(url, json=big, headers=headers, timeout=30)
            assert refused.status_code == 413
            assert refused.json()["error"]["code"] == "payload_too_large"
            # The refused body was not read: the server must say it closes, or the
            # client sends its next request into a connection that is going away.
            assert refused.headers["Connection"] == "close"
            accepted = session.post(url, json=valid_request(), headers=headers, timeout=10)
            assert accepted.status_code == 201, accepted.text
        # A body within the limits keeps its connection.
        assert accepted.headers["Connection"] == "keep-alive"


def test_a_chunked_body_beyond_the_limit_is_a_413(web):
    def chunks() -> Iterator[bytes]:
        yield b'{"channel": "web", "description": "'
        for _ in range(80):
            yield b"x" * 65536  # 5 MiB in all, its length never announced
        yield b'"}'

    answer = requests.post(
        f"{web['urls']['intake']}/v1/requests",
        data=chunks(),
        headers={**bearer(web["keys"]["portal"]), "Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["code"] == "payload_too_large"

    def mail_chunks() -> Iterator[bytes]:
        yield b"From: jan@example.org\r\nSubject: big\r\n\r\n"
        for _ in range(4):
            yield b"y" * 65536  # twice the e-mail limit: never accepted cut short

    mail = requests.post(
        f"{web['urls']['intake']}/v1/inbound/email",
        data=mail_chunks(),
        headers={**bearer(web["keys"]["portal"]), "Content-Type": "message/rfc822"},
        timeout=30,
    )
    assert mail.status_code == 413, mail.text


@pytest.mark.parametrize("service", SERVICES)
def test_deeply_nested_json_is_refused_by_every_service_not_a_500(web, service):
    paths = {
        "intake": "/v1/requests",
        "queue": "/v1/tickets/00000000-0000-0000-0000-000000000000/claim",
        "notify": "/v1/subscriptions",
        "feedback": "/v1/problems",
    }
    for depth in (3000, 5000):
        body = "[" * depth + "]" * depth
        for key in (None, web["keys"]["admin"]):
            answer = requests.post(
                web["urls"][service] + paths[service],
                data=body,
                headers={"Content-Type": "application/json", **(bearer(key) if key else {})},
                timeout=10,
            )
            assert answer.status_code in (400, 401, 403), answer.text
            assert "error" in answer.json()
    nested = {"channel": "web"}
    for _ in range(40):
        nested = {"a": nested}
    answer = requests.post(
        web["urls"]["intake"] + "/v1/requests",
        json=nested,
        headers=bearer(web["keys"]["portal"]),
        timeout=10,
    )
    assert answer.status_code == 400
    assert "levels deep" in answer.json()["error"]["message"]


def _mail() -> bytes:
    message = EmailMessage()
    message["From"], message["Subject"] = "jan@example.org", "Printer"
    message.set_content("It is broken.")
    return message.as_bytes()


def test_a_body_in_the_wrong_media_type_is_a_415(web):
    intake = web["urls"]["intake"]
    headers = bearer(web["keys"]["portal"])
    as_text = requests.post(
        f"{intake}/v1/requests",
        data=json.dumps(valid_request()),
        headers={**headers, "Content-Type": "text/plain"},
        timeout=10,
    )
    assert as_text.status_code == 415
    assert as_text.json()["error"]["code"] == "unsupported_media_type"
    mail_as_json = requests.post(
        f"{intake}/v1/inbound/email",
        data=json.dumps({"raw": _mail().decode()}),
        headers={**headers, "Content-Type": "application/json"},
        timeout=10,
    )
    assert mail_as_json.status_code == 415
    assert mail_as_json.json()["error"]["code"] == "unsupported_media_type"
    mail = requests.post(
        f"{intake}/v1/inbound/email",
        data=_mail(),
        headers={**headers, "Content-Type": "message/rfc822"},
        timeout=10,
    )
    assert mail.status_code == 201, mail.text


def test_retry_after_comes_only_with_a_refusal_that_will_pass(web):
    intake = web["urls"]["intake"]
    headers = bearer(web["keys"]["portal"])
    answers = [
        requests.get(f"{intake}/v1/catalogue", timeout=10),
        requests.post(f"{intake}/v1/requests", json=valid_request(), headers=headers, timeout=10),
        requests.post(f"{intake}/v1/requests", json={"channel": "x"}, headers=headers, timeout=10),
        requests.post(f"{intake}/v1/requests", json=valid_request(), timeout=10),
    ]
    assert [a.status_code for a in answers] == [200, 201, 422, 401]
    assert all("Retry-After" not in a.headers for a in answers)


def test_a_raw_socket_sees_close_after_an_oversize_body_it_did_not_finish_sending(web):
    """At the socket level, as the probe found it: 20 of 20 next requests were lost."""
    port = int(web["urls"]["intake"].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 3000000\r\nConnection: keep-alive\r\n\r\n" + b"[" * 1000
        )
        head = sock.recv(65536).split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 413")
    assert b"connection: close" in head


def test_mail_of_too_many_parts_or_too_deep_is_a_422_not_a_500(web):
    head = b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    nested = b"".join(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (n, n + 1)
        for n in range(1000)
    )
    many = b"".join(b"--b0\r\n\r\n%d\r\n" % n for n in range(5000))
    for raw in (head + nested, head + many):
        answer = requests.post(
            f"{web['urls']['intake']}/v1/inbound/email",
            data=raw,
            headers={**bearer(web["keys"]["portal"]), "Content-Type": "message/rfc822"},
            timeout=10,
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "malformed_email"


def _keys(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        support.python_module("services.common.keys", *args),
        cwd=support.REPO,
        env={"PATH": os.environ["PATH"], **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_keys_added_rotated_and_revoked_take_effect_without_a_restart(web):
    keys_file = str(web["keys_file"])
    queues = f"{web['urls']['queue']}/v1/queues"

    def status(key: str) -> int:
        return requests.get(queues, headers=bearer(key), timeout=5).status_code

    added = _keys("--file", keys_file, "add", "--name", "erin", "--role", "agent")
    assert added.returncode == 0, added.stderr
    erin = added.stdout.strip()
    support.wait_until(lambda: status(erin) == 200, what="the new key accepted")
    listed = _keys("--file", keys_file, "list").stdout
    assert "erin" in listed and "agent" in listed and "sha256" not in listed
    rotated = _keys("--file", keys_file, "rotate", "--name", "erin")
    new_erin = rotated.stdout.strip()
    assert rotated.returncode == 0 and new_erin != erin
    support.wait_until(lambda: status(erin) == 401 and status(new_erin) == 200, what="rotation")
    assert _keys("--file", keys_file, "revoke", "--name", "erin").returncode == 0
    support.wait_until(lambda: status(new_erin) == 401, what="the revoked key refused")
    assert _keys("--file", keys_file, "revoke", "--name", "erin").returncode == 2


def test_make_key_writes_to_the_file_the_desk_reads_by_default(tmp_path):
    made = _keys("add", "--name", "alice", "--role", "agent", env={"LOKET_VAR_DIR": str(tmp_path)})
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("lkt_")
    assert "alice" in (tmp_path / "api-keys.yaml").read_text()
    assert made.stdout.strip() not in (tmp_path / "api-keys.yaml").read_text()
