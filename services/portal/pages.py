"""The customer's pages: thin views around the services' public APIs."""

from __future__ import annotations

import hmac
import secrets
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

from services.portal.backend import Answer, Backend
from services.portal.settings import LANGUAGES, PortalSettings
from services.portal.texts import STATUSES, TEXTS, duration, opening_hours

bp = Blueprint("pages", __name__)
CSRF_COOKIE = "loket_csrf"
MAX_MESSAGE = 5000


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
    answer = backend().track(reference, request.args.get("token", ""))
    if answer.status != 200:
        return _problem(answer)
    return _status_page(reference, answer.body, errors={})


def _status_page(
    reference: str, status: dict[str, Any], errors: dict[str, str], code: int = 200
) -> Response:
    lang = language()
    wait = None
    if status.get("estimated_wait_low_seconds") is not None:
        wait = TEXTS[lang]["wait_range"].format(
            low=duration(status["estimated_wait_low_seconds"], lang),
            high=duration(status["estimated_wait_high_seconds"], lang),
        )
    return _with_form_cookie(
        "track.html",
        code,
        f"/track/{reference}",
        status=status,
        status_words=STATUSES[lang].get(status.get("status", ""), status.get("status", "")),
        wait=wait,
        token=request.args.get("token", ""),
        sent=request.args.get("sent") == "1",
        errors=errors,
        typed=request.form,
        form_id=secrets.token_urlsafe(16),
    )


@bp.post("/track/<reference>")
def reply(reference: str) -> Response | tuple[str, int]:
    """The reply box: the message goes to intake with the tracking token; then back to
    the status page (post, redirect, get: a reload sends nothing twice)."""
    token = request.args.get("token", "")
    status = backend().track(reference, token)
    if status.status != 200:
        return _problem(status)
    if not _form_is_this_browsers():
        return _status_page(reference, status.body, {"message": "form_expired"}, 400)
    message = request.form.get("message", "").strip()
    if not message:
        return _status_page(reference, status.body, {"message": "write_message"}, 422)
    if len(message) > MAX_MESSAGE:
        return _status_page(reference, status.body, {"message": "message_too_long"}, 422)
    form_id = request.form.get("form_id", "")[:64] or secrets.token_urlsafe(16)
    answer = backend().reply(reference, token, message, form_id)
    if answer.status != 201:
        return _problem(answer)
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
    return _with_form_cookie(
        "survey.html", status, f"/survey/{token}", survey=survey, token=token, errors=errors,
        typed=request.form,
    )  # fmt: skip


def _with_form_cookie(template: str, code: int, path: str, **values: Any) -> Response:
    """A page with a form: its CSRF token goes in the form and in a cookie only this
    page's address receives; a post must carry both, the same."""
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    body, code = page(template, code, csrf=csrf, **values)
    response = make_response(body, code)
    response.set_cookie(
        CSRF_COOKIE, csrf, httponly=True, samesite="Strict", secure=request.is_secure, path=path
    )
    return response


def _form_is_this_browsers() -> bool:
    sent, kept = request.form.get("csrf", ""), request.cookies.get(CSRF_COOKIE, "")
    return bool(kept) and hmac.compare_digest(sent, kept)


@bp.post("/survey/<token>")
def answer_survey(token: str) -> Response | tuple[str, int]:
    survey = backend().survey(token)
    if survey.status != 200:
        return _problem(survey)
    if not _form_is_this_browsers():
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
