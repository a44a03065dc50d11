"""The console's contact recording (issue 36): an agent on the phone or at the counter
records the contact as it happens. The screen pop's call fills in who it probably is,
when the call came in and how long the caller waited; a look-up by number, e-mail
address or name finds the customer's earlier requests and their details; the category's
own form follows; the contact is either solved during it (recorded, counted and surveyed
like any other request) or a ticket in fair order that keeps the customer's wait.

Its views are the console's (its sign-in, forms' tokens and headers): `console.bp`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Response, redirect, request

from services.common.events import isoformat, utcnow
from services.portal import forms
from services.portal.console import (
    _as_person,
    _problem,
    backend,
    bp,
    language,
    person_required,
    settings,
    workspace,
)
from services.portal.pages import idempotency_key
from services.portal.texts import DESK_TEXTS

CHANNELS = ("phone", "walk_in")
MAX_WAIT_MINUTES = 24 * 60
# What carries the contact from the look-up to the form and through its re-displays.
KEPT = ("call", "channel", "category", "name", "email", "phone", "language", "started_at",
        "waited")  # fmt: skip
FOUND_SHOWN = 10


@bp.get("/contact")
@person_required()
def contact_form() -> Response:
    kept = _kept(request.args)
    call = _call(kept["call"]) if kept["call"] else None
    if call is not None:
        kept = {**kept, **_from_call(call), **{k: v for k, v in kept.items() if v}}
    found: list[dict[str, Any]] | None = None
    wanted = request.args.get("find", "").strip()[:200]
    if len(wanted) >= 2:
        found = _look_up(wanted)
        if isinstance(found, Response):
            return found
    if request.args.get("details"):
        details = _details_of(request.args["details"])
        if details:
            kept.update({k: v for k, v in details.items() if v})
    return _page(kept, call, found, wanted, forms.Answers(_answers_of(kept)), {}, 200)


@bp.post("/contact")
@person_required()
def record_contact() -> Response:
    kept = _kept(request.form)
    call = _call(kept["call"]) if kept["call"] else None
    category = _category(kept["category"])
    if category is None:
        return _page(kept, call, None, "", forms.Answers({}), {"category": "err_choose"}, 422)
    questions = _questions(category)
    answers = forms.check(questions, request.form)
    outcome = request.form.get("outcome", "")
    resolution = request.form.get("resolution", "").strip()
    answers.values.update(outcome=outcome, resolution=resolution, waited=kept["waited"])
    extra = _checked_extra(outcome, resolution, kept["waited"])
    if answers.errors or extra:
        return _page(kept, call, None, "", answers, extra, 422)
    lang = kept["language"] or settings().default_language
    body = forms.request_body(questions, answers, category["id"], kept["channel"], lang)
    requester = body["requester"]
    requester["preferred_contact"] = (
        "email" if requester.get("email") else "phone" if requester.get("phone") else "none"
    )
    waited = round(float(kept["waited"].replace(",", ".")) * 60) if kept["waited"] else None
    if waited is not None:
        body["contact_wait_seconds"] = waited
    if kept["started_at"]:
        body["contact_started_at"] = kept["started_at"]
    elif waited:  # typed: the customer's place counts from when they began to wait
        body["contact_started_at"] = isoformat(utcnow() - timedelta(seconds=waited))
    if outcome == "solved":
        body.update(resolved_on_contact=True, resolution=resolution)
    sent = _as_person("intake", "POST", "/v1/requests", json=body,
                      headers={"Idempotency-Key": idempotency_key()})  # fmt: skip
    if sent.status == 201:
        done = "recorded_solved" if outcome == "solved" else "recorded_in_line"
        query = urlencode({"recorded": done, "reference": sent.body["reference"]})
        return redirect(f"/desk/?{query}", code=303)
    if sent.status == 422:
        fields = (sent.body.get("error") or {}).get("fields") or {}
        placed = forms.place_errors(questions, fields)
        answers.errors.update({name: key for name, key in placed.items() if name != "form"})
        refused = {"form": "err_refused"} if "form" in placed or not placed else {}
        if "contact_started_at" in fields or "contact_wait_seconds" in fields:
            refused = {"waited": "err_waited"}
        return _page(kept, call, None, "", answers, refused, 422)
    if sent.unavailable:
        return _page(kept, call, None, "", answers, {"form": "not_recorded"}, 503)
    return _problem(sent)


def _kept(source: Any) -> dict[str, str]:
    kept = {name: (source.get(name) or "").strip()[:254] for name in KEPT}
    if kept["channel"] not in CHANNELS:
        kept["channel"] = "phone"
    if kept["language"] not in DESK_TEXTS:
        kept["language"] = ""
    return kept


def _answers_of(kept: dict[str, str]) -> dict[str, str]:
    return {"name": kept["name"], "email": kept["email"], "phone": kept["phone"],
            "waited": kept["waited"]}  # fmt: skip


def _call(call_id: str) -> dict[str, Any] | None:
    """The signed-in agent's own call (intake shows an agent no one else's)."""
    calls = _as_person("intake", "GET", "/v1/calls")
    if calls.status != 200:
        return None
    return next((c for c in calls.body.get("calls", []) if c.get("call_id") == call_id), None)


def _from_call(call: dict[str, Any]) -> dict[str, str]:
    """Who it probably is, when the call came in and how long the caller waited."""
    caller = call.get("caller") or {}
    seconds = _call_wait_seconds(call)
    waited = f"{seconds / 60:.1f}".removesuffix(".0") if seconds is not None else ""
    return {
        "channel": "phone",
        "phone": call.get("from") or "",
        "name": caller.get("name") or "",
        "email": caller.get("email") or "",
        "language": caller.get("language") or "",
        "started_at": call["started_at"],
        "waited": waited,
    }


def _call_wait_seconds(call: dict[str, Any]) -> float | None:
    """How long the caller waited until an agent answered; None before an answer."""
    if not call.get("answered_at"):
        return None
    return max(0.0, (_moment(call["answered_at"]) - _moment(call["started_at"])).total_seconds())


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _look_up(wanted: str) -> list[dict[str, Any]] | Response:
    """The customer's requests by number or e-mail address (exactly), else by name."""
    digits = sum(c.isdigit() for c in wanted)
    key = "requester" if "@" in wanted or digits >= 6 else "q"
    found = _as_person("queue", "GET", "/v1/tickets", params={key: wanted, "limit": FOUND_SHOWN})
    if found.unavailable:
        return _problem(found)
    return found.body.get("tickets", []) if found.status == 200 else []


def _details_of(ticket_id: str) -> dict[str, str] | None:
    """The name, address, number and language of the customer of one found request."""
    shown = _as_person("queue", "GET", f"/v1/tickets/{ticket_id}")
    if shown.status != 200:
        return None
    requester = shown.body.get("requester") or {}
    return {k: requester.get(k) or "" for k in ("name", "email", "phone", "language")}


def _categories() -> list[dict[str, Any]]:
    catalogue = backend().catalogue(language())
    return catalogue.body.get("categories", []) if catalogue.status == 200 else []


def _category(category_id: str) -> dict[str, Any] | None:
    return next((c for c in _categories() if c.get("id") == category_id), None)


def _questions(category: dict[str, Any]) -> list[forms.Question]:
    return forms.request_questions(category, DESK_TEXTS[language()], email_required=False)


def _checked_extra(outcome: str, resolution: str, waited: str) -> dict[str, str]:
    errors = {}
    if outcome not in ("solved", "ticket"):
        errors["outcome"] = "err_outcome"
    elif outcome == "solved" and not resolution:
        errors["resolution"] = "err_resolution"
    if waited:
        try:
            minutes = float(waited.replace(",", "."))
        except ValueError:
            minutes = -1
        if not 0 <= minutes <= MAX_WAIT_MINUTES:
            errors["waited"] = "err_waited"
    return errors


def _page(
    kept: dict[str, str],
    call: dict[str, Any] | None,
    found: list[dict[str, Any]] | None,
    wanted: str,
    answers: forms.Answers,
    extra: dict[str, str],
    code: int,
) -> Response:
    texts = DESK_TEXTS[language()]
    category = _category(kept["category"]) if kept["category"] else None
    questions = _questions(category) if category else []
    errors = {**answers.errors, **extra}
    messages = forms.worded(questions, answers.errors, texts)
    messages.update({name: texts[key] for name, key in extra.items()})
    seconds = _call_wait_seconds(call) if call else None
    call_wait = None
    if seconds is not None:
        minutes, rest = divmod(round(seconds), 60)
        call_wait = f"{minutes} min {rest} s" if minutes else f"{rest} s"
    values = {**_answers_of(kept), **answers.values}
    return workspace(
        "desk/contact.html",
        code,
        kept=kept,
        call=call,
        call_wait=call_wait,
        found=found,
        wanted=wanted,
        categories=_categories(),
        category=category,
        questions=questions,
        values=values,
        errors=errors,
        messages=messages,
        form_id=idempotency_key(),
        channels=CHANNELS,
        looked_up=lambda ticket: urlencode(
            {**{k: v for k, v in kept.items() if v}, "details": ticket["id"]}
        ),
    )
