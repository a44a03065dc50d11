"""Notify's metrics (contract section 6, and how sending goes)."""

from collections.abc import Iterable

from prometheus_client import Counter, Histogram

NOTIFICATIONS = Counter(
    "loket_notifications_total",
    "Delivery attempts by medium and outcome (sent, retried, failed)",
    ["medium", "outcome"],
)
SEND_SECONDS = Histogram(
    "loket_notification_send_seconds",
    "How long one send took, successful or not",
    ["medium"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def start_series_at_zero(media: Iterable[str], outcomes: Iterable[str]) -> None:
    """Counters exist at zero from the start: an alert's increase() sees their first step."""
    outcomes = list(outcomes)
    for medium in media:
        for outcome in outcomes:
            NOTIFICATIONS.labels(medium, outcome)
