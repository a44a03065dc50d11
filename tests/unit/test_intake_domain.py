from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from marshmallow import ValidationError

from services.common.config import ConfigError, load_settings
from services.intake import domain
from services.intake.catalogue import load_catalogue
from services.intake.schemas import RequestValidator
from tests.support import valid_request

DESK = load_settings("intake", {}).desk
CATALOGUE = load_catalogue(DESK)
VALIDATOR = RequestValidator(CATALOGUE)

_DAY = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
TOMORROW = {"not_before": f"{_DAY}T10:00:00Z", "not_after": f"{_DAY}T11:00:00Z"}


def test_the_default_catalogue_is_complete_in_both_languages():
    categories = CATALOGUE.categories.values()
    assert len(categories) >= 8
    assert len({c.queue for c in categories}) >= 2
    types = {f.type for c in categories for f in c.fields}
    assert types == {"text", "textarea", "number", "choice", "date", "email", "phone"}
    for lang in ("nl", "en"):
        shown = CATALOGUE.localized(lang)["categories"]
        assert all(c["name"] and c["description"] for c in shown)
        assert all(f["label"] for c in shown for f in c["fields"])
        assert {q["name"] for q in shown[0]["questions"]} == {"impact", "urgency"}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d["catalogue"][0].update(queue="nowhere"), "unknown queue"),
        (lambda d: d["catalogue"][0]["name"].pop("nl"), "every language"),
        (lambda d: d["catalogue"].pop(), "unclassified"),
        (lambda d: d["catalogue"][0]["fields"][0].update(type="colour"), "Must be one of"),
        (lambda d: d["priority_matrix"]["high"].update(high=9), "1 to 4"),
    ],
)
def test_a_broken_catalogue_stops_intake_naming_loket_config(change, problem):
    import copy

    desk = copy.deepcopy(dict(DESK))
    change(desk)
    with pytest.raises(ConfigError) as failure:
        load_catalogue(desk)
    assert failure.value.variable == "LOKET_CONFIG"
    assert problem in str(failure.value)


@pytest.mark.parametrize(
    ("impact", "urgency", "expected"),
    [("high", "high", 1), ("high", "low", 3), ("low", "low", 4), ("medium", "medium", 3),
     (None, "high", 3), ("high", None, 3)],
)  # fmt: skip
def test_priority_from_impact_and_urgency_or_the_category_default(impact, urgency, expected):
    assert domain.derive_priority(3, impact, urgency, CATALOGUE.priority_matrix) == expected


def test_references_are_lkt_with_at_least_six_digits_and_increase():
    refs = [domain.reference_for(n) for n in (1, 2, 999_999, 1_000_000)]
    assert refs[:2] == ["LKT-000001", "LKT-000002"]
    assert refs[3] == "LKT-1000000"


def test_tracking_tokens_carry_at_least_128_random_bits():
    tokens = {domain.new_tracking_token() for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(len(t) * 6 >= 128 for t in tokens)


def test_body_digest_ignores_key_order_but_not_content():
    assert domain.body_digest({"a": 1, "b": [1, 2]}) == domain.body_digest({"b": [1, 2], "a": 1})
    assert domain.body_digest({"a": 1}) != domain.body_digest({"a": 2})


def test_queue_and_priority_come_from_the_catalogue_and_times_are_stored_in_utc():
    started = datetime.now(timezone(timedelta(hours=1))) - timedelta(minutes=3)
    submitted = VALIDATOR.load(valid_request(impact="high", urgency="high", channel="phone",
                                             contact_started_at=started.isoformat()))  # fmt: skip
    category = CATALOGUE.categories["password_reset"]
    new = domain.new_request(submitted, category, CATALOGUE, "ivr", datetime.now(UTC))
    assert new.row["queue"] == "frontoffice"
    assert new.row["priority"] == 1
    assert new.row["contact_started_at"].tzinfo == UTC
    assert new.tracking_token not in str(new.row)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status": "resolved"}, "status"),
        ({"queue": "backoffice"}, "queue"),
        ({"priority": 1}, "priority"),
        ({"channel": "fax"}, "channel"),
        ({"channel": 7}, "channel"),
        ({"category": "teleportation"}, "category"),
        ({"requester": {"name": "x", "email": "not-an-email"}}, "requester.email"),
        ({"requester": {"name": "x", "phone": "call me", "preferred_contact": "sms"}},
         "requester.phone"),
        ({"requester": {"name": "x", "preferred_contact": "sms"}}, "requester.phone"),
        ({"requester": {"name": "x", "email": "x@example.org", "language": "fr"}},
         "requester.language"),
        ({"resolved_on_contact": True}, "resolution"),
        ({"subject": ""}, "subject"),
        ({"subject": "x" * 201}, "subject"),
        ({"impact": "extreme"}, "impact"),
        ({"fields": {"account": "jdoe"}}, "fields.system"),
        ({"fields": {"account": "jdoe", "system": "mainframe"}}, "fields.system"),
        ({"fields": {"account": "jdoe", "system": "vpn", "colour": "red"}}, "fields.colour"),
        ({"fields": {"account": "j" * 65, "system": "vpn"}}, "fields.account"),
        ({"fields": "account=jdoe"}, "fields"),
        ({"callback": TOMORROW}, "callback"),
        ({"contact_started_at": "2999-01-01T00:00:00Z"}, "contact_started_at"),
        ({"contact_started_at": "2026-11-23T10:00:00"}, "contact_started_at"),
        ({"contact_wait_seconds": -1}, "contact_wait_seconds"),
        ({"contact_wait_seconds": "60"}, "contact_wait_seconds"),
    ],
)  # fmt: skip
def test_invalid_or_forbidden_fields_are_each_named(changes, field):
    with pytest.raises(ValidationError) as failure:
        VALIDATOR.load(valid_request(**changes))
    from services.common.errors import flatten_messages

    assert field in flatten_messages(failure.value.messages)


@pytest.mark.parametrize(
    ("category", "fields", "field"),
    [
        ("room_temperature", {"room": "2.14", "problem": "too_cold", "temperature": "12"},
         "fields.temperature"),
        ("room_temperature", {"room": "2.14", "problem": "too_cold", "temperature": 99},
         "fields.temperature"),
        ("room_temperature", {"room": "2.14", "problem": "too_cold", "temperature": True},
         "fields.temperature"),
        ("laptop_broken", {"asset_tag": "A1", "symptom": "screen", "since": "yesterday"},
         "fields.since"),
        ("software_request", {"software": "x", "justification": "y", "manager_email": "boss"},
         "fields.manager_email"),
        ("access_badge", {"problem": "lost", "mobile": "06-abc"}, "fields.mobile"),
    ],
)  # fmt: skip
def test_each_field_type_is_checked(category, fields, field):
    with pytest.raises(ValidationError) as failure:
        VALIDATOR.load(valid_request(category=category, fields=fields))
    from services.common.errors import flatten_messages

    assert field in flatten_messages(failure.value.messages)


def test_every_field_type_accepts_good_answers():
    VALIDATOR.load(
        valid_request(
            category="room_temperature",
            fields={"room": "2.14", "problem": "too_cold", "temperature": 14.5},
        )
    )
    VALIDATOR.load(
        valid_request(
            category="laptop_broken",
            fields={"asset_tag": "A1", "symptom": "screen", "since": "2026-11-20"},
        )
    )
    VALIDATOR.load(
        valid_request(
            category="access_badge", fields={"problem": "lost", "mobile": "+31 6 1234 5678"}
        )
    )
    VALIDATOR.load(valid_request(category="unclassified", fields={}))
    assert VALIDATOR.load(valid_request(channel="callback", callback=TOMORROW))["callback"]


def test_a_json_array_is_refused_as_a_whole():
    with pytest.raises(ValidationError):
        VALIDATOR.load([valid_request()])


@pytest.mark.parametrize(
    ("status", "resolved_days_ago", "starts_anew"),
    [
        (None, None, False),  # open as far as intake knows: appended
        ("in_progress", None, False),
        ("resolved", 13.9, False),  # the queue reopens it
        ("resolved", 14.1, True),
        ("closed", 0.1, True),
    ],
)
def test_a_late_reply_starts_a_new_request(status, resolved_days_ago, starts_anew):
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    settled_at = now - timedelta(days=resolved_days_ago) if resolved_days_ago else None
    assert domain.reply_starts_anew(status, settled_at, now, timedelta(days=14)) is starts_anew


def test_only_a_resolved_or_closed_status_counts_as_settled():
    at = datetime(2026, 12, 1, tzinfo=UTC)
    assert domain.settled_state("closed", at)["settled_at"] == at
    assert domain.settled_state("queued", at) == {"status": "queued", "status_at": at,
                                                  "settled_at": None}  # fmt: skip


def test_only_the_desks_own_record_or_an_authenticated_sender_counts_as_verified():
    from services.intake.domain import requester_verified

    assert requester_verified("phone") and requester_verified("walk_in")
    assert requester_verified("email", sender_authenticated=True)
    assert not requester_verified("email")
    assert not any(requester_verified(c) for c in ("web", "callback", "chat"))


def test_counter_numbers_count_over_the_desks_day_and_read_aloud():
    amsterdam = ZoneInfo("Europe/Amsterdam")
    # 23:30 UTC on 3 December is already 4 December in Amsterdam.
    assert domain.counter_day(datetime(2026, 12, 3, 23, 30, tzinfo=UTC), amsterdam) == "2026-12-04"
    assert domain.counter_day(datetime(2026, 12, 3, 22, 59, tzinfo=UTC), amsterdam) == "2026-12-03"
    assert domain.ticket_number("B", 14) == "B-014"
    assert domain.ticket_number("AB", 1234) == "AB-1234"
    assert domain.needs_counter_number({"channel": "walk_in"})
    assert not domain.needs_counter_number({"channel": "walk_in", "resolved_on_contact": True})
    assert not domain.needs_counter_number({"channel": "phone"})
