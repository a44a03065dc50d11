"""The desk configuration file (LOKET_CONFIG), described once and checked when any process
starts: a mistake stops the process with the setting named, instead of the first ticket
failing in a worker. Each service reads its own parts further and refuses them in the
same way: intake the catalogue, its questions and the priority matrix (only intake uses
them, services/intake/catalogue.py), the queue the staffing plans."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates,
    validates_schema,
)

from services.common.vocabulary import CHANNELS, LANGUAGES, PRIORITIES

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def day_range(label: str) -> frozenset[int]:
    """The weekdays (Monday 0) of a label of the file's opening hours and staffing plans:
    "sat" or "mon-fri"; ValueError for anything else."""
    first, _, last = str(label).partition("-")
    if first not in DAYS or (last or first) not in DAYS:
        raise ValueError(f"{label!r} is not a day or a range of days like mon-fri")
    start, end = DAYS.index(first), DAYS.index(last or first)
    if end < start:
        raise ValueError(f"{label!r} runs backwards; use mon-fri")
    return frozenset(range(start, end + 1))


def period(text: str) -> tuple[clock, clock]:
    """The opening and closing time of "08:00-17:00" ("24:00": until midnight);
    ValueError for anything else, or a period that ends before it starts."""
    try:
        opens, closes = (part.strip() for part in str(text).split("-"))
        start = clock.fromisoformat(opens)
        end = clock(23, 59, 59) if closes == "24:00" else clock.fromisoformat(closes)
    except ValueError:
        raise ValueError(f"{text!r} is not a period like 08:00-17:00") from None
    if end <= start:
        raise ValueError(f"{text!r} ends before it starts")
    return start, end


def _parses(parse: Callable[[str], Any]) -> Callable[[str], None]:
    def check(value: str) -> None:
        try:
            parse(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    return check


_Days = fields.String(validate=_parses(day_range))
_Period = fields.String(validate=_parses(period))
_Minutes = fields.Integer(strict=True, validate=validate.Range(min=1))


def _every_priority(targets: Mapping[int, int]) -> None:
    missing = [p for p in PRIORITIES if p not in targets]
    if missing:
        raise ValidationError(f"a target for every priority 1 to 4; missing {missing}")


class _Queue(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,63}$"))
    name = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    handling_minutes = fields.Float(validate=validate.Range(min=0, min_inclusive=False))
    # The letters before a counter's number ("B" in B-014), said aloud in the waiting room.
    counter_prefix = fields.String(validate=validate.Regexp(r"^[A-Z]{1,2}$"))
    agents = fields.Dict(
        keys=_Days,
        values=fields.Dict(
            keys=_Period, values=fields.Integer(strict=True, validate=validate.Range(min=0))
        ),
    )


class _Sla(Schema):
    class Meta:
        unknown = RAISE

    first_response_minutes = fields.Dict(
        keys=fields.Integer(validate=validate.OneOf(PRIORITIES)),
        values=_Minutes,
        required=True,
        validate=_every_priority,
    )
    resolution_minutes = fields.Dict(
        keys=fields.Integer(validate=validate.OneOf(PRIORITIES)),
        values=_Minutes,
        required=True,
        validate=_every_priority,
    )
    channel_first_response_minutes = fields.Dict(
        keys=fields.String(validate=validate.OneOf(CHANNELS)),
        values=fields.Dict(
            keys=fields.Integer(validate=validate.OneOf(PRIORITIES)), values=_Minutes
        ),
    )


class _Problems(Schema):
    class Meta:
        unknown = RAISE

    surge_min_contacts = fields.Integer(strict=True, validate=validate.Range(min=1))
    surge_factor = fields.Float(validate=validate.Range(min=1))
    window_minutes = _Minutes
    baseline_days = fields.Integer(strict=True, validate=validate.Range(min=1))


class _OpeningHours(Schema):
    class Meta:
        unknown = RAISE

    timezone = fields.String(required=True)
    # Per channel "always" or {days: hours}; checked together below.
    web = fields.Raw()
    email = fields.Raw()
    phone = fields.Raw()
    chat = fields.Raw()
    walk_in = fields.Raw()
    callback = fields.Raw()

    @validates("timezone")
    def _known_zone(self, value: str, **_: Any) -> None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"unknown time zone {value!r}") from None

    @validates_schema(skip_on_field_errors=False)
    def _hours(self, data: Mapping[str, Any], **_: Any) -> None:
        for channel in CHANNELS:
            spec = data.get(channel, "always")
            if spec == "always":
                continue
            try:
                if not isinstance(spec, Mapping) or not spec:
                    raise ValueError("'always' or {mon-fri: '08:00-17:00'}")
                for days, hours in spec.items():
                    day_range(days), period(hours)
            except ValueError as exc:
                raise ValidationError(str(exc), channel) from None


def _phone_number(value: str) -> None:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError("a phone number with its country code, such as +31 20 555 0100")


_Words = fields.Dict(
    keys=fields.String(validate=validate.OneOf(LANGUAGES)),
    values=fields.String(validate=validate.Length(min=1, max=200)),
    validate=validate.Length(min=1),
)


class _Counter(Schema):
    class Meta:
        unknown = RAISE

    address = _Words
    room = _Words


class _CounterRules(Schema):
    """How the counter calls people: `counter` in the desk file."""

    class Meta:
        unknown = RAISE

    calls_before_no_show = fields.Integer(strict=True, validate=validate.Range(min=1))
    seconds_between_calls = fields.Integer(strict=True, validate=validate.Range(min=0))
    # Appointments: a slot's length, the desks that serve, and the share of them that
    # may be booked ahead (the rest is for those who walk in).
    slot_minutes = fields.Integer(strict=True, validate=validate.Range(min=5, max=240))
    desks = fields.Integer(strict=True, validate=validate.Range(min=1))
    bookable_share = fields.Float(validate=validate.Range(min=0, max=1))
    appointment_grace_minutes = fields.Integer(strict=True, validate=validate.Range(min=0))
    # A number from home: its customer is told their turn nears with this many ahead.
    notify_when_ahead = fields.Integer(strict=True, validate=validate.Range(min=0))


class _CallRules(Schema):
    """The phone system's calls: `calls` in the desk file."""

    class Meta:
        unknown = RAISE

    # Where numbers without a country code are from ("020 555 0100" in NL).
    default_region = fields.String(validate=validate.OneOf(sorted(phonenumbers.SUPPORTED_REGIONS)))
    # No call-back for a caller someone spoke to on another call this recently.
    callback_grace_minutes = fields.Integer(strict=True, validate=validate.Range(min=0))
    # The share of calls answered within this many seconds: the phone's service level.
    service_level_seconds = fields.Integer(strict=True, validate=validate.Range(min=1))
    # The catalogue's category of a call-back made for a caller who hung up.
    category = fields.String(validate=validate.Length(min=1, max=64))
    # The queue a call's answer time is counted for.
    queue = fields.String(validate=validate.Length(min=1, max=64))


class _CallbackRules(Schema):
    """How the desk calls people back: `callback` in the desk file."""

    class Meta:
        unknown = RAISE

    # A call that did not reach the customer is tried again this much later, inside
    # their window, at most this many times; then they are asked for another time.
    retry_minutes = fields.Integer(strict=True, validate=validate.Range(min=1))
    max_attempts = fields.Integer(strict=True, validate=validate.Range(min=1))


class _Contact(Schema):
    class Meta:
        unknown = RAISE

    phone = fields.String(validate=_phone_number)
    email = fields.Email()
    walk_in = fields.Nested(_Counter)


class DeskSchema(Schema):
    class Meta:
        unknown = RAISE

    queues = fields.List(fields.Nested(_Queue), required=True, validate=validate.Length(min=1))
    sla = fields.Nested(_Sla, required=True)
    reopen_window_days = fields.Float(validate=validate.Range(min=0))
    priority_matrix = fields.Dict(required=True)
    problems = fields.Nested(_Problems)
    opening_hours = fields.Nested(_OpeningHours, required=True)
    contact = fields.Nested(_Contact)
    counter = fields.Nested(_CounterRules)
    calls = fields.Nested(_CallRules)
    callback = fields.Nested(_CallbackRules)
    questions = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True)
    catalogue = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1))
    default_language = fields.String(validate=validate.OneOf(LANGUAGES))

    @validates("queues")
    def _each_queue_once(self, queues: list[Mapping[str, Any]], **_: Any) -> None:
        ids = [q["id"] for q in queues]
        if len(set(ids)) != len(ids):
            raise ValidationError("every queue id once")
        prefixes = [counter_prefix(queues, q["id"]) for q in queues]
        if len(set(prefixes)) != len(prefixes):
            raise ValidationError("every queue's counter_prefix once")


DESK = DeskSchema()


def check_desk(desk: Mapping[str, Any]) -> list[str]:
    """Every mistake in a desk configuration, each naming its setting
    ("sla.first_response_minutes: ..."); empty when it is sound."""
    try:
        DESK.load(desk)
    except ValidationError as exc:
        return sorted(_flatten(exc.messages))
    return []


def _flatten(messages: Any, path: str = "") -> list[str]:
    if isinstance(messages, Mapping):
        found = []
        for key, value in messages.items():
            # marshmallow files a mapping's errors under "value" (and "key" for its keys).
            inner = path if key in ("_schema", "value", "key") else f"{path}.{key}".lstrip(".")
            found += _flatten(value, inner)
        return found
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{path}: {m}" for m in messages]
    if isinstance(messages, list):
        return [line for m in messages for line in _flatten(m, path)]
    return [f"{path}: {messages}"]


def counter_prefix(queues: list[Mapping[str, Any]], queue: str) -> str:
    """The letters of a queue's counter numbers: its `counter_prefix`, else A, B, C... in
    the order the desk file lists the queues."""
    for n, each in enumerate(queues):
        if each["id"] == queue:
            return each.get("counter_prefix") or chr(ord("A") + n % 26) * (1 + n // 26)
    raise KeyError(queue)


def channel_contact(desk: Mapping[str, Any], channel: str, language: str) -> dict[str, str] | None:
    """How to reach the desk on a channel, from the desk file's `contact` (checked at
    start): the phone number as people read it and as a `tel:` link, the address as a
    `mailto:` link, the counter's address and room in the language asked; None when the
    file says nothing for the channel."""
    contact = desk.get("contact") or {}
    if channel == "phone" and contact.get("phone"):
        number = phonenumbers.parse(contact["phone"], None)
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        shown = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        return {"phone": shown, "uri": f"tel:{e164}"}
    if channel == "email" and contact.get("email"):
        return {"email": contact["email"], "uri": f"mailto:{contact['email']}"}
    if channel == "walk_in" and contact.get("walk_in"):
        counter = contact["walk_in"]
        words = {
            part: texts.get(language) or next(iter(texts.values()))
            for part in ("address", "room")
            if (texts := counter.get(part))
        }
        return words or None
    return None
