"""The portal's forms as plain logic: questions from the catalogue, checks, the body sent
to intake, intake's errors placed, call-back windows inside the opening hours."""

from datetime import UTC, datetime

from services.portal import forms
from services.portal.texts import TEXTS

CATEGORY = {
    "id": "room_temperature",
    "fields": [
        {"name": "room", "label": "Room", "type": "text", "required": True, "max_length": 32},
        {"name": "temperature", "label": "Measured", "type": "number", "required": False,
         "min": -10, "max": 50},
        {"name": "problem", "label": "Problem", "type": "choice", "required": True,
         "options": ["too_cold", "too_warm"], "option_labels": {"too_cold": "Too cold"}},
    ],
    "questions": [{"name": "impact", "label": "How many", "type": "choice", "required": False,
                   "options": ["high", "low"]}],
}  # fmt: skip
QUESTIONS = forms.request_questions(CATEGORY, TEXTS["en"])
GOOD = {"subject": "Cold", "description": "Very cold", "field-room": "3.14",
        "field-temperature": "12,5", "field-problem": "too_cold", "name": "Ann",
        "email": "ann@example.org"}  # fmt: skip


def test_the_form_asks_the_catalogue_questions_where_intake_expects_them():
    keys = {q.id: q.key for q in QUESTIONS}
    assert keys["field-room"] == "fields.room" and keys["impact"] == "impact"
    assert keys["email"] == "requester.email"
    assert dict(next(q for q in QUESTIONS if q.id == "field-problem").options) == {
        "too_cold": "Too cold", "too_warm": "too_warm"}  # fmt: skip


def test_each_answer_is_checked_against_the_limits_the_catalogue_states():
    bad = {**GOOD, "field-room": "x" * 33, "field-temperature": "60", "field-problem": "hot",
           "email": "ann@", "name": " "}  # fmt: skip
    assert forms.check(QUESTIONS, bad).errors == {
        "field-room": "err_too_long", "field-temperature": "err_range",
        "field-problem": "err_choose", "email": "err_email", "name": "err_required",
    }  # fmt: skip
    assert forms.check(QUESTIONS, GOOD).errors == {}


def test_the_body_sent_to_intake_leaves_out_what_was_not_answered():
    body = forms.request_body(QUESTIONS, forms.check(QUESTIONS, GOOD), "room_temperature",
                              "web", "en")  # fmt: skip
    assert body["fields"] == {"room": "3.14", "temperature": 12.5, "problem": "too_cold"}
    assert "impact" not in body and "phone" not in body["requester"]
    assert body["requester"] == {"language": "en", "name": "Ann", "email": "ann@example.org",
                                 "preferred_contact": "email"}  # fmt: skip


def test_intakes_errors_go_to_the_questions_they_concern():
    placed = forms.place_errors(QUESTIONS, {"fields.room": ["x"], "callback.not_after": ["x"],
                                            "contact_started_at": ["x"]})  # fmt: skip
    assert placed == {"field-room": "err_check", "slot": "err_check", "form": "err_check"}


def test_call_back_windows_lie_inside_the_opening_hours_in_the_desks_zone():
    hours = [{"days": "mon-fri", "opens": "08:00", "closes": "17:00"}]
    # Friday 16:10 in Amsterdam (15:10 UTC): too late today; then Monday from 08:00.
    slots = forms.callback_slots(hours, "Europe/Amsterdam", datetime(2026, 12, 4, 15, 10,
                                                                     tzinfo=UTC))  # fmt: skip
    first = slots[0]
    assert (first.starts.isoformat(), first.ends.isoformat()) == (
        "2026-12-07T08:00:00+01:00", "2026-12-07T09:00:00+01:00")  # fmt: skip
    assert len({s.starts.date() for s in slots}) == forms.SLOT_DAYS
    assert all(s.starts.weekday() < 5 and 8 <= s.starts.hour < 17 for s in slots)
    assert forms.chosen_slot(slots, first.value) == first
    assert forms.chosen_slot(slots, "2020-01-01T08:00:00+01:00/2020-01-01T09:00:00+01:00") is None


def test_a_wait_in_words_says_one_minute_and_counts_days_beyond_two():
    from services.portal.texts import duration

    assert duration(8, "en") == "1 minute" and duration(50, "nl") == "1 minuut"
    assert duration(7 * 60, "en") == "7 minutes"
    assert duration(3 * 3600, "nl") == "3 uur"
    # Saturday morning until Monday: days, not "46 hours".
    assert duration(46 * 3600, "en") == "46 hours"
    assert duration(72 * 3600, "en") == "3 days" and duration(72 * 3600, "nl") == "3 dagen"
