"""Notify against the real broker, both databases, a real SMTP server and HTTP receivers."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select

from services.common import broker
from services.common.db import make_engine, transaction
from services.common.events import Event, isoformat, parse_event
from services.common.unit_of_work import unit_of_work
from services.common.worker import run_worker
from services.notify import calendar, service, storage, transports
from services.notify.app import create_app
from services.notify.sender import AttemptProcessor, notifier_for, transports_for
from services.notify.settings import notify_settings
from services.notify.transports import Outgoing, Transports
from services.notify.worker import spec
from tests.receivers import http_receiver, self_signed_tls, smtp_receiver
from tests.support import (
    AMQP_URL,
    Proc,
    bearer,
    drain,
    free_port,
    publish_raw,
    python_module,
    queue_consumers,
    wait_until,
)

SECRET = "s3cret-shared-with-the-receiver"


def ticket_created(**changes) -> Event:
    ticket_id = str(uuid.uuid4())
    data = {
        "ticket_id": ticket_id,
        "reference": f"LKT-{uuid.uuid4().int % 10**8:08d}",
        "channel": "web",
        "category": "password_reset",
        "queue": "frontoffice",
        "priority": 3,
        "subject": "Locked out",
        "description": "Cannot sign in",
        "fields": {},
        "requester": {
            "name": "Ann Smith",
            "email": "ann@example.org",
            "phone": "+31612345678",
            "language": "en",
            "preferred_contact": "email",
        },
        "requester_verified": True,
        "tracking_token": "tok_" + "x" * 28,
        "reply_token": "abcdefghijklmnopqrstuvwxyz",
        "created_at": isoformat(datetime.now(UTC)),
        "contact_started_at": isoformat(datetime.now(UTC)),
        "resolved_on_contact": False,
        "resolution": None,
    }
    for key, value in changes.items():
        if key in ("email", "phone", "language", "preferred_contact"):
            data["requester"][key] = value
        else:
            data[key] = value
    return Event(type="ticket.created", data=data, source="intake")


def later(created: Event, type: str, **data) -> Event:
    base = {"ticket_id": created.data["ticket_id"], "reference": created.data["reference"]}
    return Event(type=type, data={**base, **data}, source="queue")


def publish(namespace: str, event: Event) -> None:
    publish_raw(namespace, event.type, event.to_json().encode(), message_id=event.id)


@pytest.fixture
def smtp():
    with smtp_receiver() as receiver:
        yield receiver


@pytest.fixture
def gateway():
    with http_receiver() as receiver:
        yield receiver


@pytest.fixture
def settings(make_settings, smtp, gateway):
    return make_settings(
        "notify",
        LOKET_SMTP_URL=smtp.url,
        LOKET_SMS_GATEWAY_URL=f"http://127.0.0.1:{gateway.port}/sms",
        LOKET_PUBLIC_BASE_URL="https://desk.example.org",
        LOKET_MAIL_FROM="Service desk <desk@example.org>",
        LOKET_NOTIFY_RETRY_BASE_SECONDS="0.2",
        LOKET_NOTIFY_MAX_ATTEMPTS="3",
        LOKET_NOTIFY_SEND_TIMEOUT_SECONDS="1",
        LOKET_NOTIFY_SECRET_KEY=Fernet.generate_key().decode(),
        # The receivers here listen on loopback, which webhooks may not reach by default.
        LOKET_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
    )


@pytest.fixture
def client(settings):
    app = create_app(settings)
    yield app.test_client()
    app.extensions["loket"].engine.dispose()


def declare(settings) -> None:
    connection = broker.connect(AMQP_URL, "loket-tests-declare")
    try:
        spec(settings).work.queue.declare(connection.channel(), settings.namespace, 5)
    finally:
        connection.close()


@pytest.fixture
def worker(settings):
    declare(settings)
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(settings, spec(settings), stop))
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()


def subscribe(client, keys, url: str, events=("ticket.*",)) -> dict:
    answer = client.post(
        "/v1/subscriptions",
        json={"url": url, "events": list(events), "secret": SECRET},
        headers=bearer(keys["admin"]),
    )
    assert answer.status_code == 201, answer.json
    return answer.json


def deliveries(client, keys, **query) -> list[dict]:
    answer = client.get("/v1/deliveries", query_string=query, headers=bearer(keys["agent"]))
    assert answer.status_code == 200, answer.json
    return answer.json["deliveries"]


def verify(received, secret: str = SECRET) -> dict:
    """What a receiver does: check the signature over "<t>.<body>" and the timestamp."""
    parts = dict(p.split("=", 1) for p in received.headers["X-Loket-Signature"].split(","))
    timestamp = int(parts["t"])
    assert abs(time.time() - timestamp) < 300
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + received.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"])
    return received.json()


def notification_events(client, namespace: str, count: int) -> list[Event]:
    """What queue would consume: notify's `notification.sent` and `notification.failed`,
    once `count` arrived and notify's outbox has nothing left to publish, so that any
    event beyond them would be here too (the relay marks a row sent after the broker
    confirmed it into the queue)."""
    engine = client.application.extensions["loket"].engine
    found: list[Event] = []

    def unpublished() -> int:
        with engine.connect() as conn:
            return conn.scalar(
                select(func.count())
                .select_from(storage.outbox)
                .where(storage.outbox.c.sent_at.is_(None))
            )

    def collect() -> bool:
        found.extend(
            e
            for e in (parse_event(b) for b in drain(broker.queue_name(namespace, "queue")))
            if e.type.startswith("notification.")
        )
        return len(found) >= count and unpublished() == 0

    wait_until(collect, what=f"{count} notification events and an empty outbox")
    collect()
    return found


def attempt_jobs(client) -> int:
    engine = client.application.extensions["loket"].engine
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(storage.attempts_outbox))


# Subscriptions (HTTP)


def test_subscriptions_need_an_admin(client, keys):
    body = {"url": "https://hooks.example.org/x", "events": ["ticket.*"], "secret": SECRET}
    assert client.post("/v1/subscriptions", json=body).status_code == 401
    for role in ("portal", "agent", "supervisor"):
        answer = client.post("/v1/subscriptions", json=body, headers=bearer(keys[role]))
        assert answer.status_code == 403, role
        assert answer.json["error"]["code"] == "forbidden"
        assert client.get("/v1/subscriptions", headers=bearer(keys[role])).status_code == 403
    assert client.delete("/v1/subscriptions/x", headers=bearer(keys["agent"])).status_code == 403
    assert (
        client.post("/v1/subscriptions", json=body, headers=bearer(keys["admin"])).status_code
        == 201
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"url": "not a url"}, "url"),
        ({"url": "ftp://hooks.example.org/x"}, "url"),
        ({"url": "https://user:pw@hooks.example.org/x"}, "url"),
        ({"events": ["tickets.*"]}, "events"),
        ({"events": ["ticket.exploded"]}, "events"),
        ({"events": []}, "events"),
        ({"secret": ""}, "secret"),
        ({"secret": "short"}, "secret"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_subscriptions_are_refused_with_the_field(client, keys, change, field):
    body = {"url": "https://hooks.example.org/x", "events": ["ticket.*"], "secret": SECRET}
    answer = client.post(
        "/v1/subscriptions", json={**body, **change}, headers=bearer(keys["admin"])
    )
    assert answer.status_code == 422
    assert answer.json["error"]["code"] == "validation_failed"
    assert field in answer.json["error"]["fields"]


def test_a_subscription_never_shows_its_secret_and_can_be_ended(client, keys):
    created = subscribe(
        client, keys, "https://hooks.example.org/x", ["ticket.*", "problem.detected"]
    )
    assert "secret" not in created and SECRET not in json.dumps(created)
    assert created["events"] == ["problem.detected", "ticket.*"]
    assert created["created_by"] == "carol"
    listed = client.get("/v1/subscriptions", headers=bearer(keys["admin"])).json
    assert [s["id"] for s in listed["subscriptions"]] == [created["id"]]
    assert SECRET not in json.dumps(listed)
    path = f"/v1/subscriptions/{created['id']}"
    assert client.delete(path, headers=bearer(keys["admin"])).status_code == 204
    assert client.delete(path, headers=bearer(keys["admin"])).status_code == 404
    assert client.get("/v1/subscriptions", headers=bearer(keys["admin"])).json == {
        "subscriptions": []
    }


def test_the_secret_is_stored_encrypted(client, keys, settings):
    subscribe(client, keys, "https://hooks.example.org/x")
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        stored = conn.execute(select(storage.subscriptions.c.secret_encrypted)).scalar_one()
    engine.dispose()
    assert SECRET not in stored
    assert (
        Fernet(notify_settings(settings).secret_key.encode()).decrypt(stored.encode()).decode()
        == SECRET
    )


def test_the_delivery_log_needs_an_agent_and_checks_its_query(client, keys):
    assert client.get("/v1/deliveries").status_code == 401
    assert client.get("/v1/deliveries", headers=bearer(keys["portal"])).status_code == 403
    bad = client.get("/v1/deliveries?medium=pigeon", headers=bearer(keys["agent"]))
    assert bad.status_code == 422 and "medium" in bad.json["error"]["fields"]
    assert deliveries(client, keys) == []


# Customer messages, through the worker


def test_a_new_request_is_confirmed_by_email_in_the_requesters_language(
    namespace, worker, client, keys, smtp
):
    created = ticket_created(language="en")
    publish(namespace, created)
    message = wait_until(lambda: smtp.to("ann@example.org"), what="the confirmation")[0]
    reference, ticket_id = created.data["reference"], created.data["ticket_id"]
    assert f"[{reference}]" in message["Subject"]
    assert message["Subject"].endswith("We have received your request")
    assert message["From"] == "Service desk <desk@example.org>"
    assert message["Message-ID"] == f"<{ticket_id}@example.org>"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    status_url = (
        f"https://desk.example.org/track/{reference}?token={created.data['tracking_token']}&lang=en"
    )
    assert status_url in text
    assert status_url.replace("&", "&amp;") in html and "Ann Smith" in html
    assert "Locked out" in text

    log = wait_until(
        lambda: [d for d in deliveries(client, keys, ticket_id=ticket_id) if d["outcome"] == "sent"]
    )
    assert log[0]["medium"] == "email"
    assert log[0]["recipient"] == "a***@example.org"
    assert log[0]["template"] == "received" and log[0]["attempts"] == 1
    # The worker that planned it sent it: no job went through the work queue.
    assert attempt_jobs(client) == 0
    sent = notification_events(client, namespace, 1)
    assert [e.type for e in sent] == ["notification.sent"]
    assert sent[0].data == {
        "ticket_id": ticket_id,
        "medium": "email",
        "recipient": "a***@example.org",
        "template": "received",
        "attempt": 1,
    }
    assert sent[0].causation_id == created.id

    # Later messages stay in the same thread, in the customer's mailbox.
    publish(
        namespace,
        later(
            created,
            "ticket.assigned",
            queue="frontoffice",
            agent="alice",
            waited_seconds=5,
            out_of_order=False,
        ),
    )
    wait_until(lambda: len(smtp.to("ann@example.org")) == 2, what="the second message")
    second = smtp.to("ann@example.org")[1]
    assert second["In-Reply-To"] == f"<{ticket_id}@example.org>"
    assert second["Message-ID"] != message["Message-ID"]
    # A reply to either message goes to the request's own reply address (decision 0017).
    reply_to = f"desk+{reference.lower()}.abcdefghijklmnopqrstuvwxyz@example.org"
    assert message["Reply-To"] == second["Reply-To"] == reply_to
    assert "taken your request" in second.get_body(("plain",)).get_content()


def test_a_stranger_typing_an_address_never_has_the_desk_mail_their_words(namespace, worker, smtp):
    """A web form takes any address: the desk's mail to it carries the reference and the
    desk's own words, never the name or subject typed (issue 33, 6)."""
    phishing = "Your account is closed, sign in at https://evil.example/ to keep it"
    created = ticket_created(subject=phishing, requester_verified=False)
    created.data["requester"]["name"] = "Claim your prize at https://evil.example/"
    publish(namespace, created)
    confirmation = wait_until(lambda: smtp.to("ann@example.org"), what="the confirmation")[0]
    publish(namespace, later(created, "ticket.status_changed", **{"from": "queued"},
                             to="cancelled", agent="alice", public_note="Not ours."))  # fmt: skip
    wait_until(lambda: len(smtp.to("ann@example.org")) == 2, what="the cancellation")
    for message in smtp.to("ann@example.org"):
        for part in (("plain",), ("html",)):
            text = message.get_body(part).get_content()
            assert "evil.example" not in text and "prize" not in text
            assert "Dear customer" in text
    text = confirmation.get_body(("plain",)).get_content()
    assert "We have received your request. Its reference is" in text
    assert created.data["reference"] in confirmation["Subject"]


def test_one_address_gets_at_most_five_confirmations_an_hour(namespace, worker, client, keys, smtp):
    created = [ticket_created() for _ in range(6)]
    for event in created:
        publish(namespace, event)
    wait_until(lambda: len(deliveries(client, keys)) == 6, what="six deliveries planned")
    refused = [d for d in deliveries(client, keys) if d["outcome"] == "failed"]
    assert len(refused) == 1, refused
    assert "5 confirmations to this address within the hour" in refused[0]["last_error"]
    wait_until(lambda: len(smtp.to("ann@example.org")) == 5, what="five confirmations")
    [unsent] = [
        e.data["reference"] for e in created if e.data["ticket_id"] == refused[0]["ticket_id"]
    ]
    assert [m for m in smtp.messages if unsent in m["Subject"]] == []


def test_dutch_and_sms_when_the_requester_prefers_them(namespace, worker, gateway, smtp):
    created = ticket_created(language="nl", preferred_contact="sms")
    publish(namespace, created)
    sms = wait_until(gateway.requests, what="the SMS")[0]
    assert sms.path == "/sms"
    body = sms.json()
    assert body["to"] == "+31612345678"
    assert body["text"].startswith(f"We hebben uw verzoek {created.data['reference']} ontvangen")
    assert sms.headers["Idempotency-Key"] == body["reference"]
    assert len(body["text"]) <= 306
    # No e-mail as well: a later request by e-mail is confirmed, and it is the only mail.
    later_one = ticket_created()
    later_one.data["requester"] = {"name": "Bo", "email": "bo@example.org", "language": "en"}
    publish(namespace, later_one)
    wait_until(lambda: smtp.to("bo@example.org"), what="the later confirmation")
    assert [m["To"] for m in smtp.messages] == ["bo@example.org"]


def test_internal_notes_never_reach_the_customer(namespace, worker, smtp):
    created = ticket_created()
    publish(namespace, created)
    wait_until(lambda: smtp.to("ann@example.org"), what="the confirmation")
    publish(
        namespace,
        later(
            created,
            "ticket.transferred",
            from_queue="frontoffice",
            to_queue="it_backoffice",
            note="customer is difficult",
            transfer_count=1,
        ),
    )
    publish(
        namespace,
        later(
            created,
            "ticket.status_changed",
            **{
                "from": "in_progress",
                "to": "waiting_on_customer",
                "agent": "alice",
                "public_note": "Which printer?",
            },
        ),
    )
    wait_until(lambda: len(smtp.to("ann@example.org")) == 3, what="two more messages")
    # Sends run in parallel, so the two may arrive in either order.
    by_subject = {m["Subject"].split("] ")[1]: m for m in smtp.to("ann@example.org")}
    transferred = by_subject["Your request has been passed on"]
    waiting = by_subject["We need something from you"]
    assert "difficult" not in transferred.as_string()
    # The new team is named, in the customer's language (decision 0009).
    assert "passed on to IT back office," in transferred.get_body(("plain",)).get_content()
    assert "Which printer?" in waiting.get_body(("plain",)).get_content()


def test_events_that_are_no_news_to_the_customer_send_nothing(
    namespace, worker, client, keys, smtp
):
    created = ticket_created(preferred_contact="none")
    publish(namespace, created)
    publish(
        namespace,
        later(
            created,
            "ticket.queued",
            queue="frontoffice",
            position=1,
            due_at=isoformat(datetime.now(UTC)),
            estimated_wait_seconds=None,
        ),
    )
    probe = ticket_created()
    publish(namespace, probe)
    wait_until(lambda: smtp.to("ann@example.org"), what="the probe's confirmation")
    assert len(smtp.messages) == 1
    assert deliveries(client, keys, ticket_id=created.data["ticket_id"]) == []


def test_a_redelivered_event_sends_one_message(namespace, worker, client, keys, smtp):
    created = ticket_created()
    publish(namespace, created)
    publish(namespace, created)
    wait_until(lambda: smtp.to("ann@example.org"), what="the confirmation")
    probe = ticket_created(email="probe@example.org")
    publish(namespace, probe)
    wait_until(lambda: smtp.to("probe@example.org"), what="the probe")
    assert len(smtp.to("ann@example.org")) == 1
    assert len(deliveries(client, keys, ticket_id=created.data["ticket_id"])) == 1


def test_a_survey_invitation_links_to_the_survey(namespace, worker, smtp):
    created = ticket_created()
    publish(namespace, created)
    wait_until(lambda: smtp.to("ann@example.org"))
    publish(
        namespace,
        later(
            created,
            "survey.requested",
            survey_token="sv_" + "y" * 30,
            requester=created.data["requester"],
            language="nl",
        ),
    )
    wait_until(lambda: len(smtp.to("ann@example.org")) == 2, what="the invitation")
    survey = smtp.to("ann@example.org")[1]
    assert "Hoe hebben we het gedaan" in survey["Subject"]
    assert "https://desk.example.org/survey/sv_" + "y" * 30 + "?lang=" in survey.as_string()


def test_a_call_back_for_no_particular_time_is_confirmed_with_a_link_to_choose_one(
    namespace, worker, gateway
):
    missed = ticket_created(channel="callback", preferred_contact="sms", language="nl")
    publish(namespace, missed)
    sms = wait_until(lambda: gateway.requests(), what="the SMS")[0].json()["text"]
    assert sms.startswith(f"We bellen u terug ({missed.data['reference']})")
    link = (
        f"https://desk.example.org/track/{missed.data['reference']}/callback?"
        f"token={missed.data['tracking_token']}&lang=nl"
    )
    assert link in sms and len(sms) <= 306


def test_a_call_back_the_desk_could_not_reach_asks_for_another_time_with_a_link(
    namespace, worker, smtp, gateway
):
    by_mail = ticket_created(channel="callback")
    by_text = ticket_created(channel="callback", preferred_contact="sms", language="nl")
    for created in (by_mail, by_text):
        publish(namespace, created)
    wait_until(lambda: smtp.to("ann@example.org") and gateway.requests(), what="confirmations")
    for created in (by_mail, by_text):
        publish(
            namespace,
            later(created, "ticket.status_changed", to="waiting_on_customer",
                  **{"from": "queued"}, agent="alice", reason="callback_not_reached",
                  public_note="We called you 3 times but could not reach you."),
        )  # fmt: skip
    asked = wait_until(lambda: smtp.to("ann@example.org")[1:], what="the e-mail")[0]
    assert "We could not reach you" in asked["Subject"]
    link = (
        f"https://desk.example.org/track/{by_mail.data['reference']}/callback?"
        f"token={by_mail.data['tracking_token']}&lang=en"
    )
    assert link in text_of(asked)
    sms = wait_until(lambda: gateway.requests()[1:], what="the SMS")[0].json()["text"]
    assert sms.startswith(f"We konden u niet telefonisch bereiken ({by_text.data['reference']})")
    assert f"/track/{by_text.data['reference']}/callback?token=" in sms and len(sms) <= 306


# Webhooks


def test_webhooks_are_signed_and_leave_the_customers_secrets_out(namespace, worker, client, keys):
    with http_receiver() as hook:
        subscribe(client, keys, hook.url, ["ticket.created", "problem.detected"])
        created = ticket_created()
        publish(namespace, created)
        problem = Event(
            type="problem.detected",
            source="feedback",
            data={
                "problem_id": str(uuid.uuid4()),
                "category": "printing",
                "count": 12,
                "baseline": 1.5,
                "window_start": isoformat(datetime.now(UTC) - timedelta(hours=1)),
                "window_end": isoformat(datetime.now(UTC)),
                "ticket_ids": ["a", "b"],
            },
        )
        publish(namespace, problem)
        received = wait_until(lambda: len(hook.requests()) == 2 and hook.requests(), what="hooks")
    by_type = {r.headers["X-Loket-Event-Type"]: r for r in received}
    envelope = verify(by_type["ticket.created"])
    assert by_type["ticket.created"].headers["X-Loket-Event-Id"] == created.id
    assert envelope["id"] == created.id and envelope["type"] == "ticket.created"
    assert envelope["data"]["reference"] == created.data["reference"]
    assert "tracking_token" not in envelope["data"] and "reply_token" not in envelope["data"]
    assert verify(by_type["problem.detected"])["data"]["count"] == 12
    with pytest.raises(AssertionError):
        verify(by_type["problem.detected"], secret="a-forger-does-not-know-it")


def test_a_failing_receiver_is_retried_until_it_answers(namespace, worker, client, keys):
    with http_receiver(statuses=[500, 503]) as hook:
        subscribe(client, keys, hook.url)
        created = ticket_created(preferred_contact="none")
        publish(namespace, created)
        wait_until(lambda: len(hook.requests()) == 3, what="three attempts")
        log = wait_until(
            lambda: [
                d for d in deliveries(client, keys, medium="webhook") if d["outcome"] == "sent"
            ]
        )
    assert log[0]["attempts"] == 3
    ids = {r.headers["X-Loket-Delivery-Id"] for r in hook.requests()}
    assert len(ids) == 1  # the same delivery each time, so a receiver can deduplicate
    for received in hook.requests():
        verify(received)
    assert [e.type for e in notification_events(client, namespace, 1)] == ["notification.sent"]


def test_a_4xx_is_not_retried_and_exhausted_retries_fail(namespace, worker, client, keys):
    with http_receiver(statuses=[410]) as gone, http_receiver(statuses=[500] * 10) as broken:
        subscribe(client, keys, gone.url)
        subscribe(client, keys, broken.url)
        publish(namespace, ticket_created(preferred_contact="none"))
        failed = wait_until(
            lambda: len(f := deliveries(client, keys, outcome="failed")) == 2 and f,
            what="both to fail",
        )
        assert len(gone.requests()) == 1
        assert len(broken.requests()) == 3  # LOKET_NOTIFY_MAX_ATTEMPTS
    errors = sorted(d["last_error"] for d in failed)
    assert errors == ["webhook answered 410", "webhook answered 500"]
    events = notification_events(client, namespace, 2)
    assert sorted(e.data["attempt"] for e in events) == [1, 3]
    assert {e.type for e in events} == {"notification.failed"}


def test_an_smtp_refusal_is_final_and_masked(namespace, make_settings, settings, client, keys):
    with smtp_receiver(reply="550 5.1.1 <ann@example.org>: no such mailbox") as refusing:
        changed = make_settings(
            "notify",
            LOKET_SMTP_URL=refusing.url,
            LOKET_NOTIFY_SECRET_KEY=notify_settings(settings).secret_key,
        )
        declare(changed)
        stop = threading.Event()
        thread = threading.Thread(target=run_worker, args=(changed, spec(changed), stop))
        thread.start()
        app = create_app(changed)
        try:
            publish(namespace, ticket_created())
            log = wait_until(lambda: deliveries(app.test_client(), keys, outcome="failed"))
        finally:
            stop.set()
            thread.join(timeout=30)
            app.extensions["loket"].engine.dispose()
    assert log[0]["attempts"] == 1
    assert "ann@" not in log[0]["last_error"] and "a***@example.org" in log[0]["last_error"]


# Exactly once, when the worker dies at the worst moments


@pytest.fixture
def planned(settings):
    """A ticket.created consumed, as the worker would: the delivery and its first job."""
    transports = transports_for(settings)
    notifier = notifier_for(settings, transports)
    engine = make_engine(settings.database_url)
    event = ticket_created()
    with unit_of_work(engine, "notify", storage.outbox, event=event) as unit:
        service.handle_event(unit, notifier, event, event.data, datetime.now(UTC))
    with engine.connect() as conn:
        job = conn.execute(select(storage.attempts_outbox.c.body)).scalar_one()
    processor = AttemptProcessor(engine, notifier, transports)
    yield engine, notifier, processor, job.encode()
    processor.close()
    engine.dispose()


def test_the_contact_is_read_back_only_by_events_that_do_not_carry_it(settings):
    notifier = notifier_for(settings, transports_for(settings))
    engine = make_engine(settings.database_url)
    created = ticket_created()
    assigned = later(created, "ticket.assigned", agent="agent-1")
    contact_reads = []

    def record(_conn, _cursor, statement, *_args):
        if statement.startswith("SELECT contacts."):
            contact_reads.append(statement)

    sqlalchemy_event.listen(engine, "before_cursor_execute", record)
    with unit_of_work(engine, "notify", storage.outbox, event=created) as unit:
        service.handle_event(unit, notifier, created, created.data, datetime.now(UTC))
    # The one read is the existence check before the contact is stored.
    assert len(contact_reads) == 1
    with unit_of_work(engine, "notify", storage.outbox, event=assigned) as unit:
        service.handle_event(unit, notifier, assigned, assigned.data, datetime.now(UTC))
    assert len(contact_reads) == 2  # it names only the ticket: who and what are read back
    sqlalchemy_event.remove(engine, "before_cursor_execute", record)
    with engine.connect() as conn:
        recipients = list(conn.scalars(select(storage.deliveries.c.recipient)))
    assert recipients == [created.data["requester"]["email"]] * 2
    engine.dispose()


def test_a_job_redelivered_after_the_send_was_recorded_sends_nothing(planned, smtp):
    _engine, _notifier, processor, job = planned
    assert processor.process(job).value == "processed"
    assert processor.process(job).value == "duplicate"  # the worker died before its ack
    assert len(smtp.messages) == 1


def test_a_send_cut_off_midway_is_repeated_with_the_same_message_id(planned, smtp):
    engine, notifier, processor, job = planned
    delivery_id = parse_event(job).data["delivery_id"]
    # Attempt 1 began, then its worker was killed.
    with unit_of_work(engine, "notify", storage.outbox) as unit:
        outgoing = service.begin_attempt(unit, notifier, delivery_id, 1, datetime.now(UTC))
    processor.transports.send(outgoing)  # ...after the message had left
    assert processor.process(job).value == "duplicate"  # its lease still runs: not yet
    assert len(smtp.messages) == 1
    with transaction(engine) as conn:
        storage.update_delivery(conn, delivery_id, lease_until=datetime.now(UTC))
    assert processor.process(job).value == "processed"  # lease over: taken over, sent again
    first, second = smtp.messages
    assert first["Message-ID"] == second["Message-ID"]  # a mailbox keeps one of the two
    with engine.connect() as conn:
        row = conn.execute(select(storage.deliveries)).one()
    assert (row.state, row.attempts, row.content, row.recipient) == ("sent", 1, None, None)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_first_attempt_whose_worker_was_killed_mid_send_is_sent_by_the_next(
    namespace, make_settings
):
    """The worker that plans a confirmation sends it itself, with no job in the work
    queue: when it dies mid-send, the attempt's lease runs out and another worker sends
    it again, with the same Message-ID."""
    with smtp_receiver(delay_seconds=0.8) as slow:
        extra = {
            "LOKET_SMTP_URL": slow.url,
            "LOKET_MAIL_FROM": "Service desk <desk@example.org>",
            "LOKET_PUBLIC_BASE_URL": "https://desk.example.org",
            "LOKET_NOTIFY_SEND_TIMEOUT_SECONDS": "1",  # a lease of 9 s, checked every 3 s
            "LOKET_NOTIFY_SECRET_KEY": Fernet.generate_key().decode(),
        }
        settings = make_settings("notify", **extra)
        env = {
            **os.environ,
            **extra,
            "LOKET_NOTIFY_DATABASE_URL": settings.database_url,
            "LOKET_AMQP_URL": AMQP_URL,
            "LOKET_NAMESPACE": namespace,
            "LOKET_NOTIFY_METRICS_PORT": str(free_port()),
        }
        queue = broker.queue_name(namespace, "notify")

        def worker() -> Proc:
            started = Proc(python_module("services", "notify", "worker"), env)
            wait_until(lambda: queue_consumers(queue) == 1, what="the worker consuming")
            return started

        first = worker()
        created = ticket_created()
        publish(namespace, created)
        wait_until(lambda: slow.messages, what="the confirmation on its way")
        first.kill()  # while the mail server takes its time to answer
        engine = make_engine(settings.database_url)
        try:
            with engine.connect() as conn:
                begun = conn.execute(select(storage.deliveries)).one()
                jobs = conn.scalar(select(func.count()).select_from(storage.attempts_outbox))
            assert (begun.state, begun.attempts, jobs) == ("sending", 1, 0)
            second = worker()
            try:
                wait_until(lambda: len(slow.messages) == 2, timeout=60, what="sent again")

                def finished():
                    with engine.connect() as conn:
                        return conn.execute(select(storage.deliveries)).one()

                done = wait_until(lambda: finished().state == "sent" and finished())
            finally:
                second.stop()
        finally:
            engine.dispose()
        assert done.attempts == 2
        thread = f"<{created.data['ticket_id']}@example.org>"
        assert {m["Message-ID"] for m in slow.messages} == {thread}


def test_an_unusable_job_is_dead_lettered(planned):
    _engine, _notifier, processor, _job = planned
    assert processor.process(b"not json").value == "dead_lettered"
    bad = Event(type="notification.attempt", data={"attempt": 0}, source="x").to_json()
    assert processor.process(bad.encode()).value == "dead_lettered"


def _an_email(n: int, recipient: str = "a@x.org", **content: str) -> Outgoing:
    content = {"subject": "s", "text": "t", "html": "<p>t</p>", "message_id": f"<{n}@x>",
               **content}  # fmt: skip
    return Outgoing(
        delivery_id=str(n), event_id=str(n), medium="email", recipient=recipient, content=content
    )


@contextlib.contextmanager
def _sender(receiver, mail_from: str = "desk@example.org") -> Iterator[Transports]:
    sender = Transports(smtp_url=receiver.url, mail_from=mail_from,
                        sms_gateway_url=None, timeout_seconds=5)  # fmt: skip
    try:
        yield sender
    finally:
        sender.close()


def test_plain_smtp_loads_no_certificates_and_tls_loads_them_once(monkeypatch):
    # Found with py-spy: half of the worker's CPU went to loading the system's
    # certificates for every message, even over plain SMTP.
    made = []
    monkeypatch.setattr(transports.ssl, "create_default_context", lambda: made.append(1))
    transports._tls_context.cache_clear()
    with smtp_receiver() as receiver, _sender(receiver) as sender:
        for n in range(3):
            sender.send(_an_email(n))
        assert len(receiver.messages) == 3
    assert made == []
    transports._tls_context()
    transports._tls_context()
    assert made == [1]
    transports._tls_context.cache_clear()


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").rstrip("\n").split("\n")


def test_an_email_beyond_ascii_arrives_as_written():
    text = (
        "Beste Zoë,\n\nUw verzoek is ontvangen \u2013 wij helpen u binnen één dag. ✓\n" + "ß" * 200
    )
    content = {"subject": "Uw verzoek \u2013 ontvangen ✓ (één)", "text": text,
               "html": f"<p>{text}</p>", "message_id": "<1@x>"}  # fmt: skip
    outgoing = _an_email(1, "zoe@x.org", **content)
    with smtp_receiver() as receiver, _sender(receiver, "Gemeente Nüenen <desk@x.org>") as sender:
        sender.send(outgoing)
        [message] = receiver.messages
    assert message["Subject"] == content["subject"]
    assert (message["From"].addresses[0].display_name, message["To"]) == (
        "Gemeente Nüenen",
        "zoe@x.org",
    )
    # Line ends come back as the wire has them (CRLF); mail readers show both alike.
    assert _lines(message.get_body(("plain",)).get_content()) == _lines(text)
    assert _lines(message.get_body(("html",)).get_content()) == _lines(content["html"])
    assert message["Auto-Submitted"] == "auto-generated" and message["Message-ID"] == "<1@x>"


def test_an_address_beyond_ascii_is_sent_with_smtputf8_or_fails_for_good():
    # Before, the message was built for ASCII only and the send crashed with a TypeError.
    outgoing = _an_email(1, "jürgen@example.org", subject="Grüße", text="Beste Jürgen")
    with smtp_receiver() as receiver, _sender(receiver) as sender:
        sender.send(outgoing)
        [message] = receiver.messages
    assert (message["To"], message["Subject"]) == ("jürgen@example.org", "Grüße")
    assert message.get_body(("plain",)).get_content().strip() == "Beste Jürgen"
    assert message["Message-ID"] == "<1@x>"
    with (
        smtp_receiver(smtputf8=False) as receiver,
        _sender(receiver) as sender,
        pytest.raises(transports.SendFailure) as failure,
    ):
        sender.send(outgoing)
    assert failure.value.verdict == "permanent" and "beyond ASCII" in str(failure.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9402/metrics",
        "http://localhost:15672/api/users",
        "http://169.254.169.254/latest/meta-data/",
        "http://2852039166/latest/meta-data/",  # the same address, other spellings
        "http://0xa9fea9fe/",
        "http://0251.0376.0251.0376/",
        "http://[::ffff:169.254.169.254]/",
        "http://[::1]:8003/",
        "http://10.0.0.5/hook",
        "http://0.0.0.0:8001/",
    ],
)
def test_a_webhook_to_an_address_that_is_not_public_is_refused(make_settings, keys, url):
    app = create_app(
        make_settings("notify", LOKET_NOTIFY_SECRET_KEY=Fernet.generate_key().decode())
    )
    body = {"url": url, "events": ["ticket.*"], "secret": SECRET}
    answer = app.test_client().post("/v1/subscriptions", json=body, headers=bearer(keys["admin"]))
    assert answer.status_code == 422, answer.json
    assert "url" in answer.json["error"]["fields"]
    app.extensions["loket"].engine.dispose()


def _webhook(url: str) -> Outgoing:
    content = {"body": "{}", "event_type": "ticket.created"}
    return Outgoing(delivery_id="d1", event_id="e1", medium="webhook", recipient=url,
                    content=content, secret=SECRET)  # fmt: skip


def test_delivery_checks_the_address_again_pins_it_and_reports_only_the_policy():
    with http_receiver() as receiver:
        url = f"http://localhost:{receiver.port}/hook"
        refusing = Transports(smtp_url=None, mail_from="d@x.org", sms_gateway_url=None,
                              timeout_seconds=2)  # fmt: skip
        with pytest.raises(transports.SendFailure) as failure:
            refusing.send(_webhook(url))
        # Nothing about the port or the connection: no scan oracle.
        assert failure.value.verdict == "permanent"
        assert (
            str(failure.value) == "webhook: refused by policy: the receiver's address is not public"
        )
        assert receiver.received == []
        allowed = Transports(smtp_url=None, mail_from="d@x.org", sms_gateway_url=None,
                             timeout_seconds=2,
                             webhook_allowed_networks=["127.0.0.0/8"])  # fmt: skip
        allowed.send(_webhook(url))
        [delivered] = receiver.received
        # Sent to the address checked, under the name of the subscription.
        assert delivered.headers["Host"] == f"localhost:{receiver.port}"
        refusing.close()
        allowed.close()


def test_an_https_webhook_is_pinned_to_its_address_and_still_checks_the_name(tmp_path, monkeypatch):
    tls, certificate = self_signed_tls(tmp_path, "localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate))
    with http_receiver(tls=tls) as receiver:
        sender = Transports(smtp_url=None, mail_from="d@x.org", sms_gateway_url=None,
                            timeout_seconds=2,
                            webhook_allowed_networks=["127.0.0.0/8"])  # fmt: skip
        sender.send(_webhook(f"https://localhost:{receiver.port}/hook"))
        [delivered] = receiver.received
        assert delivered.headers["Host"] == f"localhost:{receiver.port}"
        # The certificate is for "localhost": under another name the check fails.
        with pytest.raises(transports.SendFailure):
            sender.send(_webhook(f"https://127.0.0.1:{receiver.port}/hook"))
        sender.close()


def test_messages_share_an_smtp_session_and_a_dropped_one_is_replaced():
    with smtp_receiver() as receiver, _sender(receiver) as sender:
        for n in range(3):
            sender.send(_an_email(n))
        assert receiver.connections == 1
        receiver.drop_connections()
        for n in range(3, 5):
            sender.send(_an_email(n))
        assert len(receiver.messages) == 5
        assert receiver.connections == 2


def test_a_session_that_failed_is_not_used_again():
    with smtp_receiver(reply="451 Try again later") as receiver, _sender(receiver) as sender:
        for n in range(2):
            with pytest.raises(transports.SendFailure):
                sender.send(_an_email(n))
        assert receiver.connections == 2


def test_a_session_idle_too_long_is_not_used_again(monkeypatch):
    with smtp_receiver() as receiver, _sender(receiver) as sender:
        sender.send(_an_email(1))
        monkeypatch.setattr(transports, "SMTP_SESSION_IDLE_SECONDS", 0.0)
        sender.send(_an_email(2))
        assert receiver.connections == 2


def test_without_a_mail_transport_the_unsent_confirmation_is_recorded_for_the_agent(
    make_settings, keys
):
    settings = make_settings("notify", LOKET_NOTIFY_SECRET_KEY=Fernet.generate_key().decode())
    assert settings.smtp_url is None and settings.sms_gateway_url is None
    notifier = notifier_for(settings, transports_for(settings))
    engine = make_engine(settings.database_url)
    hook = {"url": "https://hooks.example.org/loket", "events": ["ticket.*"], "secret": SECRET}
    with unit_of_work(engine, "notify", storage.outbox) as unit:
        service.create_subscription(unit, notifier.box, hook, "admin", datetime.now(UTC))
    created = ticket_created()
    with unit_of_work(engine, "notify", storage.outbox, event=created) as unit:
        service.handle_event(unit, notifier, created, created.data, datetime.now(UTC))
    with engine.connect() as conn:
        jobs = conn.execute(select(storage.attempts_outbox)).all()
        reported = [json.loads(b) for b in conn.scalars(select(storage.outbox.c.body))]
    assert len(jobs) == 1  # the webhook's, planned with it; for the customer nothing to try
    [failed] = reported
    assert failed["type"] == "notification.failed"
    assert failed["data"]["error"] == ("not sent: no mail transport is configured (LOKET_SMTP_URL)")
    assert failed["data"]["ticket_id"] == created.data["ticket_id"]
    app = create_app(settings)
    logged, hook_delivery = sorted(
        deliveries(app.test_client(), keys, ticket_id=created.data["ticket_id"]),
        key=lambda d: d["medium"],
    )
    assert hook_delivery["medium"] == "webhook" and hook_delivery["outcome"] == "pending"
    assert (logged["outcome"], logged["recipient"], logged["template"]) == (
        "failed",
        "a***@example.org",
        "received",
    )
    assert logged["last_error"].startswith("not sent")
    app.extensions["loket"].engine.dispose()
    engine.dispose()


AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def _calendar(message) -> tuple[icalendar.Calendar, str]:
    """The calendar alternative of a mail, and its attached file's name."""
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    inline = [p for p in parts if p.get_content_disposition() != "attachment"]
    attached = [p for p in parts if p.get_content_disposition() == "attachment"]
    assert len(inline) == 1 and len(attached) == 1, [p.get_content_type() for p in parts]
    assert inline[0].get_content().encode() == attached[0].get_content().encode()
    entry = icalendar.Calendar.from_ical(inline[0].get_content())
    assert entry["METHOD"] == inline[0].get_param("method")
    return entry, attached[0].get_filename()


def test_an_appointment_is_confirmed_with_its_calendar_entry_and_taken_out_when_cancelled(
    namespace, worker, smtp
):
    start = datetime(2027, 3, 1, 9, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    slot = {"start": start.isoformat(), "end": (start + timedelta(minutes=15)).isoformat()}
    created = ticket_created(channel="walk_in", appointment=slot)
    publish(namespace, created)
    reference = created.data["reference"]
    booked = wait_until(lambda: smtp.to("ann@example.org"), what="the confirmation")[0]
    when = "Monday 1 March 2027, 09:00\N{EN DASH}09:15"
    assert booked["Subject"] == f"[{reference}] Your appointment on {when}"
    text = booked.get_body(("plain",)).get_content()
    assert "Counter 3, ground floor, City Hall, Amstel 1, Amsterdam" in text
    entry, filename = _calendar(booked)
    assert filename == "appointment.ics" and entry["METHOD"] == "REQUEST"
    [event] = entry.walk("VEVENT")
    assert (
        event.decoded("DTSTART") == start and event["DTSTART"].params["TZID"] == "Europe/Amsterdam"
    )
    assert event.decoded("DTEND") == start + timedelta(minutes=15)
    assert str(event["LOCATION"]).startswith("Counter 3, ground floor")
    assert f"/track/{reference}?token=" in str(event["URL"])
    assert entry.walk("VTIMEZONE"), "the zone travels with the entry"

    later_start = start + timedelta(days=1)
    new_end = later_start + timedelta(minutes=15)
    move = later(
        created, "appointment.moved", start=later_start.isoformat(), end=new_end.isoformat()
    )
    publish(namespace, move)
    moved = wait_until(lambda: smtp.to("ann@example.org")[1:], what="the move")[0]
    assert "moved to Tuesday 2 March 2027, 09:00" in moved["Subject"]
    again, _ = _calendar(moved)
    [shifted] = again.walk("VEVENT")
    assert again["METHOD"] == "REQUEST" and shifted["UID"] == event["UID"]
    assert shifted.decoded("DTSTART") == later_start and shifted["SEQUENCE"] == 1

    change = {
        "from": "queued",
        "to": "cancelled",
        "agent": "customer",
        "public_note": "Your appointment is cancelled.",
    }
    publish(namespace, later(created, "ticket.status_changed", **change))
    cancelled = wait_until(lambda: smtp.to("ann@example.org")[2:], what="the cancellation")[0]
    assert "is cancelled" in cancelled["Subject"]
    gone, _ = _calendar(cancelled)
    [withdrawn] = gone.walk("VEVENT")
    assert gone["METHOD"] == "CANCEL" and withdrawn["UID"] == event["UID"]
    assert withdrawn["SEQUENCE"] == 2 and withdrawn["STATUS"] == "CANCELLED"
    assert withdrawn.decoded("DTSTART") == later_start  # the time it had when cancelled


def test_the_day_before_an_appointment_its_customer_is_reminded_once_unless_it_was_cancelled(
    namespace, worker, settings, smtp
):
    def booked(email: str) -> Event:
        start = (datetime.now(UTC) + timedelta(days=1, hours=2)).astimezone(AMSTERDAM)
        slot = {"start": start.isoformat(), "end": (start + timedelta(minutes=15)).isoformat()}
        created = ticket_created(channel="walk_in", appointment=slot, email=email)
        publish(namespace, created)
        wait_until(lambda: smtp.to(email), what="the confirmation")
        return created

    kept, cancelled = booked("kept@example.org"), booked("gone@example.org")
    change = {"from": "queued", "to": "cancelled", "agent": "customer"}
    publish(namespace, later(cancelled, "ticket.status_changed", **change))
    wait_until(lambda: smtp.to("gone@example.org")[1:], what="the cancellation")
    notifier = notifier_for(settings, transports_for(settings))
    engine = make_engine(settings.database_url)
    try:
        for hours_later in (1, 3, 4):  # not yet; then due; then already sent
            with unit_of_work(engine, "notify", storage.outbox) as unit:
                now = datetime.now(UTC) + timedelta(hours=hours_later)
                planned = service.send_reminders(unit, notifier, now)
            assert planned == (1 if hours_later == 3 else 0)
    finally:
        engine.dispose()
    reminder = wait_until(lambda: smtp.to("kept@example.org")[1:], what="the reminder")[0]
    assert reminder["Subject"].startswith(f"[{kept.data['reference']}] Reminder: your appointment")
    assert len(smtp.to("gone@example.org")) == 2  # the confirmation and the cancellation only


@pytest.mark.parametrize("recipient", ["zoe@x.org", "jürgen@example.org"])
def test_an_appointment_entry_beyond_ascii_arrives_whole_on_either_way_a_mail_is_built(
    recipient,
):
    start = datetime(2027, 3, 1, 9, 0, tzinfo=AMSTERDAM)
    entry = calendar.appointment_entry(
        uid="LKT-000123@x.org",
        start=start,
        end=start + timedelta(minutes=15),
        stamp=datetime(2027, 2, 1, tzinfo=UTC),
        summary="Uw afspraak \u2013 één kwartier",
        location="Balie 3, Stadhuis, Nüenen",
        description="LKT-000123",
        url=None,
        organizer=None,
    )
    calendar_part = {"method": "REQUEST", "ics": entry}
    outgoing = _an_email(1, recipient, subject="Uw afspraak", calendar=calendar_part)
    with smtp_receiver() as receiver, _sender(receiver) as sender:
        sender.send(outgoing)
        [message] = receiver.messages
    parsed, filename = _calendar(message)
    [event] = parsed.walk("VEVENT")
    assert filename == "appointment.ics" and parsed["METHOD"] == "REQUEST"
    assert str(event["LOCATION"]) == "Balie 3, Stadhuis, Nüenen"
    assert str(event["SUMMARY"]) == "Uw afspraak \u2013 één kwartier"
    assert message.get_body(("plain",)) is not None  # the text is still the body


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def test_a_number_from_home_is_confirmed_with_its_number_and_told_when_its_turn_nears(
    namespace, worker, gateway, smtp
):
    created = ticket_created(channel="walk_in", ticket_number="B-014")
    publish(namespace, created)
    confirmation = wait_until(lambda: smtp.to("ann@example.org"), what="the confirmation")[0]
    assert "Your number for the counter is B-014." in text_of(confirmation)
    near = later(created, "ticket.turn_near", ticket_number="B-014", ahead=2,
                 estimated_wait_seconds=400)  # fmt: skip
    publish(namespace, near)
    told = wait_until(lambda: smtp.to("ann@example.org")[1:], what="the turn nearing")[0]
    assert told["Subject"] == (
        f"[{created.data['reference']}] Your turn at the counter is near: number B-014"
    )
    words = text_of(told)
    assert "2 people are ahead of you, about 7 minutes to go." in words
    assert "check in at the kiosk with your reference" in words
    # By text message, in Dutch, when that is what the customer chose.
    by_sms = ticket_created(channel="walk_in", ticket_number="B-015", language="nl",
                            preferred_contact="sms")  # fmt: skip
    publish(namespace, by_sms)
    publish(namespace, later(by_sms, "ticket.turn_near", ticket_number="B-015", ahead=0,
                             estimated_wait_seconds=None))  # fmt: skip
    texts = wait_until(lambda: gateway.requests()[1:], what="the SMS")
    assert (
        texts[-1].json()["text"].startswith("U bent bijna aan de beurt aan de balie: nummer B-015.")
    )
