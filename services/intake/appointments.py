"""Appointments at the counter: which times can be booked, and how many seats each has.
Plain rules, free of Flask and SQL; the seats taken are the storage's."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

from services.intake.contact_options import OpeningHours, Period

# The counter's hours when the desk file says "always": every day, all day.
ALL_DAY = (Period(frozenset(range(7)), "mon-sun", clock(0, 0), clock(23, 59, 59)),)


@dataclass(frozen=True)
class SlotRules:
    """The desk file's `counter`: how long a slot is, how many desks serve, and the share
    of them that may be booked (the rest is for people who walk in)."""

    minutes: int = 15
    desks: int = 2
    bookable_share: float = 0.5

    @classmethod
    def from_config(cls, counter: Mapping[str, Any] | None) -> SlotRules:
        counter = counter or {}
        return cls(
            int(counter.get("slot_minutes", 15)),
            int(counter.get("desks", 2)),
            float(counter.get("bookable_share", 0.5)),
        )

    @property
    def seats(self) -> int:
        """Appointments one slot takes: never none while a desk may be booked at all."""
        if self.bookable_share <= 0:
            return 0
        return max(1, int(self.desks * self.bookable_share))


def slots(
    hours: OpeningHours, rules: SlotRules, now: datetime, days: int
) -> Iterator[tuple[datetime, datetime]]:
    """Every slot inside the counter's opening hours that starts after `now`, from today
    through `days` days ahead, in the desk's zone (a slot's wall-clock time is what the
    desk promises, across a change to or from summer time too)."""
    zone = hours.timezone
    periods = hours.channels.get("walk_in") or ALL_DAY
    length = timedelta(minutes=rules.minutes)
    today = now.astimezone(zone).date()
    for offset in range(days + 1):
        day = today + timedelta(days=offset)
        for opening in sorted(
            (p for p in periods if day.weekday() in p.days), key=lambda p: p.opens
        ):
            yield from _day_slots(day, opening, length, zone, now)


def _day_slots(
    day: date, opening: Period, length: timedelta, zone: ZoneInfo, now: datetime
) -> Iterator[tuple[datetime, datetime]]:
    start = datetime.combine(day, opening.opens, zone)
    closes = datetime.combine(day, opening.closes, zone)
    while start + length <= closes:
        if start > now:
            yield start, start + length
        start += length


def slot_at(
    hours: OpeningHours, rules: SlotRules, start: datetime, now: datetime, days: int
) -> tuple[datetime, datetime] | None:
    """The slot that begins at `start`, if it is one that can be booked now."""
    for slot in slots(hours, rules, now, days):
        if slot[0] == start:
            return slot
        if slot[0] > start:
            return None
    return None
