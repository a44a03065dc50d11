from datetime import UTC, datetime, timedelta, timezone

import pytest
from marshmallow import ValidationError

from services.common.config import load_settings
from services.intake import domain
from services.intake.schemas import RequestSchema, check_category_fields

MATRIX = load_settings("intake", {}).desk["priority_matrix"]
CATALOGUE = domain.load_catalogue(load_settings("intake", {}).desk)


@pytest.mark.parametrize(
    ("impact", "urgency", "expected"),
    [("high", "high", 1), ("high", "low", 3), ("low", "low", 4), ("medium", "medium", 3),
     (None, "high", 3), ("high", None, 3)],
)  # fmt: skip
def test_priority_from_impact_and_urgency_or_the_category_default(impact, urgency, expected):
    assert domain.derive_priority(3, impact, urgency, MATRIX) == expected


def test_references_are_lkt_with_at_least_six_digits_and_increase():
    refs = [domain.reference_for(n) for n in (1, 2, 999_999, 1_000_000)]
    assert refs[:2] == ["LKT-000001", "LKT-000002"]
    assert refs[3] == "LKT-1000000"
    assert [int(r[4:]) for r in refs] == sorted(int(r[4:]) for r in refs)


def test_tracking_tokens_carry_at_least_128_random_bits():
    tokens = {domain.new_tracking_token() for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(len(t) * 6 >= 128 for t in tokens)


def _valid(**changes):
    body = {
        "channel": "phone",
        "category": "password_reset",
        "subject": "Locked out",
        "description": "Cannot sign in",
        "fields": {"account": "jdoe"},
        "requester": {"name": "J. Doe", "email": "j@example.org"},
    }
    body.update(changes)
    return body


def test_new_request_takes_queue_and_priority_from_the_catalogue_not_the_client():
    submitted = RequestSchema().load(_valid(impact="high", urgency="high"))
    started = datetime(2026, 11, 23, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    submitted["contact_started_at"] = started
    new = domain.new_request(submitted, CATALOGUE["password_reset"], MATRIX, datetime.now(UTC))
    assert new.row["queue"] == "frontoffice"
    assert new.row["priority"] == 1
    assert new.row["contact_started_at"] == started and new.row["contact_started_at"].tzinfo == UTC
    assert new.tracking_token not in str(new.row)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status": "resolved"}, "status"),
        ({"queue": "backoffice"}, "queue"),
        ({"priority": 1}, "priority"),
        ({"channel": "fax"}, "channel"),
        ({"requester": {"name": "x", "email": "not-an-email"}}, "requester"),
        ({"requester": {"name": "x", "phone": "call me"}}, "requester"),
        ({"resolved_on_contact": True}, "resolution"),
        ({"subject": ""}, "subject"),
    ],
)
def test_invalid_or_forbidden_fields_are_refused(changes, field):
    with pytest.raises(ValidationError) as failure:
        RequestSchema().load(_valid(**changes))
    assert field in failure.value.messages


def test_category_fields_are_checked_against_the_catalogue():
    with pytest.raises(ValidationError) as failure:
        check_category_fields(RequestSchema().load(_valid(fields={})), CATALOGUE)
    assert "fields.account" in failure.value.messages
    with pytest.raises(ValidationError) as failure:
        check_category_fields(RequestSchema().load(_valid(category="nope")), CATALOGUE)
    assert "category" in failure.value.messages
