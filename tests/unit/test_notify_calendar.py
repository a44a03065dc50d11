"""The appointment's calendar entry, as a calendar program reads it back."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

from services.notify.calendar import appointment_entry

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def entry(start: datetime, cancelled: bool = False) -> tuple[icalendar.Calendar, icalendar.Event]:
    text = appointment_entry(
        uid="LKT-000123@desk.example.org",
        start=start,
        end=start + timedelta(minutes=15),
        stamp=datetime(2027, 3, 1, tzinfo=UTC),
        summary="Your appointment",
        location="Counter 3",
        description="LKT-000123",
        url="https://desk.example.org/track/LKT-000123?token=x",
        organizer="servicedesk@example.org",
        cancelled=cancelled,
    )
    calendar = icalendar.Calendar.from_ical(text)
    [event] = calendar.walk("VEVENT")
    return calendar, event


def test_a_time_after_the_change_to_summer_time_is_the_desks_wall_clock():
    start = datetime(2027, 3, 29, 9, 0, tzinfo=AMSTERDAM)  # the day after the change
    calendar, event = entry(start)
    assert calendar["METHOD"] == "REQUEST" and event["STATUS"] == "CONFIRMED"
    assert event.decoded("DTSTART").astimezone(UTC) == datetime(2027, 3, 29, 7, 0, tzinfo=UTC)
    assert event["DTSTART"].params["TZID"] == "Europe/Amsterdam"
    assert str(event["ORGANIZER"]) == "mailto:servicedesk@example.org"


def test_a_cancellation_names_the_same_entry_with_a_later_sequence():
    start = datetime(2027, 3, 1, 9, 0, tzinfo=AMSTERDAM)
    _, booked = entry(start)
    calendar, cancelled = entry(start, cancelled=True)
    assert calendar["METHOD"] == "CANCEL" and cancelled["STATUS"] == "CANCELLED"
    assert cancelled["UID"] == booked["UID"] and cancelled["SEQUENCE"] > booked["SEQUENCE"]
