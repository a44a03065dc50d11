"""The queue's metrics (contract section 6). Counters and histograms are observed after
commit; gauges of what waits now are read from the database at scrape time, so they are
right whatever number of gunicorn workers serve the scrape."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.common.metrics import WAIT_BUCKETS
from services.queue.domain import SLA_TARGETS

GaugeRow = tuple[str, str, int, datetime | None, int | None]

WAIT = Histogram(
    "loket_wait_seconds",
    "From first contact until first claimed",
    ["channel", "queue"],
    buckets=WAIT_BUCKETS,
)
RESOLUTION = Histogram(
    "loket_resolution_seconds",
    "From first contact until resolved",
    ["channel", "queue"],
    buckets=WAIT_BUCKETS,
)
QUEUE_JUMPS = Counter("loket_queue_jumps_total", "Claims out of fair order", ["channel", "queue"])
CALLBACK_ATTEMPTS = Counter(
    "loket_callback_attempts_total",
    "Calls made for call-backs, per queue and outcome (reached, not_reached, voicemail)",
    ["queue", "outcome"],
)
TRANSFERS = Counter("loket_transfers_total", "Handoffs between queues", ["from_queue", "to_queue"])
REPEAT_CONTACTS = Counter(
    "loket_repeat_contacts_total",
    "Same requester, same category, within 14 days",
    ["channel", "category"],
)
SLA_BREACHES = Counter("loket_sla_breaches_total", "SLA targets missed", ["queue", "target"])


def start_web_series_at_zero(queues: Iterable[str], channels: Iterable[str]) -> None:
    """Counters exist at zero from the start: an alert's increase() sees their first step."""
    queues = list(queues)
    for queue in queues:
        for channel in channels:
            QUEUE_JUMPS.labels(channel, queue)
        for other in queues:
            if other != queue:
                TRANSFERS.labels(queue, other)


def start_worker_series_at_zero(queues: Iterable[str]) -> None:
    for queue in queues:
        for target in SLA_TARGETS:
            SLA_BREACHES.labels(queue, target)


class WaitingCollector(Collector):
    """loket_waiting_tickets, loket_oldest_wait_seconds, loket_estimated_wait_seconds,
    loket_wait_target_seconds (which alerts compare the wait percentiles with), and the
    inputs of each queue's estimate (loket_estimate_*: why the wait is what it is)."""

    def __init__(
        self,
        read: Callable[[], tuple[Iterable[GaugeRow], Iterable[Any]]],
        now: Callable[[], datetime],
        targets: Mapping[str, float],
    ) -> None:
        self.read, self.now, self.targets = read, now, targets

    def collect(self) -> Iterable[Metric]:
        labels = ["channel", "queue"]
        waiting = GaugeMetricFamily("loket_waiting_tickets", "Tickets waiting now", labels=labels)
        oldest = GaugeMetricFamily(
            "loket_oldest_wait_seconds", "Wait of the longest-waiting ticket", labels=labels
        )
        estimated = GaugeMetricFamily(
            "loket_estimated_wait_seconds", "Expected wait of a new arrival", labels=labels
        )
        now = self.now()
        rows, inputs = self.read()
        for queue, channel, count, since, estimate in rows:
            waiting.add_metric([channel, queue], count)
            if since is not None:
                oldest.add_metric([channel, queue], max(0.0, (now - since).total_seconds()))
            if estimate is not None:
                estimated.add_metric([channel, queue], estimate)
        target = GaugeMetricFamily(
            "loket_wait_target_seconds",
            "Longest wait the desk aims for, per channel (first response, usual priority)",
            labels=["channel"],
        )
        for channel, seconds in self.targets.items():
            target.add_metric([channel], seconds)
        yield from (waiting, oldest, estimated, target)
        yield from self._inputs(inputs)

    @staticmethod
    def _inputs(inputs: Iterable[Any]) -> Iterable[Metric]:
        families = {
            "agents_on_duty": GaugeMetricFamily(
                "loket_estimate_agents_on_duty",
                "Agents on duty now, as wait estimates count them (plan, else at work)",
                labels=["queue"],
            ),
            "handling_seconds": GaugeMetricFamily(
                "loket_estimate_handling_seconds",
                "Mean handling time of a ticket, learned (pulled towards the plan's guess)",
                labels=["queue"],
            ),
            "arrivals_per_hour": GaugeMetricFamily(
                "loket_estimate_arrivals_per_hour", "Arrivals in the last hour", labels=["queue"]
            ),
            "served_per_hour": GaugeMetricFamily(
                "loket_estimate_served_per_hour",
                "Tickets an hour the line moves at: agents on duty / handling time",
                labels=["queue"],
            ),
        }
        for entry in inputs:
            for name, family in families.items():
                value = getattr(entry, name)
                if value is not None:
                    family.add_metric([entry.queue], value)
        yield from families.values()
