"""Prometheus metrics that work in one process and under gunicorn's multiprocess mode.

`PROMETHEUS_MULTIPROC_DIR` is set (and emptied) by whoever starts gunicorn, before Python
starts; see deploy/gunicorn.conf.py and services/launcher.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# `*_created` series double every counter's output and no dashboard of ours reads them.
disable_created_metrics()

# Contract section 6: waiting time buckets in seconds.
WAIT_BUCKETS = (
    10,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    14400,
    28800,
    86400,
    172800,
    604800,
)

EVENTS_PUBLISHED = Counter(
    "loket_events_published_total", "Events relayed from the outbox", ["service", "type"]
)
EVENTS_CONSUMED = Counter(
    "loket_events_consumed_total",
    "Events taken from the service's queue, by outcome",
    ["service", "type", "outcome"],
)
HTTP_DURATION = Histogram(
    "loket_http_request_duration_seconds",
    "HTTP request duration",
    ["service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_http(service: str, method: str, route: str, status: int, seconds: float) -> None:
    """Every web process's request durations (the contract's metric), by route template;
    an invented method is "other", so no caller can grow the series without bound."""
    method = method if method in HTTP_METHODS else "other"
    HTTP_DURATION.labels(service, method, route, str(status)).observe(seconds)


class _DefaultRegistryCollector(Collector):
    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class CallbackGauge(Collector):
    """A gauge read at scrape time, typically from the database."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labels: list[str],
        read: Callable[[], Iterable[tuple[tuple[str, ...], float]]],
    ) -> None:
        self.name, self.documentation, self.labels, self.read = name, documentation, labels, read

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labels)
        for label_values, value in self.read():
            family.add_metric(list(label_values), value)
        yield family


def render(extra: Iterable[Collector] = ()) -> tuple[bytes, str]:
    """A fresh registry per scrape, as prometheus_client's multiprocess guide asks."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_DefaultRegistryCollector())
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST
