"""How long a waiting customer will still wait: a model small enough to explain.

The line moves when an agent on duty finishes a ticket and takes the next: with `agents`
on duty who each take `handling_seconds` per ticket on average, the line moves at
agents / handling per second, less the rate at which more urgent requests arrive and go
ahead (fair order puts them first). With those rates following the desk's staffing plan
(a lunch dip, the end of the day, a closed weekend), the number of claims by time t is a
Poisson process; the position-th claim comes when its expected count reaches a
Gamma(position) draw. The likely wait is the mean of that draw; the range is two of its
quantiles, widened while the rates are still guesses from the configuration
(decision 0023, bench/estimates.py).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

from services.common.desk import day_range, period

# The range: from the 10th to the 90th percentile of the model, then widened by the
# uncertainty of its rates; bench/estimates.py measures how often it holds the real wait.
LOW_QUANTILE_Z, HIGH_QUANTILE_Z = -1.2816, 1.2816
ENDS = (LOW_QUANTILE_Z, 0.0, HIGH_QUANTILE_Z)  # low, likely (the mean), high
# How far a rate may be off: a configured guess by half again, a learned one less as
# more tickets are handled (PRIOR_WEIGHT handled tickets weigh as much as the guess).
PRIOR_SPREAD = 1.5
LEARNED_SPREAD = 1.1
PRIOR_WEIGHT = 10
HORIZON = timedelta(days=8)  # beyond a week's plan there is nothing to say


@dataclass(frozen=True)
class Estimate:
    likely: int
    low: int
    high: int


@dataclass(frozen=True)
class Shift:
    days: frozenset[int]  # weekdays, Monday 0
    starts: clock
    ends: clock  # 23:59:59 for "until midnight"
    agents: int


@dataclass(frozen=True)
class Staffing:
    """Agents on duty by weekday and time of day in the desk's zone: the desk's plan."""

    zone: ZoneInfo
    shifts: tuple[Shift, ...]

    def __hash__(self) -> int:
        return self._hash

    @functools.cached_property
    def _hash(self) -> int:
        # The plan is a key of the walks kept below; hashing its shifts on every look-up
        # cost as much as the walk.
        return hash((self.zone, self.shifts))

    def agents_at(self, moment: datetime) -> int:
        local = moment.astimezone(self.zone)
        day, now = local.weekday(), local.time()
        return sum(s.agents for s in self.shifts if day in s.days and s.starts <= now < s.ends)

    def next_change(self, moment: datetime) -> datetime:
        """The next moment the number on duty may change (a shift's start or end, or the
        local midnight), always later than `moment`."""
        local = moment.astimezone(self.zone)
        candidates = [
            datetime.combine(local.date(), edge, self.zone)
            for shift in self.shifts
            for edge in (shift.starts, shift.ends)
        ]
        candidates.append(datetime.combine(local.date() + timedelta(days=1), clock(0), self.zone))
        return min(c for c in candidates if c > local)

    def periods(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime, int]]:
        """The agents on duty from `start` until `end`, as (from, until, agents)."""
        first = self.next_change(start)
        periods = [(start, min(first, end), self.agents_at(start))]
        for at, until, agents in self._periods_from(first):
            if at >= end:
                break
            periods.append((at, min(until, end), agents))
        return periods

    @functools.lru_cache(maxsize=32)  # noqa: B019 (a plan lives as long as the process)
    def _periods_from(self, edge: datetime) -> tuple[tuple[datetime, datetime, int], ...]:
        """From a shift's edge or a midnight, over the horizon and a day more: every
        estimate asked between two edges walks the same plan, which is worked out once
        (walking it took a sixth of a status page's CPU)."""
        periods, at, end = [], edge, edge + HORIZON + timedelta(days=1)
        while at < end:
            until = self.next_change(at)
            periods.append((at, until, self.agents_at(at)))
            at = until
        return tuple(periods)


def parse_staffing(spec: Mapping[str, Any], zone: ZoneInfo) -> Staffing:
    """{"mon-fri": {"08:00-12:00": 5, "12:00-13:00": 3}, "sat": {...}}; ValueError names
    what is wrong."""
    shifts = []
    for days, hours in spec.items():
        weekdays = day_range(days)
        if not isinstance(hours, Mapping):
            raise ValueError(f"{days!r}: use {{'08:00-17:00': agents}}")
        for when, agents in hours.items():
            opens, closes = period(when)
            if not isinstance(agents, int) or isinstance(agents, bool) or agents < 0:
                raise ValueError(f"{days} {when}: the number of agents is a whole number")
            shifts.append(Shift(weekdays, opens, closes, agents))
    return Staffing(zone, tuple(shifts))


@dataclass(frozen=True)
class WaitModel:
    """What an estimate starts from; `learned` handled tickets stand behind the figures
    (none: the configuration's guesses alone)."""

    handling_seconds: float
    agents_now: float  # used where the desk has no staffing plan
    staffing: Staffing | None = None
    overtaking_per_second: float = 0.0
    learned: int = 0

    def agents_at(self, moment: datetime) -> float:
        return self.agents_now if self.staffing is None else self.staffing.agents_at(moment)

    @property
    def spread(self) -> float:
        weight = PRIOR_WEIGHT / (PRIOR_WEIGHT + self.learned)
        return LEARNED_SPREAD + (PRIOR_SPREAD - LEARNED_SPREAD) * weight


@dataclass(frozen=True)
class QueuePlan:
    """What the desk configuration says of a queue before anything is learned."""

    handling_seconds: float | None = None
    staffing: Staffing | None = None


NO_PLAN = QueuePlan()


def wait_model(
    plan: QueuePlan,
    handled: list[float],
    at_work: int,
    arrivals: Mapping[int, float],
    arrivals_per_hour: float,
    priority: int,
) -> WaitModel | None:
    """The model of one queue for a ticket of `priority`: handling times learned (pulled
    towards the plan's guess), agents on duty from the plan or else those at work now,
    and the arrivals more urgent than this ticket, which go ahead of it: the arrivals of
    the last hour times the share of them more urgent over a longer history (`arrivals`
    by priority; the share of a few hours is steadier than an hour's few urgent ones)."""
    handling = learned_handling(handled, plan.handling_seconds)
    if handling is None or (plan.staffing is None and at_work == 0):
        return None
    total = sum(arrivals.values())
    urgent = sum(count for level, count in arrivals.items() if level < priority)
    return WaitModel(
        handling_seconds=handling,
        agents_now=at_work,
        staffing=plan.staffing,
        overtaking_per_second=urgent / total * arrivals_per_hour / 3600 if total else 0.0,
        learned=len(handled),
    )


def learned_handling(
    handled: list[float], prior_seconds: float | None, minimum: int = 5
) -> float | None:
    """The mean handling time of recent tickets, pulled towards the configured guess
    while there are few of them; None when there is neither."""
    if prior_seconds is None:
        return sum(handled) / len(handled) if len(handled) >= minimum else None
    return (sum(handled) + PRIOR_WEIGHT * prior_seconds) / (len(handled) + PRIOR_WEIGHT)


def estimate_wait(
    position: int,
    model: WaitModel | None,
    now: datetime,
    window: tuple[datetime, datetime] | None = None,
    opening_later: Sequence[datetime] = (),
) -> Estimate | None:
    """The wait of the `position`-th waiting ticket, in seconds from `now`; a call-back's
    window (not before, not after) bounds it. None when the model cannot say.

    `position` counts those ahead that can be taken now; `opening_later` are the windows
    of the call-backs ahead that cannot yet: one whose window opens before this ticket's
    turn comes is taken first, one that opens later is not in the way. Each end of the
    range counts those that open before it."""
    if model is None or position < 1 or model.handling_seconds <= 0:
        return None
    waits = []
    for z in ENDS:
        ahead, remaining = position, sorted(opening_later)
        while True:
            reached = _time_to_claim(ahead, z, model, now)
            if reached is None:
                return None
            before = [opens for opens in remaining if opens < now + timedelta(seconds=reached)]
            if not before:
                break
            ahead, remaining = ahead + len(before), remaining[len(before) :]
        waits.append(reached)
    if window is not None:
        earliest = max(0.0, (window[0] - now).total_seconds())
        latest = max(earliest, (window[1] - now).total_seconds())
        if waits[1] < earliest:
            # Its turn comes before its window: it goes to the first agent free after the
            # window opens (it is due first by then).
            first = [_time_to_claim(1, z, model, window[0]) for z in ENDS]
            if all(w is not None for w in first):
                waits = [earliest + w for w in first]  # type: ignore[operator]
        waits = [min(max(w, earliest), latest) for w in waits]
    low, likely, high = waits
    return Estimate(likely=round(likely), low=round(low), high=round(high))


def _time_to_claim(position: int, z: float, model: WaitModel, start: datetime) -> float | None:
    """Seconds from `start` until the position-th claim at the normal deviate z of its
    distribution (0: the mean). Urgent arrivals going ahead add their own randomness to
    the claims': the net count's variance is (claims + overtakers) where its mean is
    (claims - overtakers), so z is stretched by the square root of their ratio."""
    if z == 0:
        target = float(position)
    else:
        claims = _claims_per_second(model, start)
        over = model.overtaking_per_second
        if claims is None or claims <= over:
            return None
        target = _gamma_quantile(position, z * math.sqrt((claims + over) / (claims - over)))
        target = target * model.spread if z > 0 else target / model.spread
    return _time_to_reach(target, model, start)


def _claims_per_second(model: WaitModel, start: datetime) -> float | None:
    """The claim rate at `start`, or when the desk next has someone on duty."""
    for _at, _until, agents in _periods(model, start):
        if agents > 0:
            return agents / model.handling_seconds
    return None


def _periods(model: WaitModel, start: datetime) -> list[tuple[datetime, datetime, float]]:
    """Agents on duty over the horizon from `start`, as (from, until, agents)."""
    if model.staffing is None:
        return [(start, start + HORIZON, model.agents_now)]
    return _planned(model.staffing, start)  # type: ignore[return-value]


@functools.lru_cache(maxsize=16)
def _planned(staffing: Staffing, start: datetime) -> list[tuple[datetime, datetime, int]]:
    # An estimate walks the plan from the same moment for each end of its range.
    return staffing.periods(start, start + HORIZON)


def _gamma_quantile(shape: int, z: float) -> float:
    """Quantile of Gamma(shape, 1) at the normal deviate z: exact for one (exponential),
    Wilson and Hilferty's approximation beyond."""
    if shape == 1:
        return -math.log(1 - _normal_cdf(z))
    k = 2 * shape
    cube = 1 - 2 / (9 * k) + z * math.sqrt(2 / (9 * k))
    return k * max(cube, 0.0) ** 3 / 2


def _normal_cdf(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def _time_to_reach(target: float, model: WaitModel, now: datetime) -> float | None:
    """Seconds until the expected number of claims reaches `target`, the claim rate
    following the staffing plan; None if that lies beyond HORIZON."""
    done = 0.0
    for at, until, agents in _periods(model, now):
        rate = agents / model.handling_seconds - model.overtaking_per_second
        span = (until - at).total_seconds()
        if rate > 0 and done + rate * span >= target:
            return (at - now).total_seconds() + (target - done) / rate
        done += max(rate, 0.0) * span
    return None
