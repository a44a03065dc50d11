"""Intake's metrics (contract section 6); labels are bounded enums, never personal data."""

from prometheus_client import Counter, Histogram

from services.common.metrics import WAIT_BUCKETS

REQUESTS = Counter(
    "loket_requests_total", "Requests accepted, per channel and category", ["channel", "category"]
)
REJECTED = Counter(
    "loket_requests_rejected_total",
    "Requests refused, per channel and reason",
    ["channel", "reason"],
)
CONTACT_WAIT = Histogram(
    "loket_contact_wait_seconds",
    "Hold time reported by phone, chat and counter front-ends",
    ["channel"],
    buckets=WAIT_BUCKETS,
)
