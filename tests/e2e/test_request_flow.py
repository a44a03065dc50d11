"""One request followed from intake into the queue, across real processes."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select

from services.common.config import SERVICES
from services.intake import storage as intake_storage
from tests.support import AMQP_URL, REPO, bearer, valid_request, wait_until


def submit(desk, channel="web", **changes):
    body = valid_request(channel=channel, **changes)
    response = requests.post(
        f"{desk.urls['intake']}/v1/requests",
        json=body,
        headers=bearer(desk.keys["portal"]),
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def tracked(desk, accepted):
    response = requests.get(
        f"{desk.urls['queue']}/v1/track/{accepted['reference']}",
        params={"token": accepted["tracking_token"]},
        timeout=5,
    )
    return response.json() if response.status_code == 200 else None


def test_a_request_reaches_the_queue_and_its_customer_can_track_it(desk):
    accepted = submit(desk)
    status = wait_until(lambda: tracked(desk, accepted), timeout=30, what="the ticket in queue")
    assert status["reference"] == accepted["reference"]
    assert status["status"] == "queued"
    assert status["queue_position"] >= 1
    # A new desk answers from its staffing plan (config/loket.yaml), with a range.
    low, high = status["estimated_wait_low_seconds"], status["estimated_wait_high_seconds"]
    assert low <= status["estimated_wait_seconds"] <= high and low < high
    assert status["updates"][0]["status"] == "queued"

    wrong = requests.get(
        f"{desk.urls['queue']}/v1/track/{accepted['reference']}",
        params={"token": "x" * 32},
        timeout=5,
    )
    unknown = requests.get(
        f"{desk.urls['queue']}/v1/track/LKT-999999999",
        params={"token": accepted["tracking_token"]},
        timeout=5,
    )
    missing = requests.get(f"{desk.urls['queue']}/v1/track/{accepted['reference']}", timeout=5)
    other = submit(desk)
    wait_until(lambda: tracked(desk, other), timeout=30, what="another customer's ticket")
    someone_elses = requests.get(
        f"{desk.urls['queue']}/v1/track/{accepted['reference']}",
        params={"token": other["tracking_token"]},
        timeout=5,
    )
    statuses = {r.status_code for r in (wrong, unknown, missing, someone_elses)}
    assert statuses == {404}
    assert wrong.json() == unknown.json() == missing.json() == someone_elses.json()


def test_requests_of_every_channel_arrive_once_in_fair_order(desk):
    channels = ("web", "email", "phone", "chat", "walk_in", "callback")
    accepted = [submit(desk, channel=c) for c in channels]
    statuses = [
        wait_until(lambda a=a: tracked(desk, a), timeout=30, what=a["reference"]) for a in accepted
    ]
    positions = [s["queue_position"] for s in statuses]
    assert len(set(positions)) == len(positions)


def test_every_process_exports_metrics_and_the_pipeline_is_counted(desk):
    accepted = submit(desk)
    wait_until(lambda: tracked(desk, accepted), timeout=30, what="the ticket in queue")
    for service in SERVICES:
        web = requests.get(f"{desk.urls[service]}/metrics", timeout=5).text
        assert f'loket_outbox_backlog{{service="{service}"}}' in web
        assert "loket_http_request_duration_seconds" in web
    intake_worker = requests.get(desk.metrics_urls["intake"], timeout=5).text
    assert 'loket_events_published_total{service="intake",type="ticket.created"}' in intake_worker
    queue_worker = requests.get(desk.metrics_urls["queue"], timeout=5).text
    assert (
        'loket_events_consumed_total{outcome="processed",service="queue",type="ticket.created"}'
    ) in queue_worker


@pytest.fixture
def silent_listener():
    """A port that accepts connections and never says a word (issue 33: not a broker)."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    threading.Thread(target=lambda: [held.append(server.accept()[0]) for _ in range(8)],
                     daemon=True).start()  # fmt: skip
    yield server.getsockname()[1]
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.parametrize(
    ("broker", "says"),
    [
        ("nothing", "No RabbitMQ answers"),
        ("silent", "Something accepts connections at"),
        ("wrong password", "The RabbitMQ at"),
    ],
)
def test_the_launcher_refuses_to_start_without_a_broker(tmp_path, silent_listener, broker, says):
    url = {
        "nothing": "amqp://guest:guest@127.0.0.1:1/%2F",
        "silent": f"amqp://guest:guest@127.0.0.1:{silent_listener}/%2F",
        "wrong password": AMQP_URL.replace("guest:guest@", "guest:not-the-password@"),
    }[broker]
    result = subprocess.run(
        [sys.executable, "-m", "services.launcher"],
        cwd=REPO,
        env={"LOKET_AMQP_URL": url, "LOKET_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    # The one message that says what to do, first and alone: no pika errors, no traceback.
    assert result.stderr.startswith(says), result.stderr
    assert "LOKET_AMQP_URL" in result.stderr and "Traceback" not in result.stderr
    assert "not-the-password" not in result.stderr and AMQP_URL not in result.stderr


def test_a_first_run_keeps_its_mail_and_the_new_user_follows_the_link(desk, namespaces, tmp_path):
    """No LOKET_SMTP_URL, as on a new machine: `make run` keeps the desk's mail in
    var/mail/, says so, `make mail` lists it, and its link opens the request (issue 33)."""
    from tests import support

    env = {k: v for k, v in desk.env.items() if k != "LOKET_SMTP_URL"}
    env |= {"LOKET_NAMESPACE": namespaces(), "LOKET_VAR_DIR": str(tmp_path / "var")}
    for name in [k for k in env if k.endswith("_PORT")] + ["LOKET_MAIL_CATCHER_PORT"]:
        env[name] = str(support.free_port())
    for service in SERVICES:
        env[f"LOKET_{service.upper()}_DATABASE_URL"] = f"sqlite:///{tmp_path / f'{service}.db'}"
        if service != "notify":
            env[f"LOKET_{service.upper()}_URL"] = (
                f"http://127.0.0.1:{env[f'LOKET_{service.upper()}_HTTP_PORT']}"
            )
    env["LOKET_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{env['LOKET_GATEWAY_PORT']}"
    intake = f"http://127.0.0.1:{env['LOKET_INTAKE_HTTP_PORT']}"
    launcher = support.Proc(support.python_module("services.launcher"), env)
    try:
        wait_until(lambda: "loket: mail" in launcher.log or launcher.popen.poll() is not None,
                   timeout=90, what="the launcher to start")  # fmt: skip
        assert f"kept in {tmp_path / 'var' / 'mail'}/" in launcher.log, launcher.log
        for health in (f"{intake}/healthz", f"{env['LOKET_PUBLIC_BASE_URL']}/gateway-health"):
            wait_until(lambda h=health: support.http_ok(h), timeout=60, what=health)
        body = valid_request(requester={"name": "New User", "email": "new@example.org",
                                        "language": "en"})  # fmt: skip
        answer = requests.post(f"{intake}/v1/requests", json=body,
                               headers=bearer(desk.keys["portal"]), timeout=10)  # fmt: skip
        assert answer.status_code == 201, answer.text
        reference = answer.json()["reference"]
        mail = tmp_path / "var" / "mail"
        kept = wait_until(lambda: sorted(mail.glob("*.eml")), timeout=60, what="the confirmation")
        assert (kept[0].stat().st_mode & 0o777) == 0o600
        listing = subprocess.run(
            [sys.executable, "-m", "services.mailcatcher", "list"], cwd=REPO, env=env,
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout  # fmt: skip
        assert "to new@example.org" in listing and reference in listing
        link = re.search(r"(http://\S+/track/\S+)", listing).group(1)
        page = wait_until(
            lambda: (r := requests.get(link, timeout=10)).status_code == 200
            and "being registered" not in r.text and r,
            timeout=30, what="the status page",
        )  # fmt: skip
        assert reference in page.text
    finally:
        assert launcher.stop(timeout=40) == 0, launcher.log


def test_a_second_launcher_on_the_same_ports_says_a_desk_runs_and_stops(desk):
    env = {**desk.env, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "services.launcher"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "already in use: is a desk running already?" in result.stderr
    assert "Address already in use" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_an_email_and_its_reply_reach_the_queue_and_the_status_page(desk):
    from email.message import EmailMessage

    sender = f"jan-{desk.namespace}@example.org"

    def mail(subject: str, message_id: str, body: str, to: str = "desk@example.org") -> bytes:
        msg = EmailMessage()
        msg["From"], msg["To"] = f"Jan <{sender}>", to
        msg["Subject"], msg["Message-ID"] = subject, message_id
        msg.set_content(body)
        msg["Content-Language"] = "en"
        return msg.as_bytes()

    url = f"{desk.urls['intake']}/v1/inbound/email"
    headers = {**bearer(desk.keys["portal"]), "Content-Type": "message/rfc822"}
    accepted = requests.post(
        url, data=mail("Printer", f"<{desk.namespace}-1@x>", "On fire"), headers=headers, timeout=10
    ).json()
    wait_until(lambda: tracked(desk, accepted), timeout=30, what="the e-mailed request")
    # The customer presses "reply" on the confirmation: it goes to its Reply-To.
    confirmation = wait_until(lambda: desk.smtp.to(sender), timeout=30, what="the confirmation")
    reply_to = confirmation[0]["Reply-To"]
    assert f"+{accepted['reference'].lower()}." in reply_to
    reply = mail(f"Re: {confirmation[0]['Subject']}", f"<{desk.namespace}-2@x>", "Still on fire",
                 to=reply_to)  # fmt: skip
    answer = requests.post(url, data=reply, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    status = wait_until(
        lambda: (s := tracked(desk, accepted)) and len(s["updates"]) == 2 and s,
        timeout=30,
        what="the reply on the status page",
    )
    assert "message" in status["updates"][1]["message"]
    assert "Still on fire" not in str(status)  # the customer's words stay with the agents


def test_an_email_from_a_name_beyond_ascii_is_queued_and_confirmed(desk):
    """Raw UTF-8 in the From header (RFC 6532) once gave a 201 and then no ticket at all:
    the queue and notify could not store the address and dead-lettered the event."""
    address = f"jürgen-{desk.namespace}@example.org"
    raw = (
        f"From: Jürgen Müller <{address}>\r\nTo: desk@example.org\r\n"
        f"Subject: Printer kapot, Grüße\r\nMessage-ID: <{desk.namespace}-utf8@x>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nDe printer doet het niet. Дякую\r\n"
    ).encode()
    accepted = requests.post(
        f"{desk.urls['intake']}/v1/inbound/email",
        data=raw,
        headers={**bearer(desk.keys["portal"]), "Content-Type": "message/rfc822"},
        timeout=10,
    )
    assert accepted.status_code == 201, accepted.text
    wait_until(lambda: tracked(desk, accepted.json()), timeout=30, what="the ticket in the queue")
    confirmation = wait_until(lambda: desk.smtp.to(address), timeout=30, what="the confirmation")
    assert accepted.json()["reference"] in confirmation[0]["Subject"]
    ticket = requests.get(
        f"{desk.urls['queue']}/v1/tickets",
        params={"channel": "email", "limit": 100},
        headers=bearer(desk.keys["agent"]),
        timeout=5,
    ).json()
    [mine] = [t for t in ticket["tickets"] if t["reference"] == accepted.json()["reference"]]
    assert mine["subject"] == "Printer kapot, Grüße"


def test_a_low_score_after_resolution_reopens_the_request(desk):
    accepted = submit(desk, channel="chat")
    wait_until(lambda: tracked(desk, accepted), timeout=30, what="the ticket in queue")
    agent = bearer(desk.keys["agent"])
    queue = desk.urls["queue"]
    claimed = requests.post(f"{queue}/v1/queues/frontoffice/next", headers=agent, timeout=10)
    while claimed.json()["reference"] != accepted["reference"]:  # earlier tests' tickets
        claimed = requests.post(f"{queue}/v1/queues/frontoffice/next", headers=agent, timeout=10)
    resolved = requests.post(
        f"{queue}/v1/tickets/{claimed.json()['id']}/status",
        headers=agent,
        json={"to": "resolved", "public_note": "Password reset."},
        timeout=10,
    )
    assert resolved.status_code == 200, resolved.text

    # The invitation's link, as the customer receives it, opens the survey page; the
    # customer's own submit records the score (opening it records nothing). (Feedback's
    # outbox keeps the token sealed once sent: the mail is the only place to read it.)
    def invitation() -> str | None:
        for message in desk.smtp.messages:
            text = message.get_body(("plain",)).get_content()
            # This desk's link: another desk of the run numbers its references alike.
            found = re.search(rf"({re.escape(desk.public_url)}/survey/\S+)", text)
            if found and accepted["reference"] in message["Subject"]:
                return found.group(1)
        return None

    survey_link = wait_until(invitation, timeout=30, what="the survey invitation")
    with requests.Session() as browser:
        opened = browser.get(survey_link, timeout=5)
        assert opened.status_code == 200 and accepted["reference"] in opened.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', opened.text).group(1)
        without_score = browser.post(survey_link, data={"csrf": csrf}, timeout=5)
        assert without_score.status_code == 422 and "Choose a score" in without_score.text
        forged = requests.post(survey_link, data={"score": "5", "csrf": "guess"}, timeout=5)
        assert forged.status_code == 400  # not this browser's form: nothing recorded
        answered = browser.post(survey_link, data={"score": "1", "csrf": csrf}, timeout=5)
        assert answered.status_code == 200 and "Thank you" in answered.text
    status = wait_until(
        lambda: (s := tracked(desk, accepted)) and s["status"] == "queued" and s,
        timeout=30,
        what="the request reopened",
    )
    assert "supervisor" in status["updates"][-1]["message"]


def test_a_resolved_problem_resolves_its_linked_requests(desk):
    first, second = submit(desk, channel="phone"), submit(desk, channel="web")
    for accepted in (first, second):
        wait_until(lambda a=accepted: tracked(desk, a), timeout=30, what="the tickets in queue")
    supervisor = bearer(desk.keys["supervisor"])
    feedback = desk.urls["feedback"]
    ids = [first["id"], second["id"]]

    def opened():
        # Feedback knows a ticket once it has consumed its ticket.created.
        response = requests.post(
            f"{feedback}/v1/problems",
            headers=supervisor,
            timeout=5,
            json={"title": "Login server down", "ticket_ids": ids},
        )
        return response if response.status_code == 201 else None

    problem = wait_until(opened, timeout=30, what="the problem opened").json()
    resolved = requests.post(
        f"{feedback}/v1/problems/{problem['id']}/resolve",
        headers=supervisor,
        json={"resolution": "The login server was restarted."},
        timeout=5,
    )
    assert resolved.status_code == 200
    for accepted in (first, second):
        status = wait_until(
            lambda a=accepted: (s := tracked(desk, a)) and s["status"] == "resolved" and s,
            timeout=30,
            what="the linked request resolved",
        )
        assert status["updates"][-1]["message"] == "The login server was restarted."


def _matches(pattern: str, routing_key: str) -> bool:
    """A topic binding with `*` for one word, as the contract's bindings use."""
    words, keys = pattern.split("."), routing_key.split(".")
    return len(words) == len(keys) and all(w in ("*", k) for w, k in zip(words, keys, strict=False))


def _duplicates(desk) -> float:
    total = 0.0
    for url in desk.metrics_urls.values():
        for line in requests.get(url, timeout=5).text.splitlines():
            if line.startswith("loket_events_consumed_total{") and 'outcome="duplicate"' in line:
                total += float(line.rsplit(" ", 1)[1])
    return total


def test_every_event_published_again_by_hand_changes_nothing(desk):
    """Runs last in this module: the journeys above left events of many types."""
    import importlib

    from sqlalchemy import func

    from services.common import broker
    from services.common.config import load_settings
    from services.common.outbox import opened_body
    from services.common.secret_box import service_box
    from tests.support import publish_raw

    storages = {s: importlib.import_module(f"services.{s}.storage") for s in SERVICES}
    engines = {s: create_engine(desk.database_urls[s]) for s in SERVICES}
    boxes = {s: service_box(load_settings(s, desk.env)) for s in ("intake", "feedback")}

    def unsent() -> int:
        total = 0
        for service, storage in storages.items():
            with engines[service].connect() as conn:
                outbox = storage.outbox
                total += conn.scalar(
                    select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
                )
        return total

    def snapshot() -> dict:
        tables = {}
        for service, storage in storages.items():
            with engines[service].connect() as conn:
                for table in storage.metadata.sorted_tables:
                    rows = conn.execute(select(table)).all()
                    tables[f"{service}.{table.name}"] = sorted(map(repr, rows))
        return tables

    try:

        def at_rest() -> dict | None:
            # Every outbox empty and nothing changing for a second: all events consumed.
            before = snapshot()
            time.sleep(1)
            return before if unsent() == 0 and snapshot() == before else None

        settled = wait_until(at_rest, timeout=90, what="the desk at rest")
        events = []
        for service, storage in storages.items():
            with engines[service].connect() as conn:
                outbox = storage.outbox
                events += [
                    (service, *row)
                    for row in conn.execute(select(outbox.c.type, outbox.c.event_id, outbox.c.body))
                ]
        before = _duplicates(desk)
        expected = 0
        for service, event_type, event_id, body in events:
            # As the relay publishes a row again: its tokens opened with the service's key.
            opened = opened_body(body, boxes.get(service))
            publish_raw(desk.namespace, event_type, opened.encode(), message_id=event_id)
            expected += sum(
                any(_matches(p, event_type) for p in patterns)
                for patterns in broker.BINDINGS.values()
            )
        wait_until(
            lambda: _duplicates(desk) - before >= expected,
            timeout=60,
            what=f"{expected} deliveries recognised as duplicates",
        )
        assert snapshot() == settled
        types = {event_type for _, event_type, _, _ in events}
        assert {
            "ticket.created", "ticket.assigned", "ticket.status_changed", "ticket.resolved",
            "ticket.reopened", "ticket.customer_replied", "survey.requested",
            "feedback.received", "problem.detected", "problem.resolved", "notification.sent",
        } <= types, types  # fmt: skip
    finally:
        for engine in engines.values():
            engine.dispose()


def reply_on_status_page(
    browser: requests.Session, status_page: str, message: str
) -> requests.Response:
    """The reply box as a browser sends it: the page's own form, with its CSRF token."""
    page = browser.get(status_page, timeout=5)
    assert page.status_code == 200, page.text
    form = {name: re.search(rf'name="{name}" value="([^"]+)"', page.text).group(1)
            for name in ("csrf", "form_id")}  # fmt: skip
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    url = status_page.split("?")[0] + action.replace("&amp;", "&")
    return browser.post(url, data={**form, "message": message}, timeout=10)


def test_a_customer_writes_ten_messages_a_minute_and_the_eleventh_comes_back_kept(desk):
    accepted = submit(desk, channel="web")
    wait_until(lambda: tracked(desk, accepted), timeout=30, what="the ticket in the queue")
    with requests.Session() as browser:
        for n in range(10):
            sent = reply_on_status_page(browser, accepted["status_url"], f"Message {n}")
            assert sent.status_code == 200, sent.text
        refused = reply_on_status_page(browser, accepted["status_url"], "The eleventh, kept.")
    assert refused.status_code == 429
    assert "You have sent ten messages in the last minute" in refused.text
    assert ">The eleventh, kept.</textarea>" in refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= 60


def test_a_customer_replies_on_the_status_page_and_a_reply_after_resolution_reopens(desk):
    accepted = submit(desk, channel="web")
    wait_until(lambda: tracked(desk, accepted), timeout=30, what="the ticket in the queue")
    status_page = accepted["status_url"]  # the link of the confirmation e-mail

    def reply(browser: requests.Session, message: str) -> requests.Response:
        return reply_on_status_page(browser, status_page, message)

    with requests.Session() as browser:
        empty = reply(browser, "   ")
        assert empty.status_code == 422 and "Write a message." in empty.text
        assert 'class="error-summary"' in empty.text
        forged = requests.post(status_page, data={"message": "x", "csrf": "guess"}, timeout=5)
        assert forged.status_code == 400  # not this browser's form: nothing sent
        sent = reply(browser, "The printer is on the second floor.")
        assert sent.status_code == 200 and "Your message was added" in sent.text
        assert sent.history[0].status_code == 303  # redirected: a reload sends nothing
        updates = wait_until(
            lambda: (s := tracked(desk, accepted)) and len(s["updates"]) == 2 and s["updates"],
            timeout=30,
            what="the reply in the history",
        )
        assert "message" in updates[-1]["message"]

        agent, queue = bearer(desk.keys["agent"]), desk.urls["queue"]
        claim = {"reason": "e2e: this one"}
        ticket = requests.get(
            f"{queue}/v1/tickets", params={"channel": "web", "limit": 200}, headers=agent,
            timeout=5,
        ).json()["tickets"]  # fmt: skip
        [mine] = [t for t in ticket if t["reference"] == accepted["reference"]]
        requests.post(f"{queue}/v1/tickets/{mine['id']}/claim", json=claim, headers=agent,
                      timeout=5)  # fmt: skip
        resolved = requests.post(
            f"{queue}/v1/tickets/{mine['id']}/status",
            json={"to": "resolved", "public_note": "Moved the printer."},
            headers=agent,
            timeout=5,
        )
        assert resolved.status_code == 200, resolved.text
        again = reply(browser, "It is broken again.")
        assert again.status_code == 200
        reopened = wait_until(
            lambda: (s := tracked(desk, accepted)) and s["status"] == "queued" and s,
            timeout=30,
            what="the request reopened by the reply",
        )
        assert "reopened" in reopened["updates"][-1]["message"]

        # Closed, the request takes no more messages: the next one is a new request that
        # refers to it, and the customer lands on the new request's page.
        for to in ("in_progress", "resolved", "closed"):
            if to == "in_progress":
                changed = requests.post(f"{queue}/v1/tickets/{mine['id']}/claim", json=claim,
                                        headers=agent, timeout=5)  # fmt: skip
            else:
                change = {"to": to, "public_note": "Replaced the fuser."}
                changed = requests.post(f"{queue}/v1/tickets/{mine['id']}/status",
                                        json=change, headers=agent, timeout=5)  # fmt: skip
            assert changed.status_code == 200, changed.text
        intake = create_engine(desk.database_urls["intake"])
        try:
            wait_until(lambda: _intake_status(intake, accepted["id"]) == "closed", timeout=30,
                       what="intake told the request is closed")  # fmt: skip
        finally:
            intake.dispose()
        late = reply(browser, "And again, a month later.")
        assert late.status_code == 200, late.text
        assert late.history[0].status_code == 303
        assert f"follows={accepted['reference']}" in late.url
        follow_up = re.search(r"/track/(LKT-\d+)", late.url).group(1)
        assert follow_up != accepted["reference"]

        # Until the new request reaches the queue its page says so and looks again itself
        # a second later (a meta refresh), as a browser follows it.
        def followed():
            page = browser.get(late.url, timeout=5)
            return page if "had been closed" in page.text else None

        shown = wait_until(followed, timeout=30, what="the new request's own page")
        assert f"{accepted['reference']} had been closed" in shown.text
        assert f"Your request {follow_up}" in shown.text


def _intake_status(engine, request_id):
    with engine.connect() as conn:
        return conn.scalar(
            select(intake_storage.requests.c.status).where(
                intake_storage.requests.c.id == request_id
            )
        )


# The README's "Try it" commands, taken from the README itself and run as written against
# this desk (only the key placeholder and the ports of this test run filled in).


def try_it_commands() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Try it", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)


def bash(script: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_readmes_try_it_runs_as_written(desk, tmp_path):
    commands = try_it_commands()
    assert commands.startswith("make run\n")  # run here by the desk fixture instead
    script = commands.removeprefix("make run\n")
    script = script.replace("lkt_...", desk.keys["portal"])
    for service, default in (("intake", 8001), ("queue", 8002)):
        script = script.replace(f"http://127.0.0.1:{default}", desk.urls[service])
    *first, last = [line for line in script.strip().split("\n# ")]
    submitted = bash("\n# ".join(first), tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    answer = json.loads((tmp_path / "answer.json").read_text())
    assert answer["status"] == "received", answer
    # The ticket reaches the queue a moment later, as it does for the reader.
    follow = "# " + last
    tracked = wait_until(
        lambda: (
            (done := bash(follow, tmp_path)).returncode == 0
            and '"status":"queued"' in done.stdout.replace(" ", "")
            and done
        ),
        timeout=30,
        what="the README's tracking command to show the request",
    )
    assert json.loads(tracked.stdout)["reference"] == answer["reference"]


# The customer is told, by real processes over a real SMTP server, at every step.


def test_the_customer_is_told_of_every_step_in_one_thread(desk):
    address = f"e2e-{desk.namespace}@example.org"
    body = valid_request(requester={"name": "Ann", "email": address, "language": "nl"})
    accepted = requests.post(
        f"{desk.urls['intake']}/v1/requests",
        json=body,
        headers=bearer(desk.keys["portal"]),
        timeout=10,
    ).json()
    confirmation = wait_until(lambda: desk.smtp.to(address), timeout=30, what="the confirmation")[0]
    assert accepted["reference"] in confirmation["Subject"]
    assert "ontvangen" in confirmation["Subject"]

    # The link in the message, opened as it is, shows the customer's request on the portal's
    # status page (through the gateway `make run` starts, as under Docker Compose), in Dutch.
    link = re.search(r"https?://\S+/track/\S+", confirmation.get_body(("plain",)).get_content())
    assert link.group() == accepted["status_url"]
    assert link.group().startswith(f"{desk.public_url}/track/")
    page = requests.get(link.group(), timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert accepted["reference"] in page.text and '<html lang="nl">' in page.text
    assert "Wacht op een medewerker" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    wrong = requests.get(link.group().replace("token=", "token=x"), timeout=5)
    assert wrong.status_code == 404 and accepted["reference"] not in wrong.text

    claimed = requests.post(
        f"{desk.urls['queue']}/v1/queues/frontoffice/next",
        headers=bearer(desk.keys["agent"]),
        timeout=10,
    )
    assert claimed.status_code == 200
    ticket_id = claimed.json()["id"]
    while claimed.json()["reference"] != accepted["reference"]:  # earlier tests' tickets
        claimed = requests.post(
            f"{desk.urls['queue']}/v1/queues/frontoffice/next",
            headers=bearer(desk.keys["agent"]),
            timeout=10,
        )
        ticket_id = claimed.json()["id"]
    wait_until(lambda: len(desk.smtp.to(address)) == 2, timeout=30, what="the second message")
    taken = desk.smtp.to(address)[1]
    assert taken["In-Reply-To"] == confirmation["Message-ID"]
    assert "in behandeling" in taken.get_body(("plain",)).get_content()

    def logged() -> list[dict]:
        answer = requests.get(
            f"{desk.urls['notify']}/v1/deliveries",
            params={"ticket_id": ticket_id},
            headers=bearer(desk.keys["agent"]),
            timeout=5,
        )
        done = [d for d in answer.json()["deliveries"] if d["outcome"] == "sent"]
        return done if len(done) == 2 else []

    log = wait_until(logged, timeout=30, what="both deliveries in the log")
    assert {d["template"] for d in log} == {"received", "in_progress"}
    assert {d["recipient"] for d in log} == {"e***@example.org"}

    def in_history() -> list[dict]:
        ticket = requests.get(
            f"{desk.urls['queue']}/v1/tickets/{ticket_id}",
            headers=bearer(desk.keys["agent"]),
            timeout=5,
        ).json()
        return [h for h in ticket["history"] if h["kind"] == "notification_sent"]

    assert len(wait_until(lambda: len(in_history()) == 2 and in_history(), timeout=30)) == 2


def test_the_portals_first_page_shows_every_channel_with_its_hours_and_wait(desk):
    page = requests.get(f"{desk.public_url}/?lang=en", timeout=5)
    assert page.status_code == 200
    for words in ("Choose how to reach us", "Opening hours", "Expected wait", "Europe/Amsterdam"):
        assert words in page.text
    assert page.text.count('<th scope="row">') == 6  # every channel, none forced first
