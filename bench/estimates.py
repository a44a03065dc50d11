"""How far the queue's wait estimates are from the waits customers really had.

    .venv/bin/python -m bench.estimates [--seed 1] [--days 3]

Replays simulated working days through the queue service's own functions (real database,
SQLite by default, a simulated clock): mixed-channel arrivals with a Monday-morning peak,
10 % of them more urgent (they go ahead, as fair order says), agents whose number changes
over the day (lunch), handling times drawn from an exponential distribution. Each arrival
gets the estimate the customer would see at that moment; its claim gives the real wait.

Printed: the median absolute percentage error (goal 25 % or better), how often the real
wait fell inside the given range, how often there was no estimate, and the same error for
a naive baseline measured on the same arrivals: position x the day's average time between
claims so far.
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.common.config import load_settings
from services.common.db import make_engine, migrate, transaction
from services.queue import service, storage

CHANNELS = [
    ("web", 0.35),
    ("phone", 0.25),
    ("email", 0.15),
    ("chat", 0.10),
    ("walk_in", 0.10),
    ("callback", 0.05),
]
# (from hour, arrivals per hour)
ARRIVALS = [(8, 70), (10, 45), (12, 30), (13, 40), (15, 25), (17, 0)]
# (from hour, agents at work)
STAFFING = [(8, 5), (12, 3), (13, 5), (16, 4), (17, 0)]
MEAN_HANDLING_MINUTES = 6.0


def _step(table: list[tuple[int, int]], hour: float) -> int:
    value = 0
    for start, amount in table:
        if hour >= start:
            value = amount
    return value


def simulate_day(engine, desk: service.Desk, day: datetime, rng: random.Random) -> list[dict]:
    events: list[tuple[datetime, int, str, object]] = []
    seq = 0

    def push(at: datetime, kind: str, payload: object = None) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (at, seq, kind, payload))

    # Arrivals: a Poisson process whose rate follows the day (thinning).
    t, peak = day.replace(hour=8), max(rate for _, rate in ARRIVALS)
    end = day.replace(hour=17)
    while True:
        t += timedelta(hours=rng.expovariate(peak))
        if t >= end:
            break
        if rng.random() < _step(ARRIVALS, t.hour + t.minute / 60) / peak:
            push(t, "arrival")
    # Agents: each starts when their shift has them and looks for work when free.
    for minute in range(8 * 60, 17 * 60, 15):
        push(day + timedelta(minutes=minute), "staffing")

    tickets: dict[str, dict] = {}
    busy_until: list[datetime] = []
    claim_times: list[datetime] = []
    while events:
        now, _, kind, _payload = heapq.heappop(events)
        cause = service.Cause()
        if kind == "arrival":
            channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
            ticket_id = str(uuid.uuid4())
            data = {
                "ticket_id": ticket_id,
                "reference": f"LKT-{len(tickets) + 1:07d}",
                "channel": channel,
                "category": "password_reset",
                "queue": "frontoffice",
                "priority": 2 if rng.random() < 0.10 else 3,
                "subject": "s",
                "description": "d",
                "fields": {},
                "requester": {"name": "x", "email": f"{ticket_id}@example.org"},
                "tracking_token": "t" * 32,
                "created_at": now,
                "contact_started_at": now,
                "resolved_on_contact": False,
            }
            with transaction(engine) as conn:
                service.receive_ticket(conn, desk, data, cause)
                row = storage.ticket_by_id(conn, ticket_id)
                position = storage.queue_position(conn, row)
                estimate = service.estimate_for(conn, "frontoffice", position, now)
            naive = None
            if len(claim_times) >= 5:
                span = (claim_times[-1] - claim_times[0]).total_seconds()
                naive = position * span / (len(claim_times) - 1)
            tickets[ticket_id] = {
                "arrived": now,
                "estimate": estimate,
                "naive": naive,
                "position": position,
            }
        staffed = _step(STAFFING, now.hour + now.minute / 60)
        busy_until = [b for b in busy_until if b > now]
        # Free agents take the next ticket in fair order.
        while len(busy_until) < staffed:
            with transaction(engine) as conn:
                claimed = service.claim_next(conn, "frontoffice", "agent", now, cause)
            if claimed is None:
                break
            tickets[claimed.id]["waited"] = (now - tickets[claimed.id]["arrived"]).total_seconds()
            claim_times.append(now)
            done = now + timedelta(minutes=rng.expovariate(1 / MEAN_HANDLING_MINUTES))
            busy_until.append(done)
            push(done, "free")
    return list(tickets.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=10)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    desk = service.Desk.from_config(load_settings("queue", {}).desk)
    started = time.perf_counter()
    outcomes: list[dict] = []
    with tempfile.TemporaryDirectory() as directory:
        for day_number in range(args.days):
            url = f"sqlite:///{Path(directory) / f'day{day_number}.db'}"
            migrate("queue", url)
            engine = make_engine(url)
            day = datetime(2026, 11, 23, tzinfo=UTC) + timedelta(days=7 * day_number)
            outcomes += simulate_day(engine, desk, day, rng)
            engine.dispose()

    claimed = [o for o in outcomes if "waited" in o]
    # Waits under a minute make percentages meaningless (10 s against 20 s is 100 %).
    measured = [o for o in claimed if o["waited"] >= 60]
    with_estimate = [o for o in measured if o["estimate"] is not None]
    errors = [abs(o["estimate"].likely - o["waited"]) / o["waited"] for o in with_estimate]
    inside = [o["estimate"].low <= o["waited"] <= o["estimate"].high for o in with_estimate]
    naive = [
        abs(o["naive"] - o["waited"]) / o["waited"] for o in with_estimate if o["naive"] is not None
    ]
    print(
        f"# bench/estimates.py  {time.strftime('%Y-%m-%d %H:%M')}  seed {args.seed}  "
        f"{args.days} simulated days in {time.perf_counter() - started:.0f}s"
    )
    print(
        f"arrivals {len(outcomes)}, claimed {len(claimed)}, waited >= 60 s {len(measured)}, "
        f"of which without an estimate (too little history) "
        f"{len(measured) - len(with_estimate)}"
    )
    print(
        f"real waits: median {statistics.median(o['waited'] for o in measured) / 60:.1f} min, "
        f"max {max(o['waited'] for o in measured) / 60:.1f} min"
    )
    mape = statistics.median(errors) * 100
    signed = statistics.median(
        (o["estimate"].likely - o["waited"]) / o["waited"] for o in with_estimate
    )
    print(
        f"estimate   median absolute percentage error {mape:5.1f} %  "
        f"(p90 {statistics.quantiles(errors, n=10)[-1] * 100:.0f} %)  "
        f"real wait inside the given range {sum(inside) / len(inside):.0%}  "
        f"median signed error {signed * 100:+.0f} %"
    )
    print(
        f"naive base median absolute percentage error "
        f"{statistics.median(naive) * 100:5.1f} %  (position x the day's mean claim interval)"
    )
    print(f"goal 25 % or better: {'met' if mape <= 25 else 'MISSED'}")


if __name__ == "__main__":
    main()
