"""Feedback's metrics (contract section 6)."""

from prometheus_client import Histogram

CSAT = Histogram(
    "loket_csat_score", "Satisfaction answers, 1 to 5", ["channel"], buckets=(1, 2, 3, 4, 5)
)
