"""The phone system tells intake about every call (Zammad's generic CTI), over real HTTP:
a caller who hangs up before anyone answered is not lost (issue 36)."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from services.intake import storage
from services.intake.app import create_app
from tests.support import bearer, valid_request


@pytest.fixture
def intake(make_settings):
    """A real intake (both databases) served over HTTP; the test is the phone system."""
    app = create_app(make_settings("intake"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    app.extensions["loket"].engine.dispose()


def created(app) -> list[dict]:
    with app.extensions["loket"].engine.connect() as conn:
        bodies = conn.scalars(
            select(storage.outbox.c.body)
            .where(storage.outbox.c.type == "ticket.created")
            .order_by(storage.outbox.c.id)
        ).all()
    return [json.loads(b)["data"] for b in bodies]


class PhoneSystem:
    """Sends what a phone system set up for Zammad's generic CTI sends."""

    def __init__(self, url: str, key: str, as_json: bool = False) -> None:
        self.url, self.key, self.as_json = f"{url}/v1/calls", key, as_json

    def send(self, **fields: str) -> requests.Response:
        if self.as_json:
            return requests.post(self.url, json=fields, headers=bearer(self.key), timeout=5)
        return requests.post(self.url, data=fields, headers=bearer(self.key), timeout=5)

    def call(self, number: str, **extra: str) -> str:
        call_id = uuid.uuid4().hex
        fields = {"event": "newCall", "from": number, "to": "0205550100", "direction": "in"}
        answer = self.send(**fields, callId=call_id, **extra)
        assert answer.status_code == 200, answer.text
        return call_id


@pytest.mark.parametrize("as_json", [False, True], ids=["form", "json"])
def test_a_caller_who_hangs_up_unanswered_gets_one_call_back_that_keeps_their_place(
    intake, keys, as_json
):
    app, url = intake
    phone = PhoneSystem(url, keys["phone"], as_json)
    before = datetime.now(UTC)
    gave_up = phone.call("06 12345678", user="alice")
    assert created(app) == []
    hung_up = phone.send(event="hangup", callId=gave_up, cause="cancel")
    assert hung_up.status_code == 200 and hung_up.json() == {"call_id": gave_up}
    [callback] = created(app)
    assert callback["channel"] == "callback" and callback["requester"]["phone"] == "+31612345678"
    started = datetime.fromisoformat(callback["contact_started_at"])
    assert before <= started <= datetime.fromisoformat(callback["created_at"])
    assert callback["subject"] == "Gemiste oproep"  # the desk's language, Dutch
    # The same hangup again, and the same number giving up again: still one call-back,
    # the first, which keeps its earlier place.
    assert phone.send(event="hangup", callId=gave_up, cause="cancel").status_code == 200
    again = phone.call("+31612345678")
    phone.send(event="hangup", callId=again, cause="noAnswer")
    assert len(created(app)) == 1
    # Answered, or passed on to another line: nobody is owed a call.
    talked = phone.call("0201234567")
    assert phone.send(event="answer", callId=talked, user="alice").status_code == 200
    phone.send(event="hangup", callId=talked, cause="normalClearing")
    passed_on = phone.call("0301234567")
    phone.send(event="hangup", callId=passed_on, cause="forwarded")
    hidden = phone.call("anonymous")
    phone.send(event="hangup", callId=hidden, cause="cancel")
    assert len(created(app)) == 1
    # A duplicate of an event changes nothing; an unknown call and bad fields are clear.
    fields = {"event": "newCall", "callId": talked, "from": "0201234567", "direction": "in"}
    assert phone.send(**fields).status_code == 200
    shown = requests.get(f"{url}/v1/calls", headers=bearer(keys["supervisor"]), timeout=5)
    [kept] = [c for c in shown.json()["calls"] if c["call_id"] == talked]
    assert (kept["state"], kept["cause"], kept["agent"]) == ("ended", "normalClearing", "alice")
    unknown = phone.send(event="answer", callId="no-such-call", user="alice")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    bad = phone.send(event="ring", callId="x")
    assert bad.status_code == 422 and "event" in bad.json()["error"]["fields"]
    wrong_cause = phone.send(event="hangup", callId=talked, cause="tired")
    assert wrong_cause.status_code == 422


def test_no_call_back_for_a_number_someone_spoke_to_on_another_call_just_before(intake, keys):
    app, url = intake
    phone = PhoneSystem(url, keys["phone"])
    first = phone.call("0612345678")
    phone.send(event="answer", callId=first, user="alice")
    second = phone.call("0612345678")  # on a second line, while the first is answered
    phone.send(event="hangup", callId=second, cause="cancel")
    phone.send(event="hangup", callId=first, cause="normalClearing")
    assert created(app) == []


def test_the_screen_pop_shows_who_is_probably_calling_and_their_requests(intake, keys, keys_file):
    _, url = intake
    earlier = valid_request(
        requester={"name": "Jöke dé Wít", "email": "joke@example.org", "language": "nl",
                   "phone": "+31 6 12345678"},
    )  # fmt: skip
    made = requests.post(f"{url}/v1/requests", json=earlier, headers=bearer(keys["portal"]),
                         timeout=5).json()  # fmt: skip
    phone = PhoneSystem(url, keys["phone"], as_json=True)
    ringing = phone.call("0612345678")
    phone.send(event="answer", callId=ringing, user="alice")
    pop = requests.get(f"{url}/v1/calls", params={"state": "answered"},
                       headers=bearer(keys["agent"]), timeout=5)  # fmt: skip
    assert pop.status_code == 200, pop.text
    [call] = pop.json()["calls"]
    assert (call["from"], call["agent"], call["state"]) == ("+31612345678", "alice", "answered")
    assert call["caller"] == {"name": "Jöke dé Wít", "email": "joke@example.org", "language": "nl"}
    assert [r["reference"] for r in call["requests"]] == [made["reference"]]
    # An agent sees their own calls; a supervisor anyone's.
    others = requests.get(f"{url}/v1/calls", params={"agent": "alice"},
                          headers=bearer(keys["other_agent"]), timeout=5)  # fmt: skip
    assert others.status_code == 403
    assert requests.get(f"{url}/v1/calls", headers=bearer(keys["other_agent"]),
                        timeout=5).json()["calls"] == []  # fmt: skip
    everyone = requests.get(f"{url}/v1/calls", headers=bearer(keys["supervisor"]), timeout=5)
    assert len(everyone.json()["calls"]) == 1
    # Only a key of the phone's channel reports calls (the portal's has web and callback).
    refused = requests.post(f"{url}/v1/calls", json={"event": "newCall", "callId": "c1"},
                            headers=bearer(keys["portal_app"]), timeout=5)  # fmt: skip
    assert refused.status_code == 403


def test_the_supervisors_report_gives_the_service_level_and_the_abandoned_calls(intake, keys):
    app, url = intake
    phone = PhoneSystem(url, keys["phone"])
    quick = phone.call("0611110001")
    phone.send(event="answer", callId=quick, user="alice")
    phone.send(event="hangup", callId=quick, cause="normalClearing")
    # Answered after the desk file's service level (20 s): the moment it came in moved back.
    slow = phone.call("0611110002")
    with app.extensions["loket"].engine.begin() as conn:
        storage.update_call(conn, slow, started_at=datetime.now(UTC) - timedelta(seconds=45))
    phone.send(event="answer", callId=slow, user="alice")
    gave_up = phone.call("0611110003")
    phone.send(event="hangup", callId=gave_up, cause="cancel")
    elsewhere = phone.call("0611110004")
    phone.send(event="hangup", callId=elsewhere, cause="forwarded")
    phone.call("0611110005")  # still ringing: not counted yet
    report = f"{url}/v1/reports/calls"
    assert requests.get(report, headers=bearer(keys["agent"]), timeout=5).status_code == 403
    answer = requests.get(report, headers=bearer(keys["supervisor"]), timeout=5)
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert shown["service_level_seconds"] == 20
    total = shown["total"]
    assert {k: total[k] for k in ("offered", "answered", "answered_in_time", "abandoned",
                                  "callbacks")} == {
        "offered": 3, "answered": 2, "answered_in_time": 1, "abandoned": 1, "callbacks": 1,
    }  # fmt: skip
    assert total["service_level"] == pytest.approx(1 / 3)
    assert total["mean_answer_seconds"] >= 22
    # Per day in the desk's zone (around midnight, two days): the same calls.
    assert sum(day["offered"] for day in shown["days"]) == 3
    wrong = requests.get(report, params={"since": "yesterday"},
                         headers=bearer(keys["supervisor"]), timeout=5)  # fmt: skip
    assert wrong.status_code == 422
