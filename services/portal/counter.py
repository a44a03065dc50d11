"""The counter's public pages: the waiting room's display and the kiosk where a visitor
takes a number."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, datetime
from ipaddress import ip_address
from typing import Any

import segno
from flask import Blueprint, Response, make_response, request
from markupsafe import Markup

from services.portal import forms
from services.portal.pages import (
    CSRF_COOKIE,
    REFERENCE,
    backend,
    form_is_this_browsers,
    idempotency_key,
    language,
    page,
    request_budget,
    settings,
    to_status_page,
    wait_words,
    with_form_cookie,
    worded,
)
from services.portal.parts import SHOWN, refreshed
from services.portal.texts import TEXTS

bp = Blueprint("counter", __name__, url_prefix="/counter")
NOT_FOUND = (404, "not_found_title", "not_found_body")
UNAVAILABLE = (503, "unavailable_title", "unavailable_body")


def _message(code: int, title: str, body: str) -> Response:
    """A page of one message: a title and a sentence, in the visitor's language."""
    text, status = page("message.html", code, title=title, body=body)
    return make_response(text, status)


# The display and the kiosk load the portal's own scripts (and htmx), nothing else.
COUNTER_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# How often the screen asks for the latest calls: a call shows within this, plus the
# display's one request. At 2 seconds, 95 % of calls took up to 1.9 s to show, against
# the goal of 1 s (bench/counter.py, docs/performance.md).
REFRESH_SECONDS = 0.5


@bp.get("/display")
def display() -> Response:
    """Full screen for a waiting room's television: the number called and its counter,
    large; the calls before it; how many wait and what a new number waits. Numbers and
    counters only: the screen hangs where everyone reads it."""
    queue = request.args.get("queue") or None
    answer = backend().display(queue)
    if answer.status == 404:
        return _message(*NOT_FOUND)
    board = _board(answer.body) if answer.status == 200 else None
    template = (
        "counter/_board.html" if request.args.get("part") == "board" else "counter/display.html"
    )
    values = {"board": board, "queue": queue, "refresh_seconds": REFRESH_SECONDS, "spoken": spoken}
    return refreshed(_counter_page(template, 200, shown=SHOWN, **values))


def _board(display: dict[str, Any]) -> dict[str, Any]:
    """The latest call apart, and the calls before it, each number once."""
    calls = display.get("called", [])
    earlier, seen = [], set()
    for call in calls[1:]:
        if call["ticket_number"] not in seen and calls[0]["ticket_number"] != call["ticket_number"]:
            seen.add(call["ticket_number"])
            earlier.append(call)
    return {
        "now": calls[0] if calls else None,
        "earlier": earlier[:6],
        "waiting": display.get("waiting", 0),
        "wait": wait_words(display.get("expected_wait") or {}, language()),
    }


def spoken(ticket_number: str) -> str:
    """A number as a voice says it: "B 14" for B-014, not "B minus zero fourteen"."""
    letters, _, digits = ticket_number.partition("-")
    return f"{letters} {int(digits)}" if digits.isdigit() else ticket_number


# The kiosk

# What a visitor who names no category asks about: the catalogue's catch-all.
SOMETHING_ELSE = "unclassified"
# A number stays on the kiosk's screen this long, then the screen is the next visitor's.
NUMBER_SHOWN_SECONDS = 30


def _in_the_building() -> bool:
    try:
        address = ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in settings().kiosk_networks)


def _kiosk_closed() -> Response | None:
    """The kiosk works with its own key, from the desk's own networks only: a number is
    for someone in the waiting room, not a way to fill the counter's line from afar."""
    if settings().kiosk_api_key is None:
        return _message(503, "kiosk_off_title", "kiosk_off_body")
    if not _in_the_building():
        return _message(403, "kiosk_away_title", "kiosk_away_body")
    return None


def _kiosk_form(code: int = 200, error: str | None = None) -> Response:
    closed = _kiosk_closed()
    if closed is not None:
        return closed
    catalogue = backend().catalogue(language())
    if catalogue.status != 200:
        return _message(*UNAVAILABLE)
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    categories = [c for c in catalogue.body.get("categories", []) if c["id"] != SOMETHING_ELSE]
    values = {"categories": categories, "error": error, "something_else": SOMETHING_ELSE}
    text, code = page(
        "counter/kiosk.html", code, csrf=csrf, form_id=secrets.token_urlsafe(16), **values
    )
    response = make_response(text, code)
    secure = request.is_secure
    response.set_cookie(
        CSRF_COOKIE, csrf, httponly=True, samesite="Strict", secure=secure, path="/counter/kiosk"
    )
    return response


@bp.get("/kiosk")
def kiosk() -> Response:
    """Large buttons, one per kind of question, and a name if the visitor wants."""
    return _kiosk_form()


@bp.post("/kiosk")
def take_number() -> Response:
    closed = _kiosk_closed()
    if closed is not None:
        return closed
    if not form_is_this_browsers():
        return _kiosk_form(400, "form_expired")
    category = request.form.get("category", "")
    name = request.form.get("name", "").strip()[:200]
    lang = language()
    catalogue = backend().catalogue(lang)
    found = {c["id"]: c for c in catalogue.body.get("categories", [])}
    names = {key: c["name"] for key, c in found.items()}
    if category not in names:
        return _kiosk_form(422, "kiosk_choose")
    texts = TEXTS[lang]
    body = {
        "channel": "walk_in",
        "category": category,
        "subject": names[category],
        "description": texts["kiosk_description"],
        "fields": {},
        "contact_started_at": datetime.now(UTC).isoformat(),
        "requester": {
            "name": name or texts["kiosk_visitor"],
            "language": lang,
            "preferred_contact": "none",
        },
    }
    form_id = request.form.get("form_id") or secrets.token_urlsafe(16)
    answer = backend().take_number(body, form_id, settings().kiosk_api_key or "")
    if answer.status != 201:
        return _kiosk_form(503 if answer.unavailable else 422, "kiosk_failed")
    shown = backend().display(found[category].get("queue"))  # the wait of the number's queue
    wait = wait_words(shown.body.get("expected_wait") or {}, lang) if shown.status == 200 else None
    link = answer.body["status_url"]
    code = segno.make(link, error="m").svg_inline(scale=5, title=texts["kiosk_qr"])
    return _counter_page(
        "counter/number.html",
        201,
        number=answer.body.get("ticket_number") or answer.body["reference"],
        reference=answer.body["reference"],
        wait=wait,
        # segno writes only its path and the title, which it escapes: markup of our own.
        qr=Markup(code.replace("<svg ", '<svg role="img" ', 1)),  # noqa: S704
        return_seconds=NUMBER_SHOWN_SECONDS,
    )


def _counter_page(template: str, code: int, **values: Any) -> Response:
    """A page of the counter's, which loads the portal's own scripts."""
    text, status = page(template, code, **values)
    response = make_response(text, status)
    response.headers["Content-Security-Policy"] = COUNTER_POLICY
    return response


@bp.post("/kiosk/check-in")
def check_in() -> Response:
    """An appointment's arrival: its reference typed, or scanned from the confirmation (a
    scanner types what it reads)."""
    closed = _kiosk_closed()
    if closed is not None:
        return closed
    if not form_is_this_browsers():
        return _kiosk_form(400, "form_expired")
    typed = request.form.get("reference", "").strip().upper()
    if not REFERENCE.fullmatch(typed):
        return _kiosk_form(422, "kiosk_not_found")
    answer = backend().check_in(typed, settings().kiosk_api_key or "")
    if answer.status == 404:
        return _kiosk_form(404, "kiosk_not_found")
    if answer.status == 409:
        code = (answer.body.get("error") or {}).get("code")
        return _kiosk_form(409, CHECK_IN_REFUSED.get(code, "kiosk_not_booked"))
    if answer.status != 200:
        return _kiosk_form(503, "kiosk_failed")
    start = answer.body.get("start")  # none for a number taken from home
    return _counter_page(
        "counter/checked_in.html",
        200,
        number=answer.body["ticket_number"],
        at=datetime.fromisoformat(start).strftime("%H:%M") if start else None,
        return_seconds=NUMBER_SHOWN_SECONDS,
    )


# Why intake refused a check-in, in the visitor's words (a cancelled appointment otherwise).
CHECK_IN_REFUSED = {
    "too_early": "kiosk_too_early",
    "number_expired": "kiosk_number_expired",
    "not_waiting": "kiosk_not_waiting",
}


# A number from home: a place in the counter's line before leaving, and a message when
# the turn nears (the queue decides when; notify sends it).

FROM_HOME = "/counter/from-home"


def _counter_open(lang: str) -> bool | None:
    """Whether the counter is open now (None: the desk did not say)."""
    answer = backend().contact_options(lang)
    if answer.status != 200:
        return None
    channels = answer.body.get("channels", [])
    return any(c.get("channel") == "walk_in" and c.get("open_now") for c in channels)


def _from_home_closed() -> Response | None:
    """A number is for today's line: while the counter is closed, the page says so and
    offers a time instead (a number taken at night would be called before its owner is
    up)."""
    open_now = _counter_open(language())
    if open_now is None:
        return _message(*UNAVAILABLE)
    if not open_now:
        text, code = page("counter/from_home_closed.html", 200)
        return make_response(text, code)
    return None


@bp.get("/from-home")
def from_home() -> Response:
    """Which kind of question: each category leads to the short form for a number."""
    closed = _from_home_closed()
    if closed is not None:
        return closed
    catalogue = backend().catalogue(language())
    if catalogue.status != 200:
        return _message(*UNAVAILABLE)
    found = catalogue.body.get("categories", [])
    text, code = page("ask.html", categories=found, base=FROM_HOME, title="from_home_title")
    return make_response(text, code)


def _from_home_questions(texts: dict[str, str]) -> list[forms.Question]:
    """Fewer than a request's: the counter asks the rest. An address is asked for the
    message that the turn nears, by the medium the customer chooses."""
    name, email, phone = forms.requester_questions(texts, phone_required=False)
    return [
        forms.Question(
            "description",
            "description",
            texts["q_from_home_about"],
            "textarea",
            False,
            max_length=forms.MAX_DESCRIPTION,
        ),
        name,
        forms.Question(
            "tell_by",
            "tell_by",
            texts["q_tell_by"],
            "choice",
            True,
            options=(("email", texts["tell_by_email"]), ("sms", texts["tell_by_sms"])),
        ),
        # Needed as the choice above decides: their hints say when, not "optional".
        replace(email, required=False, hint=texts["q_email_for_turn"], marked_optional=False),
        replace(
            phone, label=texts["q_mobile"], hint=texts["q_mobile_for_turn"], marked_optional=False
        ),
    ]


# The question that holds the address for each way of telling.
ADDRESS_FOR = {"email": "email", "sms": "phone"}


def _category(category_id: str) -> dict[str, Any] | None:
    catalogue = backend().catalogue(language())
    found = catalogue.body.get("categories", []) if catalogue.status == 200 else []
    return next((c for c in found if c.get("id") == category_id), None)


def _from_home_form(category: dict[str, Any], answers: forms.Answers, code: int = 200) -> Response:
    questions = _from_home_questions(TEXTS[language()])
    return with_form_cookie(
        "counter/from_home.html", code, request.path, category=category, questions=questions,
        answers=answers, messages=worded(questions, answers.errors), form_id=idempotency_key(),
    )  # fmt: skip


@bp.get("/from-home/<category_id>")
def from_home_form(category_id: str) -> Response:
    closed = _from_home_closed()
    if closed is not None:
        return closed
    category = _category(category_id)
    if category is None:
        return _message(*NOT_FOUND)
    return _from_home_form(category, forms.Answers({}))


@bp.post("/from-home/<category_id>")
def take_number_from_home(category_id: str) -> Response:
    """A walk-in request made now, so its place counts from now, with the number and
    the wait on its status page."""
    closed = _from_home_closed()
    if closed is not None:
        return closed
    category = _category(category_id)
    if category is None:
        return _message(*NOT_FOUND)
    lang = language()
    texts = TEXTS[lang]
    questions = _from_home_questions(texts)
    answers = forms.check(questions, request.form)
    chosen = answers.values.get("tell_by", "")
    address = ADDRESS_FOR.get(chosen)
    if address and not answers.values.get(address):
        answers.errors.setdefault(address, "err_required")
    if not form_is_this_browsers():
        answers.errors = {"form": "form_expired"}
    if answers.errors:
        return _from_home_form(category, answers, 422)
    if not request_budget(count=False):
        refused = _from_home_form(
            category, forms.Answers(answers.values, {"form": "too_many_requests"}), 429
        )
        refused.headers["Retry-After"] = "3600"
        return refused
    body = forms.request_body(questions, answers, category_id, "walk_in", lang)
    body.pop("tell_by")
    body["requester"]["preferred_contact"] = chosen
    body["subject"] = category["name"]
    body["description"] = body.get("description") or texts["from_home_description"]
    body["contact_started_at"] = datetime.now(UTC).isoformat()
    answer = backend().submit(body, idempotency_key())
    if answer.status == 201:
        request_budget(count=True)
        return to_status_page(answer.body["reference"], answer.body["tracking_token"], lang)
    if answer.status == 422:
        fields = (answer.body.get("error") or {}).get("fields") or {}
        errors = forms.place_errors(questions, fields) or {"form": "err_check"}
        return _from_home_form(category, forms.Answers(answers.values, errors), 422)
    return _from_home_form(category, forms.Answers(answers.values, {"form": "not_sent"}), 503)
