from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.queue import domain

SLA = {
    "first_response_minutes": {1: 15, 2: 60, 3: 240, 4: 480},
    "resolution_minutes": {1: 240, 2: 480, 3: 1440, 4: 2880},
    "channel_first_response_minutes": {"phone": {1: 5}},
}
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_a_channels_wait_target_is_its_first_response_target_at_the_usual_priority():
    assert domain.wait_target("web", SLA) == timedelta(minutes=240)
    chat_policy = {**SLA, "channel_first_response_minutes": {"chat": {3: 2}}}
    assert domain.wait_target("chat", chat_policy) == timedelta(minutes=2)
    assert domain.wait_target("phone", chat_policy) == timedelta(minutes=240)


def test_live_contacts_keep_the_place_of_their_first_contact():
    started = NOON - timedelta(minutes=20)
    assert domain.clock_start("callback", NOON, started) == started
    assert domain.clock_start("phone", NOON, started) == started
    # A portal request's clock starts when it is made, whatever a client claims.
    assert domain.clock_start("web", NOON, started) == NOON
    assert domain.clock_start("phone", NOON, None) == NOON


def test_due_time_from_priority_target_and_explicit_channel_policy():
    assert domain.due_at(NOON, 3, "web", SLA) == NOON + timedelta(minutes=240)
    assert domain.due_at(NOON, 1, "web", SLA) == NOON + timedelta(minutes=15)
    assert domain.due_at(NOON, 1, "phone", SLA) == NOON + timedelta(minutes=5)
    assert domain.due_at(NOON, 2, "phone", SLA) == NOON + timedelta(minutes=60)
    assert domain.resolution_target(1, SLA) == timedelta(hours=4)
    # YAML may write the priorities as strings.
    assert domain.due_at(NOON, 2, "web", {"first_response_minutes": {"2": 30}}) == NOON + timedelta(
        minutes=30
    )


def test_a_walk_in_does_not_overtake_an_earlier_portal_request_of_the_same_priority():
    portal = domain.due_at(domain.clock_start("web", NOON, None), 3, "web", SLA)
    later = NOON + timedelta(minutes=5)
    walk_in = domain.due_at(domain.clock_start("walk_in", later, later), 3, "walk_in", SLA)
    assert portal < walk_in


@pytest.mark.parametrize(
    ("current", "wanted", "allowed"),
    [
        ("queued", "in_progress", True),
        ("queued", "resolved", False),
        ("in_progress", "waiting_on_customer", True),
        ("waiting_on_customer", "in_progress", True),
        ("in_progress", "resolved", True),
        ("resolved", "closed", True),
        ("resolved", "in_progress", True),
        ("closed", "in_progress", False),
        ("cancelled", "queued", False),
    ],
)
def test_the_status_machine(current, wanted, allowed):
    if allowed:
        domain.check_transition(current, wanted)
    else:
        with pytest.raises(domain.InvalidTransition):
            domain.check_transition(current, wanted)


def test_requester_identity_for_repeat_contacts():
    assert domain.requester_key({"email": " Jan@Example.ORG "}) == "email:jan@example.org"
    assert domain.requester_key({"phone": "+31 6 1234 5678"}) == domain.requester_key(
        {"phone": "06-12345678"}
    )
    assert domain.requester_key({"name": "walk-in without details"}) is None


def test_customer_messages_exist_in_both_languages():
    for language in ("nl", "en"):
        for kind in ("queued", "in_progress", "resolved", "reopened", "customer_replied"):
            assert domain.public_message(kind, language)
    assert "Facilities" in domain.public_message("transferred", "en", team="Facilities")


def test_waits_are_grouped_by_the_hour_they_were_taken_in_the_desks_zone():
    amsterdam = ZoneInfo("Europe/Amsterdam")
    at = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)  # 09:30 in Amsterdam
    claims = [("phone", at - timedelta(minutes=4), at),
              ("phone", at - timedelta(minutes=2), at + timedelta(minutes=10)),
              ("web", at - timedelta(hours=1), at + timedelta(hours=1))]  # fmt: skip
    assert domain.waits_by_hour(claims, amsterdam) == [
        {"hour": 9, "channel": "phone", "count": 2, "mean_wait_seconds": 480.0,
         "max_wait_seconds": 720.0},
        {"hour": 10, "channel": "web", "count": 1, "mean_wait_seconds": 7200.0,
         "max_wait_seconds": 7200.0},
    ]  # fmt: skip


def _created(**extra):
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    return {
        "ticket_id": "t-1", "reference": "LKT-0000001", "channel": "callback",
        "category": "billing", "queue": "gone", "priority": 3, "subject": "s",
        "description": "d", "fields": {}, "requester": {"name": "A"},
        "tracking_token": "x" * 32, "created_at": at, **extra,
    }  # fmt: skip


def test_a_new_ticket_waits_in_a_known_queue_and_a_late_call_back_is_due_at_its_window_end():
    opens = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # the next day, long after its target
    window = {"not_before": opens, "not_after": opens + timedelta(hours=1)}
    ticket = domain.new_ticket(
        _created(callback=window), SLA, ["frontoffice", "billing"], None, None
    )
    assert ticket["queue"] == "frontoffice"  # its queue is no longer configured
    assert ticket["status"] == "queued" and ticket["assigned_to"] is None
    assert ticket["due_at"] == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert ticket["tracking_token_sha256"] != "x" * 32  # only its digest is kept


def test_a_request_solved_on_contact_is_a_resolved_ticket_at_once():
    data = _created(channel="walk_in", queue="billing", resolved_on_contact=True, resolution="Done")
    ticket = domain.new_ticket(data, SLA, ["frontoffice", "billing"], "key", "t-0")
    assert (ticket["status"], ticket["resolution"], ticket["repeat_of"]) == (
        "resolved",
        "Done",
        "t-0",
    )
    assert ticket["resolved_at"] == ticket["first_claimed_at"] == ticket["created_at"]
    assert ticket["assigned_to"] == domain.on_contact_desk("walk_in")


def test_a_call_counts_towards_a_no_show_only_once_the_spacing_has_passed():
    rules = domain.CounterRules(calls_before_no_show=3, seconds_between_calls=60)
    called = NOON
    assert rules.counts(None, NOON)
    assert not rules.counts(called, NOON + timedelta(seconds=59))
    assert rules.counts(called, NOON + timedelta(seconds=60))
    assert rules.no_show_refused(0, None, NOON) == "This number has not been called."
    assert "Called 2 of 3 times" in rules.no_show_refused(2, called, NOON + timedelta(hours=1))
    # Three calls, the last one just now: the person still has the spacing to come.
    assert "60 s" in rules.no_show_refused(3, called, NOON + timedelta(seconds=30))
    assert rules.no_show_refused(3, called, NOON + timedelta(seconds=60)) is None
