"""The customer's pages: thin views around the services' public APIs."""

from __future__ import annotations

import hmac
import html
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
)
from limits import RateLimitItemPerHour
from markupsafe import Markup, escape

from services.common.labels import CUSTOMER_STATUSES
from services.common.vocabulary import LANGUAGES
from services.portal import forms
from services.portal.backend import Answer, Backend
from services.portal.settings import PortalSettings
from services.portal.texts import TEXTS, day_name, duration, opening_hours

bp = Blueprint("pages", __name__)
CSRF_COOKIE = "loket_csrf"
MAX_MESSAGE = 5000
# How long after sending a request its page says "being registered" instead of "unknown".
FRESH_SECONDS = 120
REFERENCE = re.compile(r"LKT-\d{6,}")


def settings() -> PortalSettings:
    return current_app.extensions["portal.settings"]


def backend() -> Backend:
    return current_app.extensions["portal.backend"]


def language() -> str:
    """From the link, then the browser's Accept-Language, then the desk's default."""
    if "language" not in g:
        asked = request.args.get("lang")
        g.language = (
            asked
            if asked in LANGUAGES
            else request.accept_languages.best_match(LANGUAGES) or settings().default_language
        )
    return g.language


def page(template: str, code: int = 200, **values: Any) -> tuple[str, int]:
    lang = language()
    other = "en" if lang == "nl" else "nl"
    switch = {**request.args.to_dict(), "lang": other}
    return (
        render_template(
            template, lang=lang, t=TEXTS[lang], switch_args=switch, other_language=other, **values
        ),
        code,
    )


def _problem(answer: Answer) -> tuple[str, int]:
    """A wrong token, an unknown reference and a service that does not answer each get
    a page that says so; never a traceback."""
    if answer.unavailable:
        return page("message.html", 503, title="unavailable_title", body="unavailable_body")
    return page("message.html", 404, title="not_found_title", body="not_found_body")


@bp.get("/")
def home() -> tuple[str, int]:
    """Every channel with its opening hours and its expected wait, so the customer chooses
    how to reach the desk (the channel is theirs to choose, not ours)."""
    lang = language()
    answer = backend().contact_options(lang)
    channels = []
    for option in answer.body.get("channels", []) if answer.status == 200 else []:
        low, high = (
            option.get("estimated_wait_low_seconds"),
            option.get("estimated_wait_high_seconds"),
        )
        wait = (
            TEXTS[lang]["wait_range"].format(low=duration(low, lang), high=duration(high, lang))
            if low is not None and high is not None
            else None
        )
        channels.append({**option, "wait": wait, "hours": opening_hours(option, lang)})
    return page(
        "home.html", channels=channels, timezone=answer.body.get("timezone"),
        unavailable=answer.status != 200,
    )  # fmt: skip


@bp.get("/track/<reference>")
def track(reference: str) -> Response | tuple[str, int]:
    token = request.args.get("token", "")
    answer = backend().track(reference, token)
    if answer.status == 404 and _just_made(reference, token):
        # A request this portal made a moment ago reaches the queue through the broker,
        # within a second as a rule: the page looks again in a second, holding no worker
        # while it waits (a sleeping worker was an outside tester's way to stall the portal).
        return page(
            "message.html",
            200,
            title="registering_title",
            body="registering_body",
            refresh_seconds=1,
        )
    if answer.status != 200:
        return _problem(answer)
    return _status_page(reference, answer.body, errors={})


def fresh_mark(reference: str, token: str, now: float | None = None) -> str:
    """What the portal adds to the link of a request it has just made: when, signed with
    its secret for that reference and token, so that nobody else's link makes it wait."""
    issued = str(int(time.time() if now is None else now))
    return f"{issued}.{_signature(reference, token, issued)}"


def moved_mark(reference: str, token: str, start: datetime) -> str:
    """The new time of a moved appointment, signed for that reference and token."""
    at = start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{at}.{_signature(reference, token, at)}"


def _moved_to(reference: str, token: str) -> datetime | None:
    at, _, signature = request.args.get("moved", "").partition(".")
    if not at or not hmac.compare_digest(signature, _signature(reference, token, at)):
        return None
    try:
        return datetime.strptime(at, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _signature(reference: str, token: str, issued: str) -> str:
    message = f"{reference}\x00{token}\x00{issued}".encode()
    return hmac.new(current_app.secret_key.encode(), message, "sha256").hexdigest()[:32]


def _just_made(reference: str, token: str) -> bool:
    issued, _, signature = request.args.get("fresh", "").partition(".")
    if not issued.isascii() or not issued.isdigit():
        return False
    return 0 <= time.time() - int(issued) <= FRESH_SECONDS and hmac.compare_digest(
        signature, _signature(reference, token, issued)
    )


def _status_words(status: dict[str, Any], lang: str) -> str:
    """Where the request stands, in the customer's words; an appointment not yet checked
    in is booked, not waiting in a line."""
    booked = status.get("appointment_start") and not status.get("queue_position")
    if booked and status.get("status") == "queued":
        return TEXTS[lang]["appointment_booked"]
    return CUSTOMER_STATUSES[lang].get(status.get("status", ""), status.get("status", ""))


def _appointment_words(status: dict[str, Any], lang: str) -> str | None:
    """ "Mon 7 Dec, 09:00-09:15" in the desk's zone and the customer's language."""
    if not status.get("appointment_start"):
        return None
    return _period_words(status["appointment_start"], status["appointment_end"], lang)


def _period_words(start: str, end: str, lang: str) -> str:
    zone = settings().desk_zone
    starts = datetime.fromisoformat(start).astimezone(zone)
    ends = datetime.fromisoformat(end).astimezone(zone)
    return f"{day_name(starts.date(), lang)}, {starts:%H:%M}\N{EN DASH}{ends:%H:%M}"


def _callback_window_words(status: dict[str, Any], lang: str) -> str | None:
    """ "Mon 7 Dec, 10:00-11:00": when the desk will call, while it is still to call."""
    if not status.get("callback_not_before") or status.get("status") != "queued":
        return None
    return _period_words(status["callback_not_before"], status["callback_not_after"], lang)


def _free_times(category: str | None = None) -> list[forms.Slot] | Answer:
    """The counter's times with a seat free in the next two weeks, as intake offers them."""
    free = backend().appointment_slots(category)
    if free.status != 200:
        return free
    return [
        forms.Slot(datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"]))
        for s in free.body.get("slots", [])
        if s.get("available", 0) > 0
    ]


def _move_form(reference: str, status: dict[str, Any], error: str | None, code: int) -> Response:
    slots = _free_times()
    if isinstance(slots, Answer):
        return _problem(slots)
    values = {"status": status, "days": _by_day(slots), "error": error}
    when = _appointment_words(status, language())
    token = request.args.get("token", "")
    zone = settings().desk_zone.key
    path = f"/track/{reference}"
    return with_form_cookie(
        "move.html", code, path, appointment=when, token=token, zone=zone, **values
    )


@bp.get("/track/<reference>/move")
def move_form(reference: str) -> Response | tuple[str, int]:
    """Another time for an appointment: the counter's free times of the next two weeks."""
    answer = backend().track(reference, request.args.get("token", ""))
    if answer.status != 200 or not answer.body.get("appointment_start"):
        return _problem(answer if answer.status != 200 else Answer(404, {}))
    return _move_form(reference, answer.body, None, 200)


@bp.post("/track/<reference>/move")
def move_appointment(reference: str) -> Response | tuple[str, int]:
    token = request.args.get("token", "")
    answer = backend().track(reference, token)
    if answer.status != 200 or not answer.body.get("appointment_start"):
        return _problem(answer if answer.status != 200 else Answer(404, {}))
    if not form_is_this_browsers():
        return _move_form(reference, answer.body, "form_expired", 400)
    slots = _free_times()
    chosen = (
        forms.chosen_slot(slots, request.form.get("slot", "")) if isinstance(slots, list) else None
    )
    if chosen is None:
        return _move_form(reference, answer.body, "err_appointment", 422)
    done = backend().move_appointment(reference, token, chosen.starts.isoformat())
    if done.status == 409 and (done.body.get("error") or {}).get("code") == "slot_full":
        return _move_form(reference, answer.body, "err_slot_full", 409)
    if done.status != 200:
        return _problem(done)
    mark = moved_mark(reference, token, chosen.starts)
    query = urlencode({"token": token, "lang": language(), "moved": mark})
    return redirect(f"/track/{reference}?{query}", code=303)


@bp.post("/track/<reference>/cancel")
def cancel_appointment(reference: str) -> Response | tuple[str, int]:
    """The customer frees their time at the counter from their status page."""
    token = request.args.get("token", "")
    if not form_is_this_browsers():
        answer = backend().track(reference, token)
        if answer.status != 200:
            return _problem(answer)
        return _status_page(reference, answer.body, errors={"form": "form_expired"}, code=400)
    done = backend().cancel_appointment(reference, token)
    if done.status not in (200, 409):
        return _problem(done)
    query = urlencode(
        {"token": token, "lang": language(), "cancelled": "1" if done.status == 200 else "0"}
    )
    return redirect(f"/track/{reference}?{query}", code=303)


def _callback_times() -> tuple[list[forms.Slot], str] | Answer:
    """The call-back hours' windows a customer can choose, and the zone they are in."""
    options = backend().callback_hours(language())
    if options.status != 200:
        return options
    hours = next(
        (c.get("opening_hours") for c in options.body.get("channels", [])
         if c.get("channel") == "callback"), None,
    )  # fmt: skip
    zone = options.body.get("timezone", "UTC")
    return forms.callback_slots(hours, zone, datetime.now(UTC)), zone


def _asks_a_time(status: dict[str, Any]) -> bool:
    """A call-back the desk could not reach, or one in line for no particular time (a
    caller who hung up): the customer may choose when to be called (the queue's rule,
    `takes_a_callback_window`)."""
    if status.get("channel") != "callback":
        return False
    return status.get("status") == "waiting_on_customer" or (
        status.get("status") == "queued" and not status.get("callback_not_after")
    )


def _callback_form(
    reference: str, status: dict[str, Any], error: str | None, code: int
) -> Response:
    times = _callback_times()
    if isinstance(times, Answer):
        return _problem(times)
    slots, zone = times
    token = request.args.get("token", "")
    return with_form_cookie(
        "callback_time.html", code, f"/track/{reference}", status=status,
        days=_by_day(slots), error=error, token=token, zone=zone,
    )  # fmt: skip


def _call_back_asking(reference: str, token: str) -> dict[str, Any] | Response | tuple[str, int]:
    """The request's status when it takes a time to be called; otherwise the page to
    answer instead (its status page, or not found)."""
    answer = backend().track(reference, token)
    if answer.status != 200:
        return _problem(answer)
    if not _asks_a_time(answer.body):
        return to_status_page(reference, token, language())
    return answer.body


@bp.get("/track/<reference>/callback")
def callback_form(reference: str) -> Response | tuple[str, int]:
    """A time to be called: the link after the desk's calls did not reach the customer,
    and in a call-back's confirmation for no particular time. Any other request's link
    opens its status page."""
    status = _call_back_asking(reference, request.args.get("token", ""))
    if not isinstance(status, dict):
        return status
    return _callback_form(reference, status, None, 200)


@bp.post("/track/<reference>/callback")
def choose_callback_time(reference: str) -> Response | tuple[str, int]:
    token = request.args.get("token", "")
    status = _call_back_asking(reference, token)
    if not isinstance(status, dict):
        return status
    if not form_is_this_browsers():
        return _callback_form(reference, status, "form_expired", 400)
    times = _callback_times()
    if isinstance(times, Answer):
        return _problem(times)
    chosen = forms.chosen_slot(times[0], request.form.get("slot", ""))
    if chosen is None:
        return _callback_form(reference, status, "err_slot", 422)
    window = {
        "not_before": chosen.starts.astimezone(UTC).isoformat(),
        "not_after": chosen.ends.astimezone(UTC).isoformat(),
    }
    done = backend().choose_callback_window(reference, token, window)
    if done.status == 409:  # chosen a moment ago, in another tab: the page says when
        return to_status_page(reference, token, language())
    if done.status != 200:
        return _problem(done)
    query = urlencode({"token": token, "lang": language(), "called": "1"})
    return redirect(f"/track/{reference}?{query}", code=303)


def wait_words(estimate: dict[str, Any], lang: str) -> str | None:
    """An estimate's range as people read it ("10 to 25 minutes"); None while unknown."""
    if estimate.get("estimated_wait_low_seconds") is None:
        return None
    low = duration(estimate["estimated_wait_low_seconds"], lang)
    high = duration(estimate["estimated_wait_high_seconds"], lang)
    # Past a closed weekend both ends can read the same ("3 days"): said once.
    return low if low == high else TEXTS[lang]["wait_range"].format(low=low, high=high)


def _status_page(
    reference: str, status: dict[str, Any], errors: dict[str, str], code: int = 200
) -> Response:
    lang = language()
    wait = wait_words(status, lang)
    moved_to = _moved_to(reference, request.args.get("token", ""))
    if moved_to is not None and status.get("appointment_start"):
        # The queue learns of the move a moment later, through the broker: until then the
        # page shows the time the customer has just chosen, which the link vouches for.
        length = datetime.fromisoformat(status["appointment_end"]) - datetime.fromisoformat(
            status["appointment_start"]
        )
        ends = moved_to + length
        status = {
            **status,
            "appointment_start": moved_to.isoformat(),
            "appointment_end": ends.isoformat(),
        }
    return with_form_cookie(
        "track.html",
        code,
        f"/track/{reference}",
        status=status,
        status_words=_status_words(status, lang),
        wait=wait,
        appointment=_appointment_words(status, lang),
        callback_window=_callback_window_words(status, lang),
        asks_a_time=_asks_a_time(status),
        called=request.args.get("called") == "1",
        cancelled=request.args.get("cancelled") == "1",
        moved=moved_to is not None,
        token=request.args.get("token", ""),
        sent=request.args.get("sent") == "1",
        follows=_reference_or_none(request.args.get("follows", "")),
        new=request.args.get("new") == "1",
        errors=errors,
        typed=request.form,
        form_id=secrets.token_urlsafe(16),
    )


def _reference_or_none(text: str) -> str | None:
    return text if REFERENCE.fullmatch(text) else None


@bp.post("/track/<reference>")
def reply(reference: str) -> Response | tuple[str, int]:
    """The reply box: the message goes to intake with the tracking token; then back to
    the status page (post, redirect, get: a reload sends nothing twice)."""
    token = request.args.get("token", "")
    status = backend().track(reference, token)
    if status.status != 200:
        return _problem(status)
    if not form_is_this_browsers():
        return _status_page(reference, status.body, {"message": "form_expired"}, 400)
    message = request.form.get("message", "").strip()
    if not message:
        return _status_page(reference, status.body, {"message": "write_message"}, 422)
    if len(message) > MAX_MESSAGE:
        return _status_page(reference, status.body, {"message": "message_too_long"}, 422)
    form_id = request.form.get("form_id", "")[:64] or secrets.token_urlsafe(16)
    answer = backend().reply(reference, token, message, form_id)
    if answer.status == 429:
        # The form again with the message in it: nothing the customer wrote is lost.
        refused = _status_page(reference, status.body, {"message": "too_many_replies"}, 429)
        refused.headers["Retry-After"] = "60"
        return refused
    if answer.status != 201:
        return _problem(answer)
    if answer.body.get("status") == "received":
        # Closed, or resolved longer ago than the reopen window: the message became a new
        # request that refers to this one; its own page (and token) from now on.
        made, made_token = answer.body["reference"], answer.body["tracking_token"]
        fresh = fresh_mark(made, made_token)
        query = urlencode(
            {"token": made_token, "lang": language(), "follows": reference, "fresh": fresh}
        )
        return redirect(f"/track/{made}?{query}", code=303)
    query = urlencode({"token": token, "lang": language(), "sent": "1"})
    return redirect(f"/track/{reference}?{query}#updates", code=303)


@bp.get("/survey/<token>")
def survey(token: str) -> Response | tuple[str, int]:
    """Opening the link records nothing: mail scanners open links too."""
    answer = backend().survey(token)
    if answer.status != 200:
        return _problem(answer)
    if answer.body.get("answered"):
        return page("message.html", title="thanks_title", body="answered_body")
    return _survey_form(token, answer.body, errors={})


def _survey_form(
    token: str, survey: dict[str, Any], errors: dict[str, str], status: int = 200
) -> Response:
    return with_form_cookie(
        "survey.html", status, f"/survey/{token}", survey=survey, token=token, errors=errors,
        typed=request.form,
    )  # fmt: skip


def with_form_cookie(template: str, code: int, path: str, **values: Any) -> Response:
    """A page with a form: its CSRF token goes in the form and in a cookie only this
    page's address receives; a post must carry both, the same."""
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    body, code = page(template, code, csrf=csrf, **values)
    response = make_response(body, code)
    response.set_cookie(
        CSRF_COOKIE, csrf, httponly=True, samesite="Strict", secure=request.is_secure, path=path
    )
    return response


def form_is_this_browsers() -> bool:
    sent, kept = request.form.get("csrf", ""), request.cookies.get(CSRF_COOKIE, "")
    return bool(kept) and hmac.compare_digest(sent, kept)


@bp.post("/survey/<token>")
def answer_survey(token: str) -> Response | tuple[str, int]:
    survey = backend().survey(token)
    if survey.status != 200:
        return _problem(survey)
    if not form_is_this_browsers():
        return _survey_form(token, survey.body, {"form": "form_expired"}, 400)
    score = request.form.get("score", "")
    if score not in {"1", "2", "3", "4", "5"}:
        return _survey_form(token, survey.body, {"score": "choose_score"}, 422)
    comment = request.form.get("comment", "").strip()[:2000] or None
    answer = backend().answer_survey(token, int(score), comment)
    if answer.status == 201:
        return page("message.html", title="thanks_title", body="thanks_body")
    if answer.status == 409:
        return page("message.html", title="thanks_title", body="answered_body")
    return _problem(answer)


# Asking a question, and asking to be called back: one form per category for both, the
# call-back's with a window to choose and the phone number required.

ASKING = {"web": "/ask", "callback": "/call-me-back", "walk_in": "/appointments"}


def _channel_of_path() -> str:
    return next((c for c, base in ASKING.items() if request.path.startswith(base)), "web")


TITLES = {"web": "ask_title", "callback": "callback_title", "walk_in": "appointment_title"}


@bp.get("/ask")
@bp.get("/call-me-back")
@bp.get("/appointments")
def categories() -> tuple[str, int]:
    """Which kind of question: the catalogue's categories, each leading to its form."""
    answer = backend().catalogue(language())
    if answer.status != 200:
        return _problem(answer)
    channel = _channel_of_path()
    found = answer.body.get("categories", [])
    return page("ask.html", categories=found, base=ASKING[channel], title=TITLES[channel])


@dataclass
class Asking:
    """One category's form for one channel, with what the page needs to show it."""

    channel: str
    category: dict[str, Any]
    questions: list[forms.Question]
    slots: list[forms.Slot] | None = None  # call-backs only
    zone: str | None = None


def _asking(category_id: str) -> Asking | Answer:
    channel = _channel_of_path()
    lang = language()
    catalogue = backend().catalogue(lang)
    category = next(
        (c for c in catalogue.body.get("categories", []) if c.get("id") == category_id), None
    )
    if category is None:
        return catalogue if catalogue.unavailable else Answer(404, {})
    questions = forms.request_questions(category, TEXTS[lang], phone_required=channel == "callback")
    if channel == "web":
        return Asking(channel, category, questions)
    if channel == "walk_in":
        return _booking(category, questions)
    times = _callback_times()
    if isinstance(times, Answer):
        return times
    return Asking(channel, category, questions, *times)


def _booking(category: dict[str, Any], questions: list[forms.Question]) -> Asking | Answer:
    """An appointment's form: the request's questions and the counter's free times."""
    slots = _free_times(category["id"])
    if isinstance(slots, Answer):
        return slots
    return Asking("walk_in", category, questions, slots, settings().desk_zone.key)


@bp.get("/ask/<category_id>")
@bp.get("/call-me-back/<category_id>")
@bp.get("/appointments/<category_id>")
def ask_form(category_id: str) -> Response | tuple[str, int]:
    asking = _asking(category_id)
    if isinstance(asking, Answer):
        return _problem(asking)
    return _request_form(asking, forms.Answers({}), suggestions=None)


def _request_form(
    asking: Asking,
    answers: forms.Answers,
    suggestions: list[dict[str, Any]] | None,
    code: int = 200,
) -> Response:
    return with_form_cookie(
        "ask_form.html", code, request.path, asking=asking, category=asking.category,
        questions=asking.questions, answers=answers,
        messages=worded(asking.questions, answers.errors), suggestions=suggestions,
        days=_by_day(asking.slots) if asking.slots is not None else None,
        form_id=idempotency_key(),
    )  # fmt: skip


def worded(questions: list[forms.Question], errors: dict[str, str]) -> dict[str, str]:
    """Each error in the customer's language, naming the question it concerns."""
    return forms.worded(questions, errors, TEXTS[language()])


def _by_day(slots: list[forms.Slot]) -> list[tuple[str, list[forms.Slot]]]:
    days: dict[str, list[forms.Slot]] = {}
    for slot in slots:
        days.setdefault(day_name(slot.starts.date(), language()), []).append(slot)
    return list(days.items())


def idempotency_key() -> str:
    """One id per filled-in form, kept across its re-displays: it is the Idempotency-Key,
    so a double click or a reload makes one request."""
    sent = request.form.get("form_id", "")
    return sent if re.fullmatch(r"[A-Za-z0-9_-]{16,64}", sent) else secrets.token_urlsafe(16)


@bp.post("/ask/<category_id>")
@bp.post("/call-me-back/<category_id>")
@bp.post("/appointments/<category_id>")
def send_request(category_id: str) -> Response | tuple[str, int]:
    """Checked here in the customer's words, then once more by intake. A question is
    first offered the knowledge base's best answers (sending stays one click away); a
    call-back is for a window inside the call-back hours, and its place in line counts
    from the moment it is asked."""
    asking = _asking(category_id)
    if isinstance(asking, Answer):
        return _problem(asking)
    lang = language()
    answers = forms.check(asking.questions, request.form)
    slot = None
    if asking.slots is not None:
        answers.values["slot"] = request.form.get("slot", "")
        slot = forms.chosen_slot(asking.slots, answers.values["slot"])
        if slot is None:
            answers.errors["slot"] = (
                "err_appointment" if asking.channel == "walk_in" else "err_slot"
            )
    if not form_is_this_browsers():
        answers.errors = {"form": "form_expired"}
    if answers.errors:
        return _request_form(asking, answers, None, 422)
    if asking.channel == "web" and request.form.get("suggested") != "1":
        text = f"{answers.values['subject']} {answers.values['description']}"
        found = backend().suggestions(text, lang)
        hits = found.body.get("results", []) if found.status == 200 else []
        if hits:
            return _request_form(asking, answers, hits)
    body = forms.request_body(asking.questions, answers, category_id, asking.channel, lang)
    if slot is not None and asking.channel == "walk_in":
        body["start"] = slot.starts.isoformat()
    elif slot is not None:
        body["callback"] = {
            "not_before": slot.starts.astimezone(UTC).isoformat(),
            "not_after": slot.ends.astimezone(UTC).isoformat(),
        }
    if not request_budget(count=False):
        errors = {"form": "too_many_requests"}
        refused = _request_form(asking, forms.Answers(answers.values, errors), None, 429)
        refused.headers["Retry-After"] = "3600"
        return refused
    if asking.channel == "walk_in":
        answer = backend().book(body, idempotency_key())
    else:
        answer = backend().submit(body, idempotency_key())
    if answer.status == 409 and (answer.body.get("error") or {}).get("code") == "slot_full":
        # Someone else took the last seat a moment ago: the form again, with the times left.
        again = _asking(category_id)
        if isinstance(again, Answer):
            return _problem(again)
        return _request_form(
            again, forms.Answers(answers.values, {"slot": "err_slot_full"}), None, 409
        )
    if answer.status == 201:
        request_budget(count=True)  # a form refused or not sent uses up nothing
        return to_status_page(answer.body["reference"], answer.body["tracking_token"], lang)
    if answer.status == 422:
        # Intake's own check found what this one did not: each error at its question.
        fields = (answer.body.get("error") or {}).get("fields") or {}
        errors = forms.place_errors(asking.questions, fields) or {"form": "err_check"}
        return _request_form(asking, forms.Answers(answers.values, errors), None, 422)
    # Intake did not answer: nothing was sent, and everything typed is still there.
    return _request_form(asking, forms.Answers(answers.values, {"form": "not_sent"}), None, 503)


def to_status_page(reference: str, token: str, lang: str) -> Response:
    """After a request is made: its status page, which waits for it to reach the queue."""
    query = urlencode(
        {"token": token, "lang": lang, "new": "1", "fresh": fresh_mark(reference, token)}
    )
    return redirect(f"/track/{reference}?{query}", code=303)


def request_budget(*, count: bool) -> bool:
    """Whether this client address may send another request this hour; `count` counts
    one that was sent."""
    s = current_app.extensions["portal.settings"]
    budget = RateLimitItemPerHour(s.requests_per_address_hour)
    keys = (f"loket:{s.namespace}:portal:requests", request.remote_addr or "unknown")
    counts = current_app.extensions["portal.counts"]
    return counts.hit(budget, *keys) if count else counts.allowed(budget, *keys)


@bp.app_template_filter("snippet")
def snippet(marked: str) -> Markup:
    """A search snippet, its matches in bold: feedback escapes it; escaped again here from
    plain text, so no markup but <b> can come through, whatever another service sends."""
    tags = {"<b>": Markup("<b>"), "</b>": Markup("</b>")}
    pieces = re.split(r"(</?b>)", marked or "")
    return Markup("").join(tags.get(p) or escape(html.unescape(p)) for p in pieces)


@bp.get("/help/<article_id>")
def article(article_id: str) -> tuple[str, int]:
    """A knowledge article, as the request form suggests it."""
    answer = backend().article(article_id)
    if answer.status != 200:
        return _problem(answer)
    paragraphs = [p.strip() for p in answer.body.get("body", "").split("\n\n") if p.strip()]
    return page("article.html", article=answer.body, paragraphs=paragraphs)
