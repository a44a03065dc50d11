"""Each kind of mistake in the desk configuration is refused, naming its setting."""

import copy

import pytest

from services.common.config import ConfigError, load_settings
from services.common.desk import check_desk, counter_prefix

SAMPLE = load_settings("queue", {}).desk


def mistaken(change) -> list[str]:
    desk = copy.deepcopy(SAMPLE)
    change(desk)
    return check_desk(desk)


def test_the_sample_desk_is_sound():
    assert check_desk(SAMPLE) == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d["sla"]["first_response_minutes"].pop(3),
         "sla.first_response_minutes: a target for every priority 1 to 4; missing [3]"),
        (lambda d: d["sla"]["resolution_minutes"].update({2: 0}),
         "sla.resolution_minutes.2: Must be greater than or equal to 1."),
        (lambda d: d["sla"]["channel_first_response_minutes"].update({"fax": {1: 5}}),
         "sla.channel_first_response_minutes.fax: Must be one of"),
        (lambda d: d.pop("sla"), "sla: Missing data for required field."),
        (lambda d: d["queues"].append(dict(d["queues"][0])), "queues: every queue id once"),
        (lambda d: d["queues"][0].update(handling_minutes=-3),
         "queues.0.handling_minutes: Must be greater than 0."),
        (lambda d: d["queues"][0].update(agents={"mon-fri": {"8 to 5": 2}}),
         "queues.0.agents.mon-fri.8 to 5: '8 to 5' is not a period like 08:00-17:00"),
        (lambda d: d["opening_hours"].update(timezone="Europe/Amsterdm"),
         "opening_hours.timezone: unknown time zone 'Europe/Amsterdm'"),
        (lambda d: d["opening_hours"].update(phone={"mon-fri": "8-17"}),
         "opening_hours.phone: '8-17' is not a period like 08:00-17:00"),
        (lambda d: d["problems"].update(surge_factor=0.5),
         "problems.surge_factor: Must be greater than or equal to 1."),
        (lambda d: d["problems"].update(window_minutes="an hour"),
         "problems.window_minutes: Not a valid integer."),
        (lambda d: d.update(default_language="fr"), "default_language: Must be one of"),
        (lambda d: d.update(reopen_window_day=14), "reopen_window_day: Unknown field."),
        (lambda d: d["contact"].update(phone="020 555 0100"),
         "contact.phone: a phone number with its country code"),
        (lambda d: d["contact"].update(email="servicedesk"), "contact.email: Not a valid email"),
        (lambda d: d["contact"]["walk_in"]["room"].update(de="Schalter 3"),
         "contact.walk_in.room.de: Must be one of"),
        (lambda d: d["queues"][1].update(counter_prefix="b"),
         "queues.1.counter_prefix: String does not match"),
        (lambda d: d["queues"][1].update(counter_prefix="A"),
         "queues: every queue's counter_prefix once"),
        (lambda d: d["counter"].update(calls_before_no_show=0),
         "counter.calls_before_no_show: Must be greater than or equal to 1."),
        (lambda d: d["counter"].update(grace=5), "counter.grace: Unknown field."),
    ],
)  # fmt: skip
def test_each_kind_of_mistake_is_named(change, named):
    assert any(line.startswith(named) for line in mistaken(change)), mistaken(change)


def test_a_mistaken_file_stops_loading_the_settings(tmp_path):
    (tmp_path / "loket.yaml").write_text("queues: []\n", encoding="utf-8")
    with pytest.raises(ConfigError) as failure:
        load_settings("notify", {"LOKET_CONFIG": str(tmp_path / "loket.yaml")})
    assert failure.value.variable == "LOKET_CONFIG"
    assert "queues: Shorter than minimum length 1." in str(failure.value)
    assert "sla: Missing data for required field." in str(failure.value)


def test_opening_hours_and_staffing_plans_are_read_by_one_notation():
    # Intake (opening hours), the queue (staffing plans), the portal (call-back slots)
    # and this check all read days and periods with the same two functions.
    from services.common.desk import day_range, period

    assert day_range("mon-fri") == frozenset(range(5)) and day_range("sat") == {5}
    assert period("08:30-24:00")[1].hour == 23
    for label in ("fri-mon", "monday"):
        with pytest.raises(ValueError):
            day_range(label)
    for text in ("17:00-08:00", "8-5", "08:00-25:00"):
        with pytest.raises(ValueError):
            period(text)
    # A reversed period was accepted by intake before; now every reader refuses it.
    assert mistaken(lambda d: d["opening_hours"].update(chat={"sat": "14:00-10:00"}))


def test_queues_without_letters_of_their_own_take_a_b_c_in_their_order():
    queues = [{"id": "first"}, {"id": "second", "counter_prefix": "X"}, {"id": "third"}]
    assert [counter_prefix(queues, q["id"]) for q in queues] == ["A", "X", "C"]
