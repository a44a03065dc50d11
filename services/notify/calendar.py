"""The appointment as a calendar entry (RFC 5545, iTIP RFC 5546) for the customer's mail:
the same UID in the confirmation and the cancellation, so a calendar updates the entry it
already holds instead of adding one."""

from __future__ import annotations

from datetime import datetime

import icalendar


def appointment_entry(
    *,
    uid: str,
    start: datetime,
    end: datetime,
    stamp: datetime,
    summary: str,
    location: str | None,
    description: str,
    url: str | None,
    organizer: str | None,
    cancelled: bool = False,
    sequence: int = 0,
) -> str:
    """`METHOD:REQUEST` for a booking (a later `SEQUENCE` for each move), `METHOD:CANCEL`
    (one later still) for its cancellation; times with their zone (`TZID`, `VTIMEZONE`)."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Loket//Service desk//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("sequence", sequence + 1 if cancelled else sequence)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("summary", summary)
    event.add("description", description)
    if location:
        event.add("location", location)
    if url:
        event.add("url", url)
    if organizer:
        event.add("organizer", f"mailto:{organizer}")
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical().decode()
