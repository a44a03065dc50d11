"""Channels, opening hours and expected waits for `GET /v1/contact-options`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests

from services.common.auth import CHANNELS
from services.common.config import ConfigError
from services.common.desk import channel_contact, day_range, period
from services.common.labels import CHANNEL_NAMES
from services.common.vocabulary import LANGUAGES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Period:
    days: frozenset[int]
    label: str
    opens: clock
    closes: clock


@dataclass(frozen=True)
class OpeningHours:
    timezone: ZoneInfo
    channels: Mapping[str, tuple[Period, ...] | None]  # None: always open

    def is_open(self, channel: str, now: datetime) -> bool:
        periods = self.channels[channel]
        if periods is None:
            return True
        local = now.astimezone(self.timezone)
        return any(
            local.weekday() in p.days and p.opens <= local.time() < p.closes for p in periods
        )

    def describe(self, channel: str) -> list[dict[str, str]] | str:
        periods = self.channels[channel]
        if periods is None:
            return "always"
        return [
            {
                "days": p.label,
                "opens": p.opens.strftime("%H:%M"),
                "closes": p.closes.strftime("%H:%M"),
            }
            for p in periods
        ]


def load_opening_hours(desk: Mapping[str, Any]) -> OpeningHours:
    config = desk.get("opening_hours") or {}
    try:
        zone = ZoneInfo(config.get("timezone", "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("LOKET_CONFIG", "opening_hours.timezone: unknown zone") from None
    channels: dict[str, tuple[Period, ...] | None] = {}
    for channel in CHANNELS:
        spec = config.get(channel, "always")
        if spec == "always":
            channels[channel] = None
            continue
        try:
            periods = []
            for label, hours in spec.items():
                periods.append(Period(day_range(label), label, *period(hours)))
        except (AttributeError, ValueError):
            raise ConfigError(
                "LOKET_CONFIG",
                f"opening_hours.{channel}: use 'always' or {{mon-fri: '08:00-17:00'}}",
            ) from None
        channels[channel] = tuple(periods)
    return OpeningHours(zone, channels)


class WaitEstimates:
    """Expected waits per channel from the queue service, cached briefly.

    The portal asks on every visit; the queue service should not feel that. When it does
    not answer within the timeout, every wait is unknown, never invented.
    """

    def __init__(self, queue_url: str, timeout: float = 0.5, ttl: float = 5.0) -> None:
        self.url = queue_url.rstrip("/") + "/v1/estimates"
        self.timeout, self.ttl = timeout, ttl
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._session = requests.Session()

    def get(self) -> dict[str, Any]:
        """The last answer while it is fresh. A failure is remembered as long as an answer
        would be: when the queue is down, portal visits must not each wait the timeout."""
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self.ttl:
                return self._cached[1]
        channels: dict[str, Any] = {}
        try:
            response = self._session.get(self.url, timeout=self.timeout)
            response.raise_for_status()
            channels = response.json()["channels"]
            if not isinstance(channels, dict):
                raise ValueError("channels is not an object")
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            log.warning(
                "contact options: queue service estimates unavailable (%s)", type(exc).__name__
            )
            channels = {}
        with self._lock:
            self._cached = (time.monotonic(), channels)
        return channels


def contact_options(
    hours: OpeningHours,
    estimates: Mapping[str, Any],
    lang: str,
    now: datetime,
    contacts: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`contacts`: each channel's `contact` in this language (`desk_contacts`)."""
    options = []
    for channel in CHANNELS:
        estimate = estimates.get(channel) if isinstance(estimates.get(channel), dict) else {}
        seconds = estimate.get("estimated_wait_seconds")
        options.append(
            {
                "channel": channel,
                "name": CHANNEL_NAMES[lang][channel],
                "open_now": hours.is_open(channel, now),
                "opening_hours": hours.describe(channel),
                "estimated_wait_seconds": seconds if isinstance(seconds, int | float) else None,
                "estimated_wait_low_seconds": estimate.get("estimated_wait_low_seconds"),
                "estimated_wait_high_seconds": estimate.get("estimated_wait_high_seconds"),
                "wait_known": isinstance(seconds, int | float),
                "contact": (contacts or {}).get(channel),
            }
        )
    return {"timezone": str(hours.timezone), "channels": options}


def desk_contacts(desk: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per language, each channel's `contact` from the desk file: read once per process,
    not on every visit to the portal's first page."""
    return {lang: {ch: channel_contact(desk, ch, lang) for ch in CHANNELS} for lang in LANGUAGES}
