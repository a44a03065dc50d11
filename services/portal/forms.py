"""The portal's forms, free of Flask: questions built from intake's catalogue, the
customer's answers checked against the limits the catalogue states (intake checks them
again), intake's field errors placed at the field they concern, and call-back windows
inside the call-back channel's opening hours."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.common.desk import day_range

MAX_SUBJECT = 200
MAX_DESCRIPTION = 5000
MAX_NAME = 200
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,22}[0-9]$")


@dataclass(frozen=True)
class Question:
    """One input: `id` is its name and id in the page, `key` where intake expects it."""

    id: str
    key: str
    label: str
    type: str  # text, textarea, number, choice, date, email, phone
    required: bool
    options: tuple[tuple[str, str], ...] = ()
    max_length: int | None = None
    min: float | None = None
    max: float | None = None
    autocomplete: str | None = None
    hint: str | None = None
    # Not required, but not "optional" either: needed as another answer decides (its hint
    # says when).
    marked_optional: bool = True


@dataclass
class Answers:
    """What the customer typed (kept as typed) and what is wrong with it, per question."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)


def request_questions(
    category: Mapping[str, Any],
    texts: Mapping[str, str],
    *,
    phone_required: bool = False,
    email_required: bool | None = None,
) -> list[Question]:
    """The form for one category: what it is about, the category's own questions, the
    impact and urgency questions (they set the priority), then who is asking (for a
    call-back, a phone number)."""
    questions = [
        Question("subject", "subject", texts["q_subject"], "text", True, max_length=MAX_SUBJECT),
        Question("description", "description", texts["q_description"], "textarea", True,
                 max_length=MAX_DESCRIPTION, hint=texts["q_description_hint"]),
    ]  # fmt: skip
    for source in (category.get("fields") or [], category.get("questions") or []):
        for item in source:
            in_fields = source is category.get("fields")
            labels = item.get("option_labels") or {}
            questions.append(
                Question(
                    id=f"field-{item['name']}" if in_fields else item["name"],
                    key=f"fields.{item['name']}" if in_fields else item["name"],
                    label=item["label"],
                    type=item["type"],
                    required=bool(item.get("required")),
                    options=tuple((v, labels.get(v, v)) for v in item.get("options") or ()),
                    max_length=item.get("max_length"),
                    min=item.get("min"),
                    max=item.get("max"),
                )
            )
    return questions + requester_questions(
        texts, phone_required=phone_required, email_required=email_required
    )


def requester_questions(
    texts: Mapping[str, str], *, phone_required: bool, email_required: bool | None = None
) -> list[Question]:
    """Who is asking; an e-mail address is needed unless a phone number is (or the
    caller says otherwise: an agent records a contact with what the customer gives)."""
    needs_email = not phone_required if email_required is None else email_required
    return [
        Question("name", "requester.name", texts["q_name"], "text", True, max_length=MAX_NAME,
                 autocomplete="name"),
        Question("email", "requester.email", texts["q_email"], "email", needs_email,
                 max_length=254, autocomplete="email", hint=texts["q_email_hint"]),
        Question("phone", "requester.phone", texts["q_phone"], "phone", phone_required,
                 max_length=24, autocomplete="tel"),
    ]  # fmt: skip


def check(questions: list[Question], form: Mapping[str, str]) -> Answers:
    """The customer's answers against the catalogue's limits, with an error key per
    question that is wrong (the page words it in the customer's language)."""
    answers = Answers({q.id: (form.get(q.id) or "").strip() for q in questions})
    for q in questions:
        problem = _problem(q, answers.values[q.id])
        if problem:
            answers.errors[q.id] = problem
    return answers


def _problem(q: Question, value: str) -> str | None:
    if not value:
        return ("err_choose" if q.type == "choice" else "err_required") if q.required else None
    if q.max_length is not None and len(value) > q.max_length:
        return "err_too_long"
    if q.type == "choice" and value not in {v for v, _ in q.options}:
        return "err_choose"
    if q.type == "email" and not EMAIL.match(value):
        return "err_email"
    if q.type == "phone" and not PHONE.match(value):
        return "err_phone"
    if q.type == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return "err_date"
    if q.type == "number":
        try:
            number = float(value.replace(",", "."))
        except ValueError:
            return "err_number"
        if (q.min is not None and number < q.min) or (q.max is not None and number > q.max):
            return "err_range"
    return None


def request_body(
    questions: list[Question], answers: Answers, category: str, channel: str, language: str
) -> dict[str, Any]:
    """The `POST /v1/requests` body from checked answers; empty optional answers left out."""
    body: dict[str, Any] = {"channel": channel, "category": category, "fields": {},
                            "requester": {"language": language}}  # fmt: skip
    for q in questions:
        value: Any = answers.values[q.id]
        if value == "":
            continue
        if q.type == "number":
            value = float(value.replace(",", "."))
            value = int(value) if value.is_integer() else value
        head, _, tail = q.key.partition(".")
        if tail:
            body[head][tail] = value
        else:
            body[head] = value
    body["requester"]["preferred_contact"] = "email" if body["requester"].get("email") else "phone"
    return body


def worded(
    questions: list[Question], errors: Mapping[str, str], texts: Mapping[str, str]
) -> dict[str, str]:
    """Each error in the page's words (`texts`), naming the question it concerns."""
    by_id = {q.id: q for q in questions}
    worded = {}
    for question_id, key in errors.items():
        q = by_id.get(question_id)
        worded[question_id] = texts[key].format(
            label=q.label if q else "", n=q.max_length if q else "",
            min=_number(q.min if q else None), max=_number(q.max if q else None),
        )  # fmt: skip
    return worded


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def place_errors(questions: list[Question], intake_fields: Mapping[str, Any]) -> dict[str, str]:
    """Intake's 422 `fields` at the questions they concern; what matches no question
    (a call-back window, say) goes to the form as a whole."""
    by_key = {q.key: q.id for q in questions}
    placed: dict[str, str] = {}
    for key in intake_fields:
        placed.setdefault(by_key.get(key, "slot" if key.startswith("callback") else "form"),
                          "err_check")  # fmt: skip
    return placed


# Call-back windows


SLOT = timedelta(hours=1)
SLOT_DAYS = 5  # open days offered
EARLIEST = timedelta(minutes=30)  # no slot starting sooner than this


@dataclass(frozen=True)
class Slot:
    starts: datetime  # in the desk's zone
    ends: datetime

    @property
    def value(self) -> str:
        return f"{self.starts.isoformat()}/{self.ends.isoformat()}"


def callback_slots(hours: Any, zone: str, now: datetime) -> list[Slot]:
    """One-hour windows inside the call-back channel's opening hours, from half an hour
    from now, over the next few days it is open ("always": the whole day)."""
    tz = ZoneInfo(zone)
    periods = (
        [(set(range(7)), time(0), time(23, 59))]
        if hours == "always"
        else [
            (day_range(p["days"]), time.fromisoformat(p["opens"]), time.fromisoformat(p["closes"]))
            for p in hours or []
        ]
    )
    local_now = now.astimezone(tz)
    slots: list[Slot] = []
    open_days = 0
    for offset in range(21):
        day = local_now.date() + timedelta(days=offset)
        today: list[Slot] = []
        for days, opens, closes in periods:
            if day.weekday() not in days:
                continue
            start = datetime.combine(day, opens, tz)
            close = datetime.combine(day, closes, tz)
            while start + SLOT <= close:
                if start >= local_now + EARLIEST:
                    today.append(Slot(start, start + SLOT))
                start += SLOT
        if today:
            slots.extend(sorted(today, key=lambda s: s.starts))
            open_days += 1
            if open_days == SLOT_DAYS:
                break
    return slots


def chosen_slot(slots: list[Slot], value: str) -> Slot | None:
    return next((s for s in slots if s.value == value), None)
