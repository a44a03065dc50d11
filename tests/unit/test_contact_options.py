from datetime import UTC, datetime

import pytest

from services.common.config import ConfigError
from services.intake.contact_options import contact_options, load_opening_hours

DESK = {
    "opening_hours": {
        "timezone": "Europe/Amsterdam",
        "web": "always",
        "phone": {"mon-fri": "08:00-17:00"},
        "walk_in": {"mon-thu": "09:00-16:00", "fri": "09:00-12:00"},
    }
}
HOURS = load_opening_hours(DESK)
# Monday 23 November 2026, 08:30 UTC is 09:30 in Amsterdam.
MONDAY_MORNING = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FRIDAY_AFTERNOON = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)


def test_opening_hours_in_the_desks_time_zone():
    assert HOURS.is_open("phone", MONDAY_MORNING)
    assert HOURS.is_open("web", SATURDAY)
    assert not HOURS.is_open("phone", SATURDAY)
    assert not HOURS.is_open("walk_in", FRIDAY_AFTERNOON)
    assert HOURS.is_open("walk_in", MONDAY_MORNING)
    assert HOURS.is_open("email", SATURDAY)  # not configured: always


def test_every_channel_is_listed_with_its_wait_or_unknown():
    estimates = {"phone": {"estimated_wait_seconds": 240, "estimated_wait_low_seconds": 120,
                           "estimated_wait_high_seconds": 480}}  # fmt: skip
    shown = contact_options(HOURS, estimates, "nl", MONDAY_MORNING)["channels"]
    assert [c["channel"] for c in shown] == ["web", "email", "phone", "chat", "walk_in",
                                             "callback"]  # fmt: skip
    phone = shown[2]
    assert phone["name"] == "Telefoon" and phone["wait_known"]
    assert phone["estimated_wait_seconds"] == 240
    assert phone["opening_hours"] == [{"days": "mon-fri", "opens": "08:00", "closes": "17:00"}]
    assert not shown[0]["wait_known"] and shown[0]["estimated_wait_seconds"] is None


@pytest.mark.parametrize(
    "bad",
    [
        {"timezone": "Mars/Olympus"},
        {"phone": {"mon-fri": "8-17"}},
        {"phone": {"funday": "08:00-17:00"}},
        {"phone": "sometimes"},
    ],
)
def test_bad_opening_hours_stop_intake_naming_loket_config(bad):
    with pytest.raises(ConfigError) as failure:
        load_opening_hours({"opening_hours": bad})
    assert failure.value.variable == "LOKET_CONFIG"
