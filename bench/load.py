"""A small closed-loop HTTP load generator: N processes x M threads, keep-alive sessions.

The same generator drives the measured endpoint and its baseline, so their ratio is fair
even though Python is not the fastest client.
"""

from __future__ import annotations

import multiprocessing
import random
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] if ordered else 0.0

    def line(self, name: str) -> str:
        return (
            f"{name:24} {self.rate:8.1f} req/s  p50 {self.percentile(50) * 1000:6.1f} ms  "
            f"p95 {self.percentile(95) * 1000:6.1f} ms  errors {self.errors}"
        )


def _worker(
    make_call: Callable[[requests.Session, int], int],
    threads: int,
    seconds: float,
    out: multiprocessing.Queue,
    interval: float = 0.0,
) -> None:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop(index: int) -> None:
        session = requests.Session()
        if interval:
            time.sleep(random.uniform(0, interval))
        n = 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                status = make_call(session, index * 1_000_000 + n)
            except requests.RequestException:
                status = 0
            elapsed = time.perf_counter() - started
            with lock:
                if 200 <= status < 300:
                    latencies.append(elapsed)
                else:
                    errors[0] += 1
            n += 1
            if interval:
                # Paced clients ask at random moments, on average every `interval` seconds
                # (Poisson arrivals, as people at work), not in lockstep bursts.
                time.sleep(max(0.0, random.expovariate(1 / interval) - elapsed))

    pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put((latencies, errors[0]))


def run(
    make_call: Callable[[requests.Session, int], int],
    *,
    processes: int,
    threads: int,
    seconds: float,
    interval: float = 0.0,
) -> Result:
    out: multiprocessing.Queue = multiprocessing.Queue()
    started = time.monotonic()
    workers = [
        multiprocessing.Process(target=_worker, args=(make_call, threads, seconds, out, interval))
        for _ in range(processes)
    ]
    for w in workers:
        w.start()
    latencies: list[float] = []
    errors = 0
    for _ in workers:
        lat, err = out.get()
        latencies += lat
        errors += err
    for w in workers:
        w.join()
    return Result(len(latencies), errors, time.monotonic() - started, latencies)


def median(values: list[float]) -> float:
    return statistics.median(values)
