"""Intake through HTTP on SQLite and PostgreSQL: every channel, every bad input, nothing
lost or doubled."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
import yaml
from prometheus_client import REGISTRY
from sqlalchemy import select

from services.common.auth import add_key
from services.common.events import Event, isoformat, utcnow
from services.common.unit_of_work import unit_of_work
from services.intake import handlers, storage
from services.intake.app import create_app
from tests.receivers import send_json
from tests.support import REPO, bearer, free_port, valid_request


@pytest.fixture
def make_intake(make_settings):
    apps = []

    def make(**extra):
        app = create_app(make_settings("intake", **extra))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["loket"].engine.dispose()


@pytest.fixture
def intake(make_intake):
    app = make_intake()
    return app.test_client(), app


def rows(app, table=storage.requests):
    with app.extensions["loket"].engine.connect() as conn:
        return conn.execute(select(table)).all()


def events(app, type="ticket.created"):
    with app.extensions["loket"].engine.connect() as conn:
        bodies = conn.scalars(
            select(storage.outbox.c.body).where(storage.outbox.c.type == type)
        ).all()
    return [json.loads(b) for b in bodies]


def post(client, key, body=None, **headers):
    return client.post("/v1/requests", json=body or valid_request(),
                       headers={**bearer(key), **headers})  # fmt: skip


def test_the_catalogue_in_both_languages(intake):
    client, _ = intake
    nl = client.get("/v1/catalogue?lang=nl").json["categories"]
    en = client.get("/v1/catalogue?lang=en").json["categories"]
    assert [c["id"] for c in nl] == [c["id"] for c in en]
    reset_nl, reset_en = nl[0], en[0]
    assert reset_nl["name"] != reset_en["name"]
    assert reset_en["fields"][1]["options"] == ["workstation", "email", "vpn", "other"]
    assert client.get("/v1/catalogue?lang=fr").status_code == 422


def test_the_catalogue_tells_the_limits_it_enforces(intake, keys):
    client, _ = intake
    categories = {c["id"]: c for c in client.get("/v1/catalogue?lang=en").json["categories"]}
    account = categories["password_reset"]["fields"][0]
    assert (account["name"], account["max_length"]) == ("account", 64)
    temperature = next(
        f for f in categories["room_temperature"]["fields"] if f["name"] == "temperature"
    )
    assert (temperature["min"], temperature["max"]) == (-10, 50)
    # What it says is what it does: one character more is refused at that field.
    body = valid_request(fields={"account": "x" * 65, "system": "email"})
    answer = client.post("/v1/requests", json=body, headers=bearer(keys["portal"]))
    assert answer.status_code == 422 and "fields.account" in answer.json["error"]["fields"]


@pytest.mark.parametrize("channel", ["web", "email", "phone", "chat", "walk_in", "callback"])
def test_every_channel_is_accepted_and_published(intake, keys, channel):
    client, app = intake
    response = post(client, keys["portal"], valid_request(channel=channel))
    assert response.status_code == 201, response.json
    [event] = events(app)
    assert event["data"]["channel"] == channel
    assert event["data"]["reference"] == response.json["reference"]


def test_a_requester_who_names_no_language_is_addressed_in_the_desks(make_intake, keys, tmp_path):
    desk = yaml.safe_load((REPO / "config" / "loket.yaml").read_text(encoding="utf-8"))
    config = tmp_path / "loket.yaml"
    config.write_text(yaml.safe_dump({**desk, "default_language": "en"}), encoding="utf-8")
    app = make_intake(LOKET_CONFIG=str(config))
    client = app.test_client()
    body = valid_request(requester={"name": "J. Doe", "email": "j.doe@example.org"})
    answer = post(client, keys["portal"], body)
    assert answer.status_code == 201, answer.json
    assert "lang=en" in answer.json["status_url"]
    [event] = events(app)
    assert event["data"]["requester"]["language"] == "en"
    # Asked without a language, the catalogue answers in the desk's too.
    names = {c["id"]: c["name"] for c in client.get("/v1/catalogue").json["categories"]}
    assert names["password_reset"] == "Password reset"


def test_priority_comes_from_impact_and_urgency_never_from_the_client(intake, keys):
    client, app = intake
    assert (
        post(client, keys["portal"], valid_request(impact="high", urgency="high")).status_code
        == 201
    )
    forced = post(client, keys["portal"], valid_request(priority=1, queue="x", status="closed"))
    assert forced.status_code == 422
    assert set(forced.json["error"]["fields"]) == {"priority", "queue", "status"}
    [event] = events(app)
    assert event["data"]["priority"] == 1 and event["data"]["queue"] == "frontoffice"


def test_a_contact_solved_on_the_spot_is_stored_published_and_its_wait_measured(intake, keys):
    client, app = intake
    body = valid_request(
        channel="walk_in",
        resolved_on_contact=True,
        resolution="Reset the password at the counter.",
        contact_wait_seconds=95,
    )
    waits, accepted = counted_walk_ins()
    assert post(client, keys["portal"], body).status_code == 201
    [event] = events(app)
    assert event["data"]["resolved_on_contact"] is True
    assert event["data"]["resolution"] == "Reset the password at the counter."
    assert event["data"]["contact_wait_seconds"] == 95
    assert counted_walk_ins() == (waits + 1, accepted + 1)
    assert (
        'loket_contact_wait_seconds_bucket{channel="walk_in",le="120.0"}'
        in client.get("/metrics").text
    )


def test_an_agent_records_the_phone_and_counter_contacts_they_take_and_no_other(intake, keys):
    client, app = intake
    started = utcnow() - timedelta(minutes=6)
    solved = valid_request(
        channel="phone",
        resolved_on_contact=True,
        resolution="Unlocked the account on the phone.",
        contact_started_at=isoformat(started),
        contact_wait_seconds=42,
    )
    assert post(client, keys["agent"], solved).status_code == 201
    portal_for_ann = {"X-Loket-On-Behalf-Of": "ann"}
    at_the_counter = valid_request(channel="walk_in")
    assert post(client, keys["portal_app"], at_the_counter, **portal_for_ann).status_code == 201
    refused = post(client, keys["agent"], valid_request(channel="web"))
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "channel_not_allowed"
    assert [r.submitted_by for r in rows(app)] == ["alice", "ann"]
    first = events(app)[0]["data"]
    assert first["resolved_on_contact"] is True and first["contact_wait_seconds"] == 42
    assert first["contact_started_at"] == isoformat(started)


def test_a_walk_in_gets_a_number_counting_up_per_queue_and_day(intake, keys):
    client, app = intake
    walk_in = valid_request(channel="walk_in")
    laptop = valid_request(
        channel="walk_in",
        category="laptop_broken",
        fields={"asset_tag": "NB-1", "symptom": "screen"},
    )
    numbers = [
        post(client, keys["portal"], body).json.get("ticket_number")
        for body in (walk_in, walk_in, laptop, valid_request())
    ]
    # The queues' letters from the desk file; a portal request waits for no counter.
    assert numbers == ["A-001", "A-002", "B-001", None]
    solved = valid_request(channel="walk_in", resolved_on_contact=True, resolution="Done.")
    assert "ticket_number" not in post(client, keys["portal"], solved).json
    assert [e["data"].get("ticket_number") for e in events(app)] == [*numbers, None]
    assert [r.ticket_number for r in rows(app)] == [*numbers, None]


def test_eight_kiosks_at_once_give_eight_different_numbers(intake, keys):
    _, app = intake
    numbers, barrier = [], threading.Barrier(8)

    def take() -> None:
        barrier.wait()
        answer = post(app.test_client(), keys["portal"], valid_request(channel="walk_in"))
        numbers.append(answer.json.get("ticket_number"))

    kiosks = [threading.Thread(target=take) for _ in range(8)]
    for kiosk in kiosks:
        kiosk.start()
    for kiosk in kiosks:
        kiosk.join()
    assert sorted(numbers) == [f"A-{n:03d}" for n in range(1, 9)]


def counted_walk_ins() -> tuple[float, float]:
    return (
        sample("loket_contact_wait_seconds_count", channel="walk_in"),
        sample("loket_requests_total", channel="walk_in", category="password_reset"),
    )


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_callback_keeps_the_first_contact_time_and_its_window(intake, keys):
    client, app = intake
    from datetime import UTC, datetime, timedelta

    started = (datetime.now(UTC) - timedelta(minutes=12)).replace(microsecond=0)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    window = {"not_before": f"{tomorrow}T13:00:00+01:00", "not_after": f"{tomorrow}T15:00:00+01:00"}
    body = valid_request(channel="callback", callback=window,
                         contact_started_at=started.isoformat())  # fmt: skip
    assert post(client, keys["phone"], body).status_code == 201
    [event] = events(app)
    assert event["data"]["contact_started_at"].startswith(started.strftime("%Y-%m-%dT%H:%M:%S"))
    assert event["data"]["callback"] == {
        "not_before": f"{tomorrow}T12:00:00.000Z",
        "not_after": f"{tomorrow}T14:00:00.000Z",
    }


@pytest.mark.parametrize(
    ("window", "field"),
    [
        # entirely in the past: a promise that cannot be kept
        ({"not_before": "2020-01-01T09:00:00Z", "not_after": "2020-01-01T10:00:00Z"},
         "callback.not_after"),
        ({"not_before": "2099-01-01T09:00:00Z", "not_after": "2099-01-01T10:00:00Z"},
         "callback.not_before"),
        ({"not_before": "2099-01-01T10:00:00Z", "not_after": "2099-01-01T09:00:00Z"},
         "callback.not_after"),
    ],
)  # fmt: skip
def test_a_callback_window_the_desk_cannot_keep_is_refused(intake, keys, window, field):
    client, app = intake
    answer = post(client, keys["phone"], valid_request(channel="callback", callback=window))
    assert answer.status_code == 422
    assert field in answer.json["error"]["fields"]
    assert events(app) == []


def test_the_same_idempotency_key_and_body_give_the_same_answer_even_after_a_restart(
    make_intake, keys
):
    first_app = make_intake()
    first = post(first_app.test_client(), keys["portal"], **{"Idempotency-Key": "order-1"})
    assert first.status_code == 201
    second_app = create_app(first_app.extensions["loket"].settings)
    try:
        again = post(second_app.test_client(), keys["portal"], **{"Idempotency-Key": "order-1"})
    finally:
        second_app.extensions["loket"].engine.dispose()
    assert again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(rows(first_app)) == 1 and len(events(first_app)) == 1
    # The remembered answer opens the request only for the service's key (issue 33, 9).
    (remembered,) = rows(first_app, storage.idempotency_keys)
    assert first.json["tracking_token"] not in json.dumps(remembered.response)


def test_ticket_created_says_whether_the_requester_was_verified(intake, keys):
    client, app = intake
    assert post(client, keys["portal"]).status_code == 201
    assert post(client, keys["phone"], valid_request(channel="phone")).status_code == 201
    verified = {e["data"]["channel"]: e["data"]["requester_verified"] for e in events(app)}
    assert verified == {"web": False, "phone": True}


def test_the_same_key_with_another_body_is_a_conflict(intake, keys):
    client, app = intake
    assert post(client, keys["portal"], **{"Idempotency-Key": "k"}).status_code == 201
    other = post(client, keys["portal"], valid_request(subject="Other"), **{"Idempotency-Key": "k"})
    assert other.status_code == 409 and other.json["error"]["code"] == "idempotency_conflict"
    # Keys belong to the front-end that used them.
    assert post(client, keys["phone"], valid_request(channel="phone"),
                **{"Idempotency-Key": "k"}).status_code == 201  # fmt: skip
    assert len(rows(app)) == 2


def test_racing_identical_requests_with_one_key_store_one_request(make_intake, keys):
    app = make_intake()
    answers = []
    barrier = threading.Barrier(6)

    def send():
        client = app.test_client()
        barrier.wait()
        response = post(client, keys["portal"], **{"Idempotency-Key": "race"})
        answers.append((response.status_code, response.json))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {status for status, _ in answers} == {201}
    assert len({json.dumps(body, sort_keys=True) for _, body in answers}) == 1
    assert len(rows(app)) == 1 and len(events(app)) == 1


def email(sender="Jan <jan@example.org>", subject="Printer on fire", message_id="<m1@x>",
          body="It is really on fire.", **headers):  # fmt: skip
    msg = EmailMessage()
    msg["From"], msg["Subject"], msg["Message-ID"] = sender, subject, message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def send_email(client, key, raw):
    return client.post("/v1/inbound/email", data=raw, content_type="message/rfc822",
                       headers=bearer(key))  # fmt: skip


def test_an_email_becomes_an_unclassified_request_once(intake, keys):
    client, app = intake
    first = send_email(client, keys["portal"], email())
    assert first.status_code == 201 and first.json["status"] == "received"
    again = send_email(client, keys["portal"], email())
    assert again.json == first.json
    [event] = events(app)
    assert event["data"]["category"] == "unclassified"
    assert event["data"]["channel"] == "email"
    assert event["data"]["requester"]["email"] == "jan@example.org"


def test_an_email_without_a_language_is_answered_in_the_one_it_is_written_in(intake, keys):
    client, app = intake
    text = "My printer has been broken since this morning. Can you help me?"
    english = email(subject="Printer broken", message_id="<en@x>", body=text)
    dutch = email(sender="ann@example.org", subject="Printer kapot", message_id="<nl@x>",
                  body="Mijn printer is sinds vanochtend kapot. Kunt u mij helpen?")  # fmt: skip
    unclear = email(sender="bo@example.org", subject="Printer", message_id="<xx@x>", body="?")
    for raw in (english, dutch, unclear):
        assert send_email(client, keys["portal"], raw).status_code == 201
    languages = {e["data"]["requester"]["email"]: e["data"]["requester"]["language"]
                 for e in events(app)}  # fmt: skip
    # The desk's default (Dutch) only where the text does not tell.
    assert languages == {"jan@example.org": "en", "ann@example.org": "nl",
                         "bo@example.org": "nl"}  # fmt: skip


def reply_address(app, reference):
    """The Reply-To notify writes for this request, from the token in its event."""
    [created] = [e for e in events(app) if e["data"]["reference"] == reference]
    token = created["data"]["reply_token"]
    return f"desk+{reference.lower()}.{token}@example.org"


def test_a_reply_to_the_requests_reply_address_is_appended_and_published(intake, keys):
    client, app = intake
    reference = send_email(client, keys["portal"], email()).json["reference"]
    reply = email(subject="Re: Printer on fire", message_id="<m2@x>",
                  body="Now the scanner too.", To=reply_address(app, reference))  # fmt: skip
    appended = send_email(client, keys["portal"], reply)
    assert appended.status_code == 200
    assert appended.json == {"reference": reference, "status": "appended"}  # no internal id
    [replied] = events(app, "ticket.customer_replied")
    assert replied["data"]["reference"] == reference
    assert replied["data"]["message"] == "Now the scanner too."
    assert len(rows(app, storage.messages)) == 1


def test_a_reply_without_the_token_is_the_requesters_only_when_the_gateway_vouches(
    make_intake, keys
):
    app = make_intake(LOKET_MAIL_AUTHSERV_ID="MX.Example.NET")
    client = app.test_client()
    reference = send_email(client, keys["portal"], email()).json["reference"]
    # The right From and the reference in the subject prove nothing: anyone can write both.
    forged = email(subject=f"Re: [{reference}] Printer", message_id="<f1@x>", body="Cancel it.")
    answer = send_email(client, keys["portal"], forged)
    assert answer.status_code == 201 and answer.json["reference"] != reference
    [linked] = [e for e in events(app) if e["data"]["reference"] == answer.json["reference"]]
    assert linked["data"]["fields"] == {"related_reference": reference}
    # The token of another request is no key to this one.
    other = send_email(client, keys["portal"], email(sender="ann@example.org", message_id="<o@x>"))
    token_of_other = reply_address(app, other.json["reference"]).split(".", 1)[1]
    stolen = email(message_id="<f2@x>", To=f"desk+{reference.lower()}.{token_of_other}",
                   subject=f"Re: [{reference}]")  # fmt: skip
    assert send_email(client, keys["portal"], stolen).status_code == 201
    # Results written by any other server than the desk's own are anyone's words.
    attackers = "mx.attacker.example; dmarc=pass header.from=example.org"
    attacker = email(
        subject=f"Re: [{reference}]", message_id="<a1@x>", Authentication_Results=attackers
    )
    assert send_email(client, keys["portal"], attacker).status_code == 201
    # DMARC (or DKIM) passing for the sender's own domain, as the desk's server reports it, is.
    results = ("mx.example.net; spf=pass smtp.mailfrom=example.org;"
               " dkim=pass header.d=example.org; dmarc=pass header.from=example.org")  # fmt: skip
    vouched = email(subject=f"Re: [{reference}] Printer", message_id="<v1@x>", body="Thanks",
                    Authentication_Results=results)  # fmt: skip
    assert send_email(client, keys["portal"], vouched).status_code == 200
    other_domain = "mx.example.net; dkim=pass header.d=attacker.test"
    elsewhere = email(
        subject=f"Re: [{reference}] Printer",
        message_id="<v2@x>",
        Authentication_Results=other_domain,
    )
    assert send_email(client, keys["portal"], elsewhere).status_code == 201
    # Only the topmost header of the desk's server counts: one forged below it does not.
    topmost_fails = [
        "mx.example.net; dmarc=fail header.from=example.org",
        "mx.example.net; dmarc=pass header.from=example.org",
    ]
    below = email_with_results(reference, "<v3@x>", topmost_fails)
    assert send_email(client, keys["portal"], below).status_code == 201
    assert [e["data"]["message"] for e in events(app, "ticket.customer_replied")] == ["Thanks"]


def test_with_no_receiving_server_named_no_authentication_results_count(intake, keys):
    client, app = intake
    reference = send_email(client, keys["portal"], email()).json["reference"]
    attackers = "mx.attacker.example; dmarc=pass header.from=example.org"
    forged = email(
        subject=f"Re: [{reference}]", message_id="<x1@x>", Authentication_Results=attackers
    )
    answer = send_email(client, keys["portal"], forged)
    assert answer.status_code == 201 and answer.json["reference"] != reference
    assert events(app, "ticket.customer_replied") == []


def email_with_results(reference, message_id, results):
    """A reply from the requester carrying several Authentication-Results, topmost first."""
    headers = "".join(f"Authentication-Results: {r}\r\n" for r in results)
    return (
        f"{headers}From: Jan <jan@example.org>\r\nTo: desk@example.org\r\n"
        f"Subject: Re: [{reference}]\r\nMessage-ID: {message_id}\r\n\r\nThanks again\r\n"
    ).encode()


def test_a_reused_message_id_never_returns_another_messages_answer(intake, keys):
    client, app = intake
    first = send_email(client, keys["portal"], email(message_id="<same@x>"))
    # Another sender, or other content, with the same Message-ID: a message of its own.
    eve = send_email(client, keys["portal"], email(sender="eve@example.net", message_id="<same@x>"))
    other = send_email(client, keys["portal"], email(message_id="<same@x>", body="Another."))
    answers = [first.json, eve.json, other.json]
    assert [a["status"] for a in answers] == ["received"] * 3
    assert len({a["reference"] for a in answers}) == 3
    assert len({a["tracking_token"] for a in answers}) == 3
    # The same message delivered again is still one request.
    assert send_email(client, keys["portal"], email(message_id="<same@x>")).json == first.json
    assert len(rows(app)) == 3


def test_malformed_and_oversize_mail_get_clear_errors_and_do_not_block_the_next(make_intake, keys):
    app = make_intake(LOKET_MAX_EMAIL_BYTES="2048")
    client = app.test_client()
    before = {reason: sample("loket_requests_rejected_total", channel="email", reason=reason)
              for reason in ("malformed_email", "payload_too_large")}  # fmt: skip

    malformed = send_email(client, keys["portal"], b"Subject: who sent this?\r\n\r\nbody")
    assert malformed.status_code == 422
    assert malformed.json["error"]["fields"] == {
        "from": ["The message needs a sender address (From)."]
    }
    oversize = send_email(client, keys["portal"], email(body="x" * 5000))
    assert oversize.status_code == 413
    assert send_email(client, keys["portal"], email()).status_code == 201

    for reason, count in before.items():
        assert sample("loket_requests_rejected_total", channel="email", reason=reason) == count + 1


def test_a_key_without_the_email_channel_may_not_post_mail(intake, keys):
    client, _ = intake
    assert send_email(client, keys["phone"], email()).status_code == 403
    assert send_email(client, keys["agent"], email()).status_code == 403
    assert client.post("/v1/inbound/email", data=email()).status_code == 401


class _Estimates(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.hits += 1
        if self.server.hang:
            self.server.release.wait(5)
        if self.server.fail:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        phone = {"estimated_wait_seconds": 300, "estimated_wait_low_seconds": 120,
                 "estimated_wait_high_seconds": 600}  # fmt: skip
        send_json(self, 200, {"channels": {"phone": phone}})

    def log_message(self, *args):
        pass


@pytest.fixture
def queue_stub():
    servers = []

    def start(hang=False, fail=False):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Estimates)
        server.hang, server.fail, server.hits = hang, fail, 0
        server.release = threading.Event()
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        start.last = server
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


def test_contact_options_show_the_queue_services_estimates(make_intake, queue_stub):
    client = make_intake(LOKET_QUEUE_URL=queue_stub()).test_client()
    channels = {c["channel"]: c for c in client.get("/v1/contact-options?lang=en").json["channels"]}
    assert len(channels) == 6
    assert channels["phone"]["estimated_wait_seconds"] == 300 and channels["phone"]["wait_known"]
    assert channels["web"]["wait_known"] is False
    # How to reach the desk, from the desk file's `contact` (issue 33).
    assert channels["phone"]["contact"] == {"phone": "+31 20 555 0100", "uri": "tel:+31205550100"}
    assert channels["email"]["contact"]["uri"] == "mailto:servicedesk@example.org"
    assert channels["walk_in"]["contact"] == {
        "address": "City Hall, Amstel 1, Amsterdam",
        "room": "Counter 3, ground floor",
    }
    assert channels["web"]["contact"] is None


@pytest.mark.parametrize("queue", ["down", "hanging"])
def test_contact_options_list_every_channel_when_the_queue_service_does_not_answer(
    make_intake, queue_stub, queue
):
    url = f"http://127.0.0.1:{free_port()}" if queue == "down" else queue_stub(hang=True)
    client = make_intake(LOKET_QUEUE_URL=url).test_client()
    response = client.get("/v1/contact-options?lang=nl")
    assert response.status_code == 200
    channels = response.json["channels"]
    assert len(channels) == 6
    assert all(c["estimated_wait_seconds"] is None and not c["wait_known"] for c in channels)


def test_a_queue_service_that_fails_is_not_asked_again_on_every_visit(make_intake, queue_stub):
    client = make_intake(LOKET_QUEUE_URL=queue_stub(fail=True)).test_client()
    for _ in range(3):
        channels = client.get("/v1/contact-options").json["channels"]
        assert not any(c["wait_known"] for c in channels)
    assert queue_stub.last.hits == 1


def test_a_client_key_over_its_rate_limit_gets_429_with_retry_after(make_intake, keys):
    client = make_intake(LOKET_RATE_LIMIT_PER_KEY="3/day").test_client()
    statuses = [post(client, keys["portal"]).status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    limited = post(client, keys["portal"])
    assert limited.json["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    # Another key has its own budget; health checks are never limited.
    assert post(client, keys["phone"], valid_request(channel="phone")).status_code == 201
    assert all(client.get("/healthz").status_code == 200 for _ in range(5))
    assert (
        'loket_requests_rejected_total{channel="web",reason="rate_limited"}'
        in client.get("/metrics").text
    )


def test_an_address_over_its_rate_limit_gets_429_whatever_key_it_uses(make_intake, keys):
    client = make_intake(LOKET_RATE_LIMIT_PER_ADDRESS="2/day").test_client()
    assert post(client, keys["portal"]).status_code == 201
    assert post(client, keys["phone"], valid_request(channel="phone")).status_code == 201
    assert post(client, "made-up-key").status_code == 429


def test_web_workers_can_share_their_rate_limit_counts_in_redis(make_intake, keys, namespace):
    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis does not answer at {url} ({exc}); start it with redis-server")
    settings = {"LOKET_RATE_LIMIT_PER_KEY": "3/day", "LOKET_RATE_LIMIT_STORAGE_URL": url}
    first, second = make_intake(**settings).test_client(), make_intake(**settings).test_client()
    assert [post(c, keys["portal"]).status_code for c in (first, second, first)] == [201] * 3
    assert post(second, keys["portal"]).status_code == 429


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"channel": "fax"}, {"channel"}),
        ({"channel": ["web"]}, {"channel"}),
        ({"category": "teleportation"}, {"category"}),
        ({"subject": 42, "description": None}, {"subject", "description"}),
        ({"fields": {"account": "jdoe"}}, {"fields.system"}),
        ({"requester": {"name": "J", "email": "j@@example"}}, {"requester.email"}),
        ({"requester": {"name": "J", "phone": "phone me maybe", "preferred_contact": "sms"}},
         {"requester.phone"}),
        ({"requester": "J. Doe"}, {"requester"}),
        ({"impact": "high", "urgency": 3}, {"urgency"}),
    ],
)  # fmt: skip
def test_each_bad_input_is_named_and_nothing_is_stored(intake, keys, changes, fields):
    client, app = intake
    response = post(client, keys["portal"], valid_request(**changes))
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_failed"
    assert set(response.json["error"]["fields"]) == fields
    assert rows(app) == [] and events(app) == []


def test_a_customer_replies_on_the_status_page_with_the_tracking_token(intake, keys):
    client, app = intake
    accepted = post(client, keys["portal"]).json
    url = f"/v1/requests/{accepted['reference']}/replies"
    body = {"token": accepted["tracking_token"], "message": "It works again after a restart."}
    for _ in range(2):  # a double click: one message
        answer = client.post(url, json=body, headers={"Idempotency-Key": "form-1"})
        assert answer.status_code == 201
        assert answer.json == {"reference": accepted["reference"], "status": "appended"}
    [replied] = events(app, "ticket.customer_replied")
    assert replied["data"]["channel"] == "web"
    assert replied["data"]["message"] == body["message"]
    # A wrong token and an unknown reference look the same.
    wrong = client.post(url, json={**body, "token": "x" * 32})
    unknown = client.post("/v1/requests/LKT-999999/replies", json=body)
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json == unknown.json
    assert client.post(url, json={**body, "message": ""}).status_code == 422
    assert len(events(app, "ticket.customer_replied")) == 1


def test_a_request_takes_ten_replies_a_minute_and_guesses_use_up_none(intake, keys):
    client, app = intake
    accepted, other = post(client, keys["portal"]).json, post(client, keys["portal"]).json
    url = f"/v1/requests/{accepted['reference']}/replies"
    for n in range(15):  # someone guessing tokens (the gateway limits them per address)
        assert client.post(url, json={"token": f"{n:032d}", "message": "x"}).status_code == 404
    body = {"token": accepted["tracking_token"]}
    for n in range(10):
        assert client.post(url, json={**body, "message": f"Reply {n}"}).status_code == 201
    refused = client.post(url, json={**body, "message": "Reply 10"})
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "too_many_replies"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    replied = [e["data"]["message"] for e in events(app, "ticket.customer_replied")]
    assert "Reply 10" not in replied and len(replied) == 10
    elsewhere = f"/v1/requests/{other['reference']}/replies"
    body = {"token": other["tracking_token"], "message": "Mine"}
    assert client.post(elsewhere, json=body).status_code == 201


def queue_moved(app, reference, to, days_ago=0.0, occurred_at=None):
    """The queue's `ticket.status_changed`, handled as intake's worker handles it."""
    [created] = [e for e in events(app) if e["data"]["reference"] == reference]
    at = occurred_at or utcnow() - timedelta(days=days_ago)
    event = Event(
        type="ticket.status_changed",
        data={"ticket_id": created["data"]["ticket_id"], "reference": reference,
              "from": "in_progress", "to": to, "agent": "alice"},
        source="queue",
        occurred_at=isoformat(at),
    )  # fmt: skip
    with unit_of_work(app.extensions["loket"].engine, "intake", storage.outbox) as unit:
        handlers.handlers(app.extensions["loket"].settings)[("ticket.status_changed", 1)](
            unit, event
        )


def test_a_reply_after_the_reopen_window_becomes_a_new_request_that_refers_to_the_old(intake, keys):
    client, app = intake
    accepted = post(client, keys["portal"]).json
    reference, url = accepted["reference"], f"/v1/requests/{accepted['reference']}/replies"
    body = {"token": accepted["tracking_token"], "message": "Still broken."}
    queue_moved(app, reference, "resolved", days_ago=13)
    within = client.post(url, json=body)
    assert within.json == {"reference": reference, "status": "appended"}  # the queue reopens
    queue_moved(app, reference, "resolved", days_ago=0.5)
    # An older event delivered late changes nothing.
    queue_moved(app, reference, "in_progress", days_ago=1)
    queue_moved(app, reference, "resolved", days_ago=15)
    [row] = [r for r in rows(app) if r.id == accepted["id"]]
    assert row.status == "resolved" and row.status_at > row.created_at - timedelta(days=1)
    assert client.post(url, json=body).json["status"] == "appended"

    accepted = post(client, keys["portal"], **{"Idempotency-Key": "second"}).json
    reference, url = accepted["reference"], f"/v1/requests/{accepted['reference']}/replies"
    queue_moved(app, reference, "resolved", days_ago=14.05)
    late = client.post(url, json={"token": accepted["tracking_token"],
                                  "message": "It is broken again."})  # fmt: skip
    assert late.status_code == 201, late.json
    assert late.json["status"] == "received" and late.json["related_reference"] == reference
    new_page = f"/track/{late.json['reference']}?token={late.json['tracking_token']}&lang=en"
    assert late.json["status_url"].endswith(new_page)
    [follow_up] = [e for e in events(app) if e["data"]["reference"] == late.json["reference"]]
    original = valid_request()
    assert follow_up["data"]["category"] == original["category"]
    assert follow_up["data"]["fields"] == {**original["fields"], "related_reference": reference}
    assert follow_up["data"]["description"] == "It is broken again."
    assert follow_up["data"]["channel"] == "web"
    assert len(events(app, "ticket.customer_replied")) == 2  # the late one was not appended


def test_an_email_reply_to_a_closed_request_becomes_a_new_request_that_refers_to_it(intake, keys):
    client, app = intake
    reference = send_email(client, keys["portal"], email()).json["reference"]
    queue_moved(app, reference, "closed", days_ago=1)
    reply = email(subject="Re: Printer on fire", message_id="<late@x>", body="On fire again.",
                  To=reply_address(app, reference))  # fmt: skip
    answer = send_email(client, keys["portal"], reply)
    assert answer.status_code == 201
    assert answer.json["related_reference"] == reference
    [follow_up] = [e for e in events(app) if e["data"]["reference"] == answer.json["reference"]]
    assert follow_up["data"]["channel"] == "email"
    assert follow_up["data"]["fields"]["related_reference"] == reference
    assert events(app, "ticket.customer_replied") == []


def test_the_portals_key_has_a_budget_of_its_own_not_one_customers(make_intake, keys_file, keys):
    """The portal speaks for every customer from one address: the per-key and per-address
    limits of a front-end would stop the whole portal at one customer's budget."""
    path, _ = keys_file
    portal = add_key(path, "loket-portal-test", "portal", ["web", "callback"])
    client = make_intake(LOKET_RATE_LIMIT_PER_KEY="2/day", LOKET_RATE_LIMIT_PER_ADDRESS="2/day",
                         LOKET_RATE_LIMIT_PER_PORTAL="4/day").test_client()  # fmt: skip
    assert [post(client, portal).status_code for _ in range(5)] == [201] * 4 + [429]
    # Everyone else at that address still has the address's budget.
    assert [post(client, keys["portal"]).status_code for _ in range(3)] == [201, 201, 429]


def _with_files(raw: bytes, *files: tuple[str, str, bytes], **headers) -> bytes:
    msg = message_from_bytes(raw, policy=policy.default)
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    for filename, content_type, content in files:
        main, sub = content_type.split("/")
        msg.add_attachment(content, maintype=main, subtype=sub, filename=filename)
    return msg.as_bytes()


def test_what_an_email_carries_is_kept_and_only_staff_download_it_as_a_file(intake, keys):
    client, app = intake
    page = b"<script>alert(1)</script>"
    raw = _with_files(
        email(),
        ("../foto printer €.jpg", "image/jpeg", b"\xff\xd8\xff jpeg"),
        ("page.html", "text/html", page),
    )
    reference = send_email(client, keys["portal"], raw).json["reference"]
    [created] = events(app, "ticket.created")
    photo, html = created["data"]["attachments"]
    assert (photo["filename"], photo["content_type"], photo["size"]) == (
        "../foto printer €.jpg", "image/jpeg", 8,
    )  # fmt: skip
    url = f"/v1/attachments/{html['id']}"
    for caller in ("agent", "supervisor", "admin"):
        got = client.get(url, headers=bearer(keys[caller]))
        assert got.status_code == 200 and got.data == page
    assert got.headers["Content-Type"] == "text/html"  # its stored type, never guessed
    assert got.headers["Content-Disposition"] == (
        "attachment; filename=\"page.html\"; filename*=UTF-8''page.html"
    )
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Security-Policy"].startswith("sandbox")
    named = client.get(f"/v1/attachments/{photo['id']}", headers=bearer(keys["agent"]))
    assert named.data == b"\xff\xd8\xff jpeg"
    assert named.headers["Content-Disposition"] == (
        'attachment; filename="_foto printer _.jpg"; '
        "filename*=UTF-8''_foto%20printer%20%E2%82%AC.jpg"
    )  # no path survives
    # A front-end's key is not staff; an id not kept is not found.
    assert client.get(url, headers=bearer(keys["portal"])).status_code == 403
    assert client.get(url).status_code == 401
    unknown = client.get(f"/v1/attachments/{uuid.uuid4()}", headers=bearer(keys["agent"]))
    assert unknown.status_code == 404 and unknown.json["error"]["code"] == "not_found"
    # A reply's files are kept too, and its event names them.
    reply = _with_files(
        email(subject=f"Re: [{reference}]", message_id="<r1@x>", body="Here is the log."),
        ("log.txt", "text/plain", b"line 1\n"),
        To=reply_address(app, reference),
    )
    assert send_email(client, keys["portal"], reply).json["status"] == "appended"
    [replied] = events(app, "ticket.customer_replied")
    [log] = replied["data"]["attachments"]
    assert log["filename"] == "log.txt" and log["size"] == 7
    kept = client.get(f"/v1/attachments/{log['id']}", headers=bearer(keys["agent"]))
    assert kept.data == b"line 1\n"


def _slots(client, key, **query):
    answer = client.get("/v1/appointments/slots", query_string=query, headers=bearer(key))
    assert answer.status_code == 200, answer.json
    return answer.json["slots"]


def _book(client, key, start, **changes):
    body = {**valid_request(channel="walk_in", **changes), "start": start}
    return client.post("/v1/appointments", json=body, headers=bearer(key))


def test_the_counter_offers_slots_in_its_hours_only_and_never_in_the_past(intake, keys):
    client, _ = intake
    now = utcnow()
    slots = _slots(client, keys["portal"], category="password_reset", days=14)
    assert slots, "two weeks of a counter open four and a half days a week"
    hours = {0: (9, 16), 1: (9, 16), 2: (9, 16), 3: (9, 16), 4: (9, 12)}  # config/loket.yaml
    for slot in slots:
        start, end = datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"])
        assert (
            start.utcoffset() is not None and start > now and end - start == timedelta(minutes=15)
        )
        opens, closes = hours[start.weekday()]  # no slot on a weekend
        assert opens <= start.hour and (end.hour, end.minute) <= (closes, 0)
        assert slot["available"] == 1  # two desks, half of them bookable
    tomorrow = _slots(client, keys["portal"], days=1)  # today and tomorrow: maybe none
    assert tomorrow == slots[: len(tomorrow)]
    last_day = datetime.fromisoformat(slots[-1]["start"]).date()
    assert last_day <= (now + timedelta(days=15)).date()
    wrong = client.get("/v1/appointments/slots?days=0", headers=bearer(keys["portal"]))
    assert wrong.status_code == 422 and "days" in wrong.json["error"]["fields"]
    unknown = client.get("/v1/appointments/slots?category=x", headers=bearer(keys["portal"]))
    assert unknown.status_code == 422


def test_eight_bookings_for_the_last_seat_one_wins_and_a_cancel_frees_it(intake, keys):
    client, app = intake
    start = _slots(client, keys["portal"])[0]["start"]
    answers, barrier = [], threading.Barrier(8)

    def book(n: int) -> None:
        barrier.wait()
        email = f"booker{n}@example.org"
        requester = {"name": f"Booker {n}", "email": email, "language": "en"}
        answers.append(_book(app.test_client(), keys["portal"], start, requester=requester))

    bookers = [threading.Thread(target=book, args=(n,)) for n in range(8)]
    for booker in bookers:
        booker.start()
    for booker in bookers:
        booker.join()
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * 7, codes
    [won] = [a.json for a in answers if a.status_code == 201]
    assert won["start"] == start and won["end"] > start and "ticket_number" not in won
    assert {a.json["error"]["code"] for a in answers if a.status_code == 409} == {"slot_full"}
    [created] = events(app)
    assert created["data"]["appointment"] == {"start": won["start"], "end": won["end"]}
    assert _slots(client, keys["portal"])[0]["available"] == 0

    cancel = f"/v1/appointments/{won['reference']}/cancel"
    assert client.post(cancel, query_string={"token": "x" * 43}).status_code == 404
    done = client.post(cancel, query_string={"token": won["tracking_token"]})
    assert done.status_code == 200 and done.json["status"] == "cancelled"
    again = client.post(cancel, query_string={"token": won["tracking_token"]})
    assert again.json == done.json  # once is enough
    assert [e["data"]["reference"] for e in events(app, "appointment.cancelled")] == [
        won["reference"]
    ]
    assert _slots(client, keys["portal"])[0]["available"] == 1
    assert _book(client, keys["portal"], start).status_code == 201


@pytest.fixture
def open_counter(make_intake, tmp_path):
    """Intake of a desk whose counter is always open: the next slot is minutes away."""
    config = yaml.safe_load((REPO / "config" / "loket.yaml").read_text())
    config["opening_hours"]["walk_in"] = "always"
    (tmp_path / "desk.yaml").write_text(yaml.safe_dump(config))
    app = make_intake(LOKET_CONFIG=str(tmp_path / "desk.yaml"))
    return app.test_client(), app


def test_a_booking_names_a_slot_and_a_check_in_gives_todays_number(open_counter, keys):
    client, app = open_counter
    slots = _slots(client, keys["portal"], days=1)
    off_the_grid = datetime.fromisoformat(slots[0]["start"]) + timedelta(minutes=7)
    wrong = _book(client, keys["portal"], off_the_grid.isoformat())
    assert wrong.status_code == 422 and "start" in wrong.json["error"]["fields"]
    phone = _book(client, keys["phone"], slots[0]["start"])
    assert phone.status_code == 403 and phone.json["error"]["code"] == "channel_not_allowed"
    booked = _book(client, keys["portal"], slots[0]["start"]).json
    later = _book(client, keys["portal"], slots[10]["start"]).json  # 2.5 hours from now
    too_soon = f"/v1/appointments/{later['reference']}/check-in"
    early = client.post(too_soon, headers=bearer(keys["portal"]))
    assert early.status_code == 409 and early.json["error"]["code"] == "too_early"
    check_in = f"/v1/appointments/{booked['reference']}/check-in"
    arrived = client.post(check_in, headers=bearer(keys["portal"]))
    assert arrived.status_code == 200 and arrived.json["ticket_number"] == "A-001"
    assert client.post(check_in, headers=bearer(keys["portal"])).json == arrived.json
    [event] = events(app, "appointment.checked_in")
    assert event["data"]["ticket_number"] == "A-001"
    cancel = f"/v1/appointments/{booked['reference']}/cancel"
    refused = client.post(cancel, query_string={"token": booked["tracking_token"]})
    assert refused.status_code == 409  # checked in: the counter's to handle now


def test_an_appointment_moves_to_a_free_time_and_keeps_its_own_when_the_new_one_is_full(
    intake, keys
):
    client, app = intake
    first, second, third = (s["start"] for s in _slots(client, keys["portal"])[:3])
    booked = _book(client, keys["portal"], first).json
    other = {"name": "Bo", "email": "bo@example.org", "language": "en"}
    assert _book(client, keys["portal"], third, requester=other).status_code == 201
    move = f"/v1/appointments/{booked['reference']}/move"
    token = {"token": booked["tracking_token"]}
    wrong = client.post(move, query_string={"token": "x" * 43}, json={"start": second})
    assert wrong.status_code == 404
    full = client.post(move, query_string=token, json={"start": third})
    assert full.status_code == 409 and full.json["error"]["code"] == "slot_full"
    moved = client.post(move, query_string=token, json={"start": second})
    assert moved.status_code == 200 and moved.json["start"] == second
    free = {s["start"]: s["available"] for s in _slots(client, keys["portal"])}
    assert (free[first], free[second], free[third]) == (1, 0, 0)
    [event] = events(app, "appointment.moved")
    assert event["data"]["start"] == second and event["data"]["reference"] == booked["reference"]
    off = client.post(move, query_string=token, json={"start": "2020-01-01T09:00:00+01:00"})
    assert off.status_code == 422


def test_a_number_from_home_checks_in_at_the_kiosk_on_its_own_day_while_it_waits(intake, keys):
    client, app = intake
    home = {"name": "Ann", "email": "ann@example.org", "language": "en",
            "preferred_contact": "email"}  # fmt: skip
    taken = [
        post(client, keys["portal"], valid_request(channel="walk_in", requester=home)).json
        for _ in range(3)
    ]
    asked = post(client, keys["portal"], valid_request()).json  # a question, no number
    assert [t["ticket_number"] for t in taken] == ["A-001", "A-002", "A-003"]

    def check_in(reference):
        url = f"/v1/appointments/{reference}/check-in"
        return client.post(url, headers=bearer(keys["portal"]))

    arrived = check_in(taken[0]["reference"])
    assert arrived.status_code == 200
    assert arrived.json == {"reference": taken[0]["reference"], "status": "checked_in",
                            "ticket_number": "A-001"}  # fmt: skip
    [event] = events(app, "appointment.checked_in")
    assert event["data"]["ticket_id"] == taken[0]["id"]
    assert check_in(asked["reference"]).status_code == 404
    assert check_in("LKT-999999").status_code == 404
    with app.extensions["loket"].engine.begin() as conn:
        yesterday = datetime.now(UTC) - timedelta(days=1, hours=1)
        conn.execute(
            storage.requests.update()
            .where(storage.requests.c.id == taken[1]["id"])
            .values(created_at=yesterday)
        )
        conn.execute(
            storage.requests.update()
            .where(storage.requests.c.id == taken[2]["id"])
            .values(status="cancelled")
        )
    expired, gone = check_in(taken[1]["reference"]), check_in(taken[2]["reference"])
    assert expired.status_code == 409 and expired.json["error"]["code"] == "number_expired"
    assert gone.status_code == 409 and gone.json["error"]["code"] == "not_waiting"
    assert len(events(app, "appointment.checked_in")) == 1
