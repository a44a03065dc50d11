"""How far the queue's wait estimates are from the waits customers really had.

    .venv/bin/python -m bench.estimates                       # every scenario, seeds 1-3
    .venv/bin/python -m bench.estimates --scenario day --seed 1 --days 10

Replays simulated working days through the queue service's own functions (real database,
SQLite, a simulated clock): mixed-channel arrivals with a morning peak, a share of them
more urgent (they go ahead, as fair order says), agents whose number follows a plan
(lunch), handling times drawn from an exponential distribution (mean 6 minutes), each
ticket resolved when its agent is done. The desk's plan (config: agents per period, a
handling time) is the staffing the simulation uses, with a handling guess of 8 minutes,
a third off: the queue has to learn the real one. Each arrival gets the estimate the
customer would see at that moment; its claim gives the real wait.

Scenarios: `day` (10 % urgent), `surge` (three times the arrivals from 10:00 to 11:00),
`shift` (the agents on duty halve from 13:00, as planned), `urgent` (25 % urgent), and
`callback` (15 % of arrivals ask to be called back in a window one to three hours
ahead, later than their place in line).

Printed per scenario and seed: the median absolute percentage error and its p90, how often
the real wait fell inside the range (low to high), the range's median width relative to
the real wait, how many arrivals had no estimate, the same error for a naive baseline on
the same arrivals (position x the day's mean time between claims so far), the same model
told the real handling time and urgent arrival rate ("true rates"), and the error that
chance alone leaves to a perfect estimate of the mean: with exponential handling times
the time until the position-th claim is Gamma(position), whose median absolute
percentage error around its mean is about 0.67 / sqrt(position) ("chance alone", one
draw per arrival).
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import random
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

from services.common.config import load_settings
from services.common.db import make_engine, migrate
from services.common.unit_of_work import unit_of_work
from services.queue import service, storage, waits

CHANNELS = [
    ("web", 0.35),
    ("phone", 0.25),
    ("email", 0.15),
    ("chat", 0.10),
    ("walk_in", 0.10),
    ("callback", 0.05),
]
MEAN_HANDLING_MINUTES = 6.0
GUESSED_HANDLING_MINUTES = 8.0


@dataclass(frozen=True)
class Scenario:
    arrivals: list[tuple[float, int]]  # (from hour, arrivals per hour)
    staffing: list[tuple[float, int]]  # (from hour, agents on duty)
    urgent_share: float = 0.10
    callback_share: float = 0.0


DAY = Scenario(
    arrivals=[(8, 70), (10, 45), (12, 30), (13, 40), (15, 25), (17, 0)],
    staffing=[(8, 5), (12, 3), (13, 5), (16, 4), (17, 0)],
)
SCENARIOS = {
    "day": DAY,
    "surge": replace(
        DAY, arrivals=[(8, 70), (10, 135), (11, 45), (12, 30), (13, 40), (15, 25), (17, 0)]
    ),
    "shift": replace(
        DAY,
        arrivals=[(8, 70), (10, 45), (12, 30), (13, 25), (15, 20), (17, 0)],
        staffing=[(8, 5), (12, 3), (13, 2), (17, 0)],
    ),
    "urgent": replace(DAY, urgent_share=0.25),
    "callback": replace(DAY, callback_share=0.15),
}


def _step(table: list[tuple[float, int]], hour: float) -> int:
    value = 0
    for start, amount in table:
        if hour >= start:
            value = amount
    return value


def _plan(scenario: Scenario, handling_minutes: float) -> waits.QueuePlan:
    """The desk's staffing plan as the configuration would say it, in UTC."""
    shifts = []
    for (start, agents), (end, _) in itertools.pairwise([*scenario.staffing, (24, 0)]):
        if agents:
            ends = clock(23, 59, 59) if end >= 24 else _clock(end)
            shifts.append(waits.Shift(frozenset(range(7)), _clock(start), ends, agents))
    return waits.QueuePlan(handling_minutes * 60, waits.Staffing(ZoneInfo("UTC"), tuple(shifts)))


def _clock(hour: float) -> clock:
    return clock(int(hour), round((hour % 1) * 60))


def simulate_day(
    engine, desk: service.Desk, scenario: Scenario, day: datetime, rng: random.Random
) -> list[dict]:
    events: list[tuple[datetime, int, str, object]] = []
    seq = 0

    def push(at: datetime, kind: str, payload: object = None) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (at, seq, kind, payload))

    def hour(at: datetime) -> float:
        return at.hour + at.minute / 60

    # Arrivals: a Poisson process whose rate follows the day (thinning).
    t, peak = day.replace(hour=8), max(rate for _, rate in scenario.arrivals)
    end = day.replace(hour=17)
    while True:
        t += timedelta(hours=rng.expovariate(peak))
        if t >= end:
            break
        if rng.random() < _step(scenario.arrivals, hour(t)) / peak:
            push(t, "arrival")
    # Agents look for work when the plan has them on duty and they are free, and when a
    # call-back's window opens.
    for minute in range(8 * 60, 17 * 60, 15):
        push(day + timedelta(minutes=minute), "staffing")

    oracle_desk = replace(
        desk, plans={"frontoffice": _plan(scenario, MEAN_HANDLING_MINUTES)}
    )  # fmt: skip
    tickets: dict[str, dict] = {}
    working: dict[str, datetime] = {}  # agent -> busy until
    claim_times: list[datetime] = []
    while events:
        now, _, kind, payload = heapq.heappop(events)
        if kind == "arrival":
            callback = rng.random() < scenario.callback_share
            channel = "callback" if callback else rng.choices(
                [c for c, _ in CHANNELS], [w for _, w in CHANNELS]
            )[0]  # fmt: skip
            urgent = rng.random() < scenario.urgent_share
            ticket_id = str(uuid.uuid4())
            data = {
                "ticket_id": ticket_id,
                "reference": f"LKT-{len(tickets) + 1:07d}",
                "channel": channel,
                "category": "password_reset",
                "queue": "frontoffice",
                "priority": 2 if urgent else 3,
                "subject": "s",
                "description": "d",
                "fields": {},
                "requester": {"name": "x", "email": f"{ticket_id}@example.org"},
                "tracking_token": "t" * 32,
                "created_at": now,
                "contact_started_at": now,
                "resolved_on_contact": False,
            }
            if callback:
                opens = now + timedelta(minutes=rng.uniform(60, 180))
                data["callback"] = {"not_before": opens, "not_after": opens + timedelta(hours=1)}
                push(opens, "window")
            with unit_of_work(engine, "queue", storage.outbox) as unit:
                service.receive_ticket(unit, desk, data)
                conn = unit.conn
                row = storage.ticket_by_id(conn, ticket_id)
                position = storage.queue_position(conn, row)
                estimate = service.ticket_estimate(conn, desk, row, position, now)
                # The same model told the real handling time and urgent arrival rate.
                known = replace(
                    service.recent_activity(conn, now),
                    handled={"frontoffice": [MEAN_HANDLING_MINUTES * 60] * 10_000},
                    arrivals={"frontoffice": {
                        2: scenario.urgent_share, 3: 1 - scenario.urgent_share
                    }},
                    arrivals_last_hour={"frontoffice": _step(scenario.arrivals, hour(now))},
                )  # fmt: skip
                best = service.ticket_estimate(conn, oracle_desk, row, position, now, known)
            naive = None
            if len(claim_times) >= 5:
                span = (claim_times[-1] - claim_times[0]).total_seconds()
                naive = position * span / (len(claim_times) - 1)
            tickets[ticket_id] = {
                "arrived": now,
                "position": position,
                "estimate": estimate,
                "best": best,
                "naive": naive,
            }
        if kind == "free":
            agent, ticket_id = payload  # type: ignore[misc]
            with unit_of_work(engine, "queue", storage.outbox) as unit:
                service.change_status(unit, ticket_id, "resolved", "Done.", None, agent, now)
            del working[agent]
        staffed = _step(scenario.staffing, hour(now))
        # Free agents on duty take the next ticket in fair order.
        agents = (f"agent-{n}" for n in range(1, 50))
        while len(working) < staffed:
            agent = next(a for a in agents if a not in working)
            with unit_of_work(engine, "queue", storage.outbox) as unit:
                claimed = service.claim_next(unit, "frontoffice", agent, now)
            if claimed is None:
                break
            tickets[claimed.id]["waited"] = (now - tickets[claimed.id]["arrived"]).total_seconds()
            claim_times.append(now)
            done = now + timedelta(minutes=rng.expovariate(1 / MEAN_HANDLING_MINUTES))
            working[agent] = done
            push(done, "free", (agent, claimed.id))
    return list(tickets.values())


def run(name: str, seed: int, days: int) -> dict:
    scenario = SCENARIOS[name]
    rng = random.Random(seed)
    desk = service.Desk.from_config(load_settings("queue", {}).desk)
    desk = replace(desk, plans={"frontoffice": _plan(scenario, GUESSED_HANDLING_MINUTES)})
    outcomes: list[dict] = []
    with tempfile.TemporaryDirectory() as directory:
        for day_number in range(days):
            url = f"sqlite:///{Path(directory) / f'day{day_number}.db'}"
            migrate("queue", url)
            engine = make_engine(url)
            day = datetime(2026, 11, 23, tzinfo=UTC) + timedelta(days=7 * day_number)
            outcomes += simulate_day(engine, desk, scenario, day, rng)
            engine.dispose()
    # Waits under a minute make percentages meaningless (10 s against 20 s is 100 %).
    measured = [o for o in outcomes if o.get("waited", 0) >= 60]
    with_estimate = [o for o in measured if o["estimate"] is not None]

    def errors(key: str) -> list[float]:
        return [abs(_likely(o[key]) - o["waited"]) / o["waited"] for o in measured
                if o[key] is not None]  # fmt: skip

    mine = errors("estimate")
    return {
        "scenario": name,
        "seed": seed,
        "measured": len(measured),
        "without": len(measured) - len(with_estimate),
        "median": statistics.median(mine),
        "p90": statistics.quantiles(mine, n=10)[-1],
        "inside": statistics.mean(
            o["estimate"].low <= o["waited"] <= o["estimate"].high for o in with_estimate
        ),
        "width": statistics.median(
            (o["estimate"].high - o["estimate"].low) / o["waited"] for o in with_estimate
        ),
        "signed": statistics.median(
            (o["estimate"].likely - o["waited"]) / o["waited"] for o in with_estimate
        ),
        "naive": statistics.median(errors("naive")),
        "best": statistics.median(errors("best")),
        "floor": statistics.median(_chance(o["position"], rng) for o in measured),
        "real_median": statistics.median(o["waited"] for o in measured),
    }


def _chance(position: int, rng: random.Random) -> float:
    """The error of a perfect mean for the position-th claim when handling times are
    exponential: the time until it is Gamma(position); one draw per arrival."""
    wait = rng.gammavariate(position, 1.0)
    return abs(position - wait) / wait


def _likely(estimate: waits.Estimate | float) -> float:
    return estimate.likely if isinstance(estimate, waits.Estimate) else estimate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), action="append")
    parser.add_argument("--seed", type=int, action="append")
    parser.add_argument("--days", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    print(
        f"# bench/estimates.py  {time.strftime('%Y-%m-%d %H:%M')}  {args.days} simulated days "
        f"per row; range = model's 10th to 90th percentile, widened by rate uncertainty"
    )
    print(
        "| scenario | seed | waits >= 60 s | real median | median error (p90) | signed | "
        "inside range | range width | naive | true rates | chance alone | no estimate |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.scenario or list(SCENARIOS):
        for seed in args.seed or [1, 2, 3]:
            r = run(name, seed, args.days)
            goal = r["median"] <= 0.15 and r["median"] <= 0.75 * r["naive"]
            print(
                f"| {name} | {seed} | {r['measured']} | {r['real_median'] / 60:.0f} min | "
                f"{r['median']:.1%} ({r['p90']:.0%}) | {r['signed']:+.0%} | {r['inside']:.0%} | "
                f"{r['width']:.2f} | {r['naive']:.1%} | {r['best']:.1%} | {r['floor']:.1%} | "
                f"{r['without']} |"
                f"{'' if goal else ' error goal missed'}"
                f"{'' if r['inside'] >= 0.8 else ' range goal missed'}"
            )
    print(f"# {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
