"""Would a likely wait shaded below the mean lower the median percentage error?

    .venv/bin/python -m bench.estimates_shading [--days 10]

A stand-alone simulation of bench.estimates' `day` (no database: a plain event loop),
where the estimator is told the true staffing, handling time and urgent arrival rate, so
that only chance is left. Prints, per seed, the median absolute percentage error of the
mean and of 0.95, 0.9 and 0.85 times it, and of the Gamma's median.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import statistics

from bench.estimates import DAY, _step

HANDLING = 6.0 * 60
URGENT_SHARE = DAY.urgent_share


def _staffed(second: float) -> int:
    return _step(DAY.staffing, second / 3600)


def _time_to(position: float, now: float, urgent_rate: float) -> float | None:
    """Seconds until `position` claims are expected, staffing following the day."""
    at, done = now, 0.0
    while at < 24 * 3600:
        boundary = (math.floor(at / 900) + 1) * 900
        rate = _staffed(at) / HANDLING - urgent_rate
        if rate > 0 and done + rate * (boundary - at) >= position:
            return at + (position - done) / rate - now
        done += max(rate, 0.0) * (boundary - at)
        at = boundary
    return None


def _gamma_median(shape: int) -> float:
    k = 2 * shape
    return k * (1 - 2 / (9 * k)) ** 3 / 2


def simulate_day(rng: random.Random) -> list[dict]:
    events: list[tuple[float, int, str]] = []
    peak = max(rate for _, rate in DAY.arrivals)
    t, n = 8 * 3600.0, 0
    while True:
        t += rng.expovariate(peak / 3600)
        if t >= 17 * 3600:
            break
        if rng.random() < _step(DAY.arrivals, t / 3600) / peak:
            n += 1
            heapq.heappush(events, (t, n, "arrival"))
    for minute in range(8 * 60, 17 * 60, 15):
        n += 1
        heapq.heappush(events, (minute * 60.0, n, "staffing"))
    waiting: list[tuple[int, float, int]] = []
    busy: list[float] = []
    outcomes: dict[int, dict] = {}
    while events:
        now, number, kind = heapq.heappop(events)
        if kind == "arrival":
            priority = 2 if rng.random() < URGENT_SHARE else 3
            heapq.heappush(waiting, (priority, now, number))
            position = sum(1 for w in waiting if (w[0], w[1]) <= (priority, now))
            urgent = URGENT_SHARE * _step(DAY.arrivals, now / 3600) / 3600 if priority == 3 else 0
            outcomes[number] = {
                "arrived": now,
                "position": position,
                "mean": _time_to(position, now, urgent),
                "median": _time_to(_gamma_median(position), now, urgent),
            }
        busy = [b for b in busy if b > now]
        while len(busy) < _staffed(now) and waiting:
            _, arrived, taken = heapq.heappop(waiting)
            outcomes[taken]["waited"] = now - arrived
            done = now + rng.expovariate(1 / HANDLING)
            busy.append(done)
            n += 1
            heapq.heappush(events, (done, n, "free"))
    return list(outcomes.values())


def _error(measured: list[dict], estimate: str, factor: float = 1.0) -> str:
    errors = [abs(factor * o[estimate] - o["waited"]) / o["waited"] for o in measured]
    return f"{statistics.median(errors):.1%}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=10)
    args = parser.parse_args()
    print("| seed | mean | 0.95 x mean | 0.9 x mean | 0.85 x mean | Gamma median |")
    print("|---|---|---|---|---|---|")
    for seed in (1, 2, 3):
        rng = random.Random(seed)
        outcomes = [o for _ in range(args.days) for o in simulate_day(rng)]
        measured = [o for o in outcomes if o.get("waited", 0) >= 60 and o["mean"]]

        cells = [_error(measured, "mean", f) for f in (1.0, 0.95, 0.9, 0.85)]
        cells.append(_error(measured, "median"))
        print(f"| {seed} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
