from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.common.config import ConfigError, load_settings
from services.queue import waits
from services.queue.service import Desk

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
PLAN = waits.parse_staffing({"mon-fri": {"08:00-12:00": 4, "12:00-13:00": 2, "13:00-17:00": 4}},
                            AMSTERDAM)  # fmt: skip
TUESDAY_9 = datetime(2026, 12, 1, 9, 0, tzinfo=AMSTERDAM)


def model(**changes) -> waits.WaitModel:
    return waits.WaitModel(**{"handling_seconds": 600.0, "agents_now": 2, **changes})


def test_the_likely_wait_is_the_position_over_the_rate_at_which_the_line_moves():
    # Two agents at work, ten minutes a ticket: the line moves one place every 5 minutes.
    estimate = waits.estimate_wait(6, model(learned=1000), TUESDAY_9)
    assert estimate.likely == 6 * 300
    assert estimate.low < estimate.likely < estimate.high


def test_urgent_arrivals_going_ahead_slow_the_line_down():
    calm = waits.estimate_wait(6, model(), TUESDAY_9)
    overtaken = waits.estimate_wait(6, model(overtaking_per_second=1 / 600), TUESDAY_9)
    assert overtaken.likely == 6 * 600 > calm.likely


def test_the_staffing_plan_carries_the_wait_over_lunch_and_to_the_next_working_day():
    planned = model(staffing=PLAN, agents_now=0)
    # 11:30, four agents: 12 tickets take 30 minutes at 2.5 minutes a place ...
    before_lunch = waits.estimate_wait(12, planned, TUESDAY_9.replace(hour=11, minute=30))
    assert before_lunch.likely == 30 * 60
    # ... 24 take the half hour to noon, then an hour at half speed (12 more).
    over_lunch = waits.estimate_wait(24, planned, TUESDAY_9.replace(hour=11, minute=30))
    assert over_lunch.likely == 90 * 60
    # Saturday morning: nobody until Monday 08:00, then 2.5 minutes a place.
    saturday = datetime(2026, 12, 5, 10, 0, tzinfo=AMSTERDAM)
    monday = datetime(2026, 12, 7, 8, 0, tzinfo=AMSTERDAM)
    weekend = waits.estimate_wait(4, planned, saturday)
    assert weekend.likely == (monday - saturday).total_seconds() + 4 * 150


def test_a_line_that_never_moves_has_no_estimate_and_neither_has_an_empty_model():
    assert waits.estimate_wait(3, model(overtaking_per_second=1.0), TUESDAY_9) is None
    assert waits.estimate_wait(3, None, TUESDAY_9) is None


def test_a_call_back_is_expected_inside_its_window_whatever_its_place_in_line():
    opens = TUESDAY_9 + timedelta(hours=2)
    window = (opens, opens + timedelta(hours=1))
    # First in line: called by the first agent free after 11:00, five minutes on average.
    early = waits.estimate_wait(1, model(), TUESDAY_9, window)
    assert 7200 <= early.low < early.likely == 7200 + 300 < early.high <= 3 * 3600
    late = waits.estimate_wait(200, model(), TUESDAY_9, window)
    assert late.low >= 7200 and late.high == late.likely == 3 * 3600


def test_the_range_is_wide_on_a_guess_and_narrows_as_the_queue_learns():
    guess = waits.estimate_wait(20, model(learned=0), TUESDAY_9)
    learned = waits.estimate_wait(20, model(learned=200), TUESDAY_9)
    assert guess.likely == learned.likely
    assert guess.high - guess.low > 1.5 * (learned.high - learned.low)
    # The low end: Gamma(20)'s 10th percentile (14.53 places' worth of claims at 5
    # minutes a place), less the spread left for what is not yet known.
    assert learned.low == pytest.approx(14.53 * 300 / model(learned=200).spread, rel=0.02)


def test_handling_time_starts_from_the_guess_and_moves_to_what_is_measured():
    assert waits.learned_handling([], 480.0) == 480.0
    assert waits.learned_handling([], None) is None
    assert waits.learned_handling([300.0] * 4, None) is None  # too few to say
    assert waits.learned_handling([300.0] * 5, None) == 300.0
    many = waits.learned_handling([300.0] * 190, 480.0)
    assert many == pytest.approx(309.0)


def test_the_model_of_a_queue_needs_a_handling_time_and_someone_on_duty():
    plan = waits.QueuePlan(480.0, PLAN)
    assert waits.wait_model(waits.NO_PLAN, [], 3, {}, 0, 3) is None
    assert waits.wait_model(waits.QueuePlan(480.0), [], 0, {}, 0, 3) is None
    unplanned = waits.wait_model(waits.QueuePlan(480.0), [], 3, {}, 0, 3)
    assert unplanned.agents_at(TUESDAY_9) == 3
    # A quarter of the last hours' arrivals more urgent, 40 in the last hour: 10 go ahead.
    planned = waits.wait_model(plan, [600.0] * 10, 0, {1: 10, 2: 20, 3: 90}, 40, 3)
    assert planned.agents_at(TUESDAY_9) == 4 and planned.handling_seconds == 540.0
    assert planned.overtaking_per_second == pytest.approx(10 / 3600)
    assert waits.wait_model(plan, [], 0, {1: 6, 2: 6}, 12, 1).overtaking_per_second == 0


@pytest.mark.parametrize(
    "spec, problem",
    [
        ({"mon-fri": {"08:00-17:00": -1}}, "whole number"),
        ({"mon-fri": {"17:00-08:00": 2}}, "ends before it starts"),
        ({"monday": {"08:00-17:00": 2}}, "not a day"),
        ({"fri-mon": {"08:00-17:00": 2}}, "runs backwards"),
        ({"mon": {"8 to 5": 2}}, "not a period"),
    ],
)
def test_a_staffing_plan_that_makes_no_sense_is_refused_with_the_reason(spec, problem):
    with pytest.raises(ValueError, match=problem):
        waits.parse_staffing(spec, AMSTERDAM)


def test_the_plan_counts_every_shift_and_knows_when_it_changes():
    assert PLAN.agents_at(TUESDAY_9.replace(hour=12, minute=30)) == 2
    assert PLAN.agents_at(TUESDAY_9.replace(hour=18)) == 0
    assert PLAN.next_change(TUESDAY_9) == TUESDAY_9.replace(hour=12)
    assert PLAN.next_change(TUESDAY_9.replace(hour=18)) == datetime(2026, 12, 2, tzinfo=AMSTERDAM)
    assert PLAN.agents_at(datetime(2026, 12, 1, 8, 30, tzinfo=UTC)) == 4  # 09:30 there


@pytest.mark.parametrize(
    "queue, setting",
    [
        ({"handling_minutes": 0}, "queues.frontoffice.handling_minutes"),
        ({"handling_minutes": "eight"}, "queues.frontoffice.handling_minutes"),
        ({"agents": {"mon-fri": {"08:00-17:00": "four"}}}, "queues.frontoffice.agents"),
        ({"agents": ["08:00-17:00"]}, "queues.frontoffice.agents"),
    ],
)
def test_a_queue_plan_that_makes_no_sense_stops_the_queue_and_names_the_setting(queue, setting):
    desk = load_settings("queue", {}).desk
    bad = {**desk, "queues": [{"id": "frontoffice", "name": {"en": "Desk"}, **queue}]}
    with pytest.raises(ConfigError) as failure:
        Desk.from_config(bad)
    assert setting in str(failure.value)


def test_the_sample_desk_plans_every_queue():
    desk = Desk.from_config(load_settings("queue", {}).desk)
    assert set(desk.plans) == set(desk.queues)
    assert all(p.handling_seconds and p.staffing for p in desk.plans.values())


def test_a_call_back_ahead_counts_only_if_its_window_opens_before_the_turn_comes():
    # Third in line with a place every five minutes: the turn comes in 15 minutes.
    soon, late = TUESDAY_9 + timedelta(minutes=10), TUESDAY_9 + timedelta(hours=2)
    alone = waits.estimate_wait(3, model(), TUESDAY_9)
    assert waits.estimate_wait(3, model(), TUESDAY_9, opening_later=[late]) == alone
    # One that opens at 9:10 is taken first: a place further; that reaches 9:20, so the
    # second opening at 9:18 counts too.
    second = TUESDAY_9 + timedelta(minutes=18)
    pushed = waits.estimate_wait(3, model(), TUESDAY_9, opening_later=[late, second, soon])
    assert pushed.likely == 5 * 300


def test_urgent_arrivals_going_ahead_make_the_range_wider_as_well_as_later():
    # Both lines move one place every five minutes; in the second, four agents take one
    # every 2.5 minutes and an urgent arrival every five minutes goes ahead.
    calm = waits.estimate_wait(12, model(learned=1000), TUESDAY_9)
    busy = waits.estimate_wait(
        12, model(agents_now=4, overtaking_per_second=1 / 300, learned=1000), TUESDAY_9
    )
    assert calm.likely == busy.likely == 3600
    assert busy.high - busy.low > 1.5 * (calm.high - calm.low)


def test_the_high_end_counts_the_call_backs_that_open_before_it():
    # The turn comes at 9:15 (third, five minutes a place); a window opening at 9:25 is
    # not in the way of the likely turn but is of a slow one.
    opening = [TUESDAY_9 + timedelta(minutes=25)]
    alone = waits.estimate_wait(3, model(learned=1000), TUESDAY_9)
    with_later = waits.estimate_wait(3, model(learned=1000), TUESDAY_9, opening_later=opening)
    assert with_later.likely == alone.likely == 900
    assert alone.high > 25 * 60 and with_later.high > alone.high
