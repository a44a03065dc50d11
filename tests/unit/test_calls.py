"""The phone's plain rules: numbers as the desk keeps them, how a call ended, who is owed
a call-back, and when a call-back is tried again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.intake import calls
from services.queue.domain import CallbackRules


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("0612345678", "+31612345678"),
        ("06-12 34 56 78", "+31612345678"),
        ("+31 20 555 0100", "+31205550100"),
        ("0044 20 7946 0958", "+442079460958"),
        ("anonymous", None),
        ("", None),
        (None, None),
        ("12", None),
    ],
)
def test_numbers_are_kept_in_e164_and_a_hidden_one_as_none(sent, kept):
    assert calls.e164(sent, "NL") == kept


def test_who_is_owed_a_call_back():
    assert calls.outcome("in", True, "normalClearing") == "answered"
    assert calls.outcome("in", False, "forwarded") == "forwarded"
    assert calls.outcome("in", False, "cancel") == "abandoned"
    assert calls.outcome("out", False, "noAnswer") == "not_reached"
    assert calls.deserves_callback("in", False, "busy", "+31612345678")
    assert not calls.deserves_callback("in", False, "busy", None)  # a hidden number
    assert not calls.deserves_callback("in", True, "normalClearing", "+31612345678")
    assert not calls.deserves_callback("in", False, "forwarded", "+31612345678")
    assert not calls.deserves_callback("out", False, "noAnswer", "+31612345678")


def test_a_missed_call_keeps_its_place_and_its_callers_name():
    started = datetime(2026, 12, 4, 9, 2, tzinfo=UTC)
    ended = started + timedelta(minutes=1, seconds=40)
    known = {"name": "Joke de Wit", "email": "joke@example.org", "language": "nl"}
    body = calls.missed_call_request(
        "+31612345678", started, ended, known, calls.CallRules(), "nl", ZoneInfo("Europe/Amsterdam")
    )
    assert body["channel"] == "callback" and body["category"] == "unclassified"
    assert body["contact_started_at"] == "2026-12-04T09:02:00.000Z"
    assert body["contact_wait_seconds"] == 100
    assert body["requester"] == {"name": "Joke de Wit", "phone": "+31612345678",
                                 "language": "nl", "preferred_contact": "sms",
                                 "email": "joke@example.org"}  # fmt: skip
    assert "om 10:02" in body["description"] and "1 min 40 s" in body["description"]
    stranger = calls.missed_call_request(
        "+31612345678", started, ended, None, calls.CallRules(), "en", UTC
    )
    assert stranger["requester"]["name"] == "Caller" and "email" not in stranger["requester"]


def test_a_call_back_not_reached_is_tried_again_inside_its_window_a_few_times():
    rules = CallbackRules(retry=timedelta(minutes=20), max_attempts=3)
    now = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    assert rules.next_try(1, None, now) == now + timedelta(minutes=20)
    assert rules.next_try(2, now + timedelta(hours=1), now) == now + timedelta(minutes=20)
    assert rules.next_try(3, None, now) is None  # used up: ask for another time
    assert rules.next_try(1, now + timedelta(minutes=15), now) is None  # the window closes
    assert CallbackRules.from_config({"retry_minutes": 5, "max_attempts": 2}) == CallbackRules(
        timedelta(minutes=5), 2
    )
