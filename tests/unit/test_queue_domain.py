from datetime import UTC, datetime, timedelta

from services.queue import domain

SLA = {
    "first_response_minutes": {1: 15, 2: 60, 3: 240, 4: 480},
    "channel_first_response_minutes": {"phone": {1: 5}},
}
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


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


def test_a_walk_in_does_not_overtake_an_earlier_portal_request_of_the_same_priority():
    portal = domain.due_at(domain.clock_start("web", NOON, None), 3, "web", SLA)
    later = NOON + timedelta(minutes=5)
    walk_in = domain.due_at(domain.clock_start("walk_in", later, later), 3, "walk_in", SLA)
    assert portal < walk_in
