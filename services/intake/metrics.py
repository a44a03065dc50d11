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
CALLS = Counter(
    "loket_calls_total",
    "Calls the phone system reported, per direction and how they ended",
    ["direction", "outcome"],
)
# Seconds from the call coming in until an agent answered; its bucket at the desk file's
# `calls.service_level_seconds` (20) gives the service level.
CALL_ANSWER = Histogram(
    "loket_call_answer_seconds",
    "Time until an agent answered a call, per queue",
    ["queue"],
    buckets=(5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200),
)
# Counted when the call ends, as `loket_calls_total` is: the service level is these over
# the inbound calls answered or abandoned.
CALLS_IN_TIME = Counter(
    "loket_calls_answered_in_time_total",
    "Inbound calls an agent answered within the desk file's calls.service_level_seconds",
    ["queue"],
)
