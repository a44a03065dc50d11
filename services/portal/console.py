"""The console under /desk/: agents, supervisors and admins sign in as people and work the
queue through the queue service's API, which the portal calls with its own key naming the
signed-in person (`X-Loket-On-Behalf-Of`). Server-rendered like the customer pages;
htmx (vendored) refreshes the queue overview while it is open, and a reload shows the
same without JavaScript."""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import wraps
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.units import format_unit
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
)
from limits import parse

from services.common.accounts import Account, AccountBook
from services.common.labels import Labels
from services.common.vocabulary import STATUSES
from services.portal import reports as report_tables
from services.portal.backend import Answer, Backend
from services.portal.counts import SharedCounts
from services.portal.pages import REFERENCE
from services.portal.parts import SHOWN, refreshed
from services.portal.sessions import Lifetimes, SessionStore, SessionStoreDown, session_store
from services.portal.settings import PortalSettings
from services.portal.texts import DESK_TEXTS

bp = Blueprint("desk", __name__, url_prefix="/desk")
log = logging.getLogger(__name__)
RANK = {"agent": 1, "supervisor": 2, "admin": 3}
BABEL_LOCALES = {"nl": "nl_NL", "en": "en_GB"}
# Ten wrong passwords for a name from one address lock that name's sign-in from that
# address for a quarter of an hour; an address gets fifty tries in that time, whatever the
# names it tries; and a name gets a hundred an hour from everywhere together (OWASP's
# authentication guidance: an attacker's failures must not lock the person out from
# their own place). Counted where the services count their rate limits
# (LOKET_RATE_LIMIT_STORAGE_URL): Redis shares the count between every portal process;
# memory:// keeps one per process (GUNICORN_WORKERS of them).
ACCOUNT_FAILURES = parse("10/15 minutes")
ADDRESS_FAILURES = parse("50/15 minutes")
NAME_FAILURES = parse("100/hour")
# The console's pages may load the vendored htmx from the portal itself, nothing else.
CONSOLE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def settings() -> PortalSettings:
    return current_app.extensions["portal.settings"]


def backend() -> Backend:
    return current_app.extensions["portal.backend"]


def accounts() -> AccountBook:
    return current_app.extensions["portal.accounts"]


def sessions() -> SessionStore:
    return current_app.extensions["portal.sessions"]


def failures() -> SharedCounts:
    return current_app.extensions["portal.counts"]


def install(app: Any) -> None:
    """The console's parts of the portal app: accounts, session cookie, sign-in limits."""
    s: PortalSettings = app.extensions["portal.settings"]
    app.extensions["portal.accounts"] = AccountBook(s.accounts_file)
    app.extensions["portal.counts"] = SharedCounts(s.sign_in_storage_url)
    app.extensions["portal.sessions"] = session_store(
        s.sign_in_storage_url,
        s.namespace,
        s.sessions_file,
        Lifetimes(idle_seconds=s.idle_minutes * 60, absolute_seconds=s.session_hours * 3600),
    )
    app.secret_key = s.secret_key or secrets.token_urlsafe(32)
    app.config.update(
        SESSION_COOKIE_NAME="loket_desk",
        SESSION_COOKIE_PATH="/desk",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=s.secure_cookies,
    )
    app.register_blueprint(bp)


# Who is signed in


def signed_in() -> Account | None:
    """The person of this session, while the session lives on the server (not signed out,
    not idle too long, not past its lifetime) and their account is enabled and unchanged
    since they signed in."""
    if "person" in g:
        return g.person
    g.person = None
    session_id = session.get("sid")
    if not session_id:
        return None
    now = time.time()
    kept = sessions().find(session_id, now)
    account = accounts().find(kept.person) if kept is not None else None
    if kept is None or account is None or account.changed_at.timestamp() > kept.since:
        if kept is not None:
            sessions().end(session_id)
        session.clear()
        return None
    # The overview's own refresh is not the person at work: an open page left alone still
    # ends its session after the idle time. Once a quarter minute is often enough.
    if not refreshing() and now - kept.seen > 15:
        sessions().touch(session_id, kept, now)
    g.person = account
    return g.person


@bp.errorhandler(SessionStoreDown)
def _sessions_unavailable(_error: SessionStoreDown) -> Response:
    """No session can be checked: the console waits for its store rather than let a
    signed-out cookie in."""
    log.warning("console sessions: the shared store does not answer")
    g.person = None
    return page("desk/message.html", 503, title="unavailable_title", body="unavailable_body")


def refreshing() -> bool:
    """A page's own refresh (htmx asking for the navigation, the list or the thread), not
    the person at work: it does not keep an idle session alive."""
    return request.endpoint == "desk.navigation" or request.headers.get("HX-Request") == "true"


def person_required(role: str = "agent") -> Callable:
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            person = signed_in()
            if person is None:
                if request.headers.get("HX-Request") == "true":
                    # A refresh of a page whose session ended: the whole page goes to
                    # sign-in, rather than the sign-in form inside the list.
                    return Response(status=204, headers={"HX-Redirect": "/desk/sign-in"})
                return redirect(f"/desk/sign-in?{urlencode({'next': request.full_path})}")
            if RANK[person.role] < RANK[role]:
                return page("desk/message.html", 403, title="forbidden_title",
                            body="forbidden_body")  # fmt: skip
            return view(*args, **kwargs)

        return wrapped

    return decorate


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


@bp.before_request
def _forms_are_this_sessions() -> Response | None:
    """Every form carries the session's token: another site cannot post in an agent's
    name (the cookie is SameSite=Strict too)."""
    if request.method == "POST":
        sent, kept = request.form.get("csrf", ""), session.get("csrf", "")
        if not kept or not hmac.compare_digest(sent, kept):
            return page("desk/message.html", 400, title="expired_title", body="expired_body")
    return None


@bp.after_request
def _console_headers(response: Response) -> Response:
    # A download keeps its own (a sandbox: nothing in it runs, were it ever shown).
    response.headers.setdefault("Content-Security-Policy", CONSOLE_POLICY)
    response.headers["Cache-Control"] = "no-store"
    return response


def language() -> str:
    """Chosen with the switch (and kept in the session), else the browser's, else the
    desk's default."""
    asked = request.args.get("lang")
    if asked in DESK_TEXTS:
        session["lang"] = asked
    kept = session.get("lang")
    if kept in DESK_TEXTS:
        return kept
    return request.accept_languages.best_match(tuple(DESK_TEXTS)) or settings().default_language


class Words:
    """The desk's labels in the page's language, as templates ask for them: a status,
    queue, channel, category, field or choice in people's words, never its key."""

    def __init__(self, labels: Labels, lang: str) -> None:
        self.labels, self.lang = labels, lang

    def status(self, key: str | None) -> str:
        return self.labels.status(key, self.lang)

    def channel(self, key: str | None) -> str:
        return self.labels.channel(key, self.lang)

    def queue(self, key: str | None) -> str:
        return self.labels.queue(key, self.lang)

    def category(self, key: str | None) -> str:
        return self.labels.category(key, self.lang)

    def field(self, category: str | None, name: str) -> str:
        return self.labels.field(category, name, self.lang)

    def value(self, category: str | None, name: str, value: Any) -> str:
        return self.labels.value(category, name, value, self.lang)

    def priority(self, number: int | None) -> str:
        return self.labels.priority(number, self.lang)

    def priority_meaning(self, number: int) -> str:
        return self.labels.priority_meaning(number, self.lang)

    def problem(self, problem: dict[str, Any]) -> str:
        """A problem's title; one the surge detection opened is named in these words, for
        its title is written by a machine in one language with the category's key."""
        if problem.get("detected") and problem.get("category"):
            surge = DESK_TEXTS[self.lang]["surge_about"]
            return surge.format(category=self.category(problem["category"]))
        return problem.get("title") or ""

    def kind(self, kind: str) -> str:
        return self.labels.history(kind, self.lang)


def page(template: str, code: int = 200, **values: Any) -> Response:
    lang = language()
    other = "en" if lang == "nl" else "nl"
    values.setdefault("nav", None)
    values.setdefault("workspace", False)
    body = render_template(
        template,
        t=DESK_TEXTS[lang],
        person=signed_in(),
        csrf=csrf_token(),
        lang=lang,
        words=Words(settings().labels, lang),
        switch=f"{request.path}?{urlencode({**request.args.to_dict(), 'lang': other})}",
        other_language=other,
        **values,
    )
    return make_response(body, code)


def fragment(template: str, code: int = 200, **values: Any) -> Response:
    """A part a page refreshes every few seconds (navigation, list, thread, board)."""
    return refreshed(page(template, code, shown=SHOWN, **values), code)


def workspace(template: str, code: int = 200, **values: Any) -> Response:
    """A page of the workspace: with the navigation column (queues, my tickets,
    call-backs and chats waiting) beside it."""
    return page(template, code, nav=_navigation(), workspace=True, **values)


def _navigation() -> dict[str, Any] | None:
    """What the navigation column shows; nothing when the queue service does not answer
    (the page itself says so, or works without it)."""
    overview = _as_person("queue", "GET", "/v1/queues", params={"lang": language()})
    if overview.status != 200:
        return None
    mine = _as_person(
        "queue", "GET", "/v1/tickets", params={"mine": "true", "open": "true", "limit": 200}
    )
    queues = overview.body.get("queues", [])
    # The screen pop: the calls this agent answered and is on now (intake shows an agent
    # their own); a phone system not linked, or intake not answering, shows none.
    calls = _as_person("intake", "GET", "/v1/calls", params={"state": "answered"})
    waiting = {
        channel: sum((q.get("waiting") or {}).get(channel, 0) for q in queues)
        for channel in ("callback", "chat", "walk_in")
    }
    return {
        "queues": queues,
        "mine": len(mine.body.get("tickets", [])) if mine.status == 200 else None,
        "waiting": waiting,
        "calls": calls.body.get("calls", [])[:2] if calls.status == 200 else [],
        "here": request.full_path.rstrip("?"),
    }


def _as_person(service: str, method: str, path: str, **kwargs: Any) -> Answer:
    person = signed_in()
    assert person is not None  # every caller is behind person_required
    return backend().as_person(person.name, service, method, path, **kwargs)


def _problem(answer: Answer) -> Response:
    if answer.unavailable:
        return page("desk/message.html", 503, title="unavailable_title", body="unavailable_body")
    if answer.status == 403:
        return page("desk/message.html", 403, title="forbidden_title", body="forbidden_body")
    return page("desk/message.html", 404, title="not_found_title", body="not_found_body")


# Signing in and out


@bp.get("/sign-in")
def sign_in_form() -> Response:
    if signed_in() is not None:
        return redirect("/desk/")
    return page("desk/sign_in.html", next=_safe_next(), error=None, name="")


def _safe_next() -> str:
    """Only a console path: a sign-in link must not send anyone to another site."""
    wanted = request.values.get("next", "/desk/")
    return wanted if wanted.startswith("/desk/") and not wanted.startswith("//") else "/desk/"


@bp.post("/sign-in")
def sign_in() -> Response:
    name = request.form.get("name", "").strip().lower()[:64]
    password = request.form.get("password", "")[:200]
    address = request.remote_addr or "unknown"
    limiter, namespace = failures(), settings().namespace
    counted = (
        (ACCOUNT_FAILURES, namespace, "account", name, address),
        (ADDRESS_FAILURES, namespace, "address", address),
        (NAME_FAILURES, namespace, "name", name),
    )
    if not all(limiter.allowed(*keys) for keys in counted):
        return page("desk/sign_in.html", 429, next=_safe_next(), error="locked", name=name)
    account = accounts().sign_in(name, password)
    if account is None:
        for keys in counted:
            limiter.hit(*keys)
        return page("desk/sign_in.html", 401, next=_safe_next(), error="wrong", name=name)
    if session.get("sid"):
        sessions().end(session["sid"])
    session.clear()  # a new session for a new sign-in: nothing carried over
    session_id = secrets.token_urlsafe(32)
    sessions().begin(session_id, account.name, time.time())
    session.update(sid=session_id, csrf=secrets.token_urlsafe(24))
    g.pop("person", None)
    return redirect(_safe_next(), code=303)


@bp.post("/sign-out")
def sign_out() -> Response:
    if session.get("sid"):
        sessions().end(session["sid"])
    session.clear()
    g.pop("person", None)
    return redirect("/desk/sign-in", code=303)


# The queues


SORTS = ("reference", "subject", "requester", "channel", "status", "priority", "due", "holder")
LIST_FILTERS = ("q", "status", "queue", "channel", "mine", "sort", "dir")
# How often an open page asks for what changed: the list, the thread, the navigation.
REFRESH_SECONDS = 10
# The channels in the order the console lists them.
CHANNEL_ORDER = ("web", "email", "phone", "chat", "walk_in", "callback")
LIST_LIMIT = 200


@bp.get("/")
@person_required()
def tickets() -> Response:
    """The list: open tickets in fair order by default, narrowed by the filters and sorted
    by a column, every choice kept in the URL (a view to bookmark or send a colleague)."""
    chosen = {name: request.args.get(name, "").strip()[:200] for name in LIST_FILTERS}
    if "status" not in request.args:
        chosen["status"] = "open"
    params: dict[str, Any] = {"limit": LIST_LIMIT}
    if chosen["status"] == "open":
        params["open"] = "true"
    elif chosen["status"]:
        params["status"] = chosen["status"]
    for name in ("queue", "channel"):
        if chosen[name]:
            params[name] = chosen[name]
    if chosen["mine"]:
        params["mine"] = "true"
    wanted = chosen["q"]
    if len(wanted) >= 2:
        digits = sum(c.isdigit() for c in wanted)
        params["requester" if "@" in wanted or digits >= 6 else "q"] = wanted
    found = _as_person("queue", "GET", "/v1/tickets", params=params)
    code, listed, more = 200, [], False
    if found.status == 422:
        code = 422
    elif found.status != 200:
        return _problem(found)
    else:
        listed = _sorted(found.body.get("tickets", []), chosen["sort"], chosen["dir"] == "desc")
        more = found.body.get("next_cursor") is not None
    now = datetime.now(UTC)
    show = fragment if request.args.get("part") == "list" else workspace
    return show(
        "desk/_list.html" if request.args.get("part") == "list" else "desk/tickets.html",
        code,
        tickets=listed,
        more=more,
        chosen=chosen,
        clock=lambda ticket: sla_clock(ticket, now),
        local=_desk_local(),
        sort_link=lambda column: _sort_link(chosen, column),
        list_url="/desk/?"
        + urlencode({**{k: v for k, v in chosen.items() if v or k == "status"}, "part": "list"}),
        refresh=REFRESH_SECONDS,
        here_queue=chosen["queue"],
        empty=request.args.get("empty"),
        recorded=_recorded(),
        queue_ids=[queue["id"] for queue in _queue_names()],
        statuses=STATUSES,
    )


def _recorded() -> str | None:
    """After a contact was recorded (services/portal/contacts.py): what became of it."""
    done, reference = request.args.get("recorded"), request.args.get("reference", "")
    if done not in ("recorded_solved", "recorded_in_line") or not REFERENCE.fullmatch(reference):
        return None
    return DESK_TEXTS[language()][done].format(reference=reference)


def _sorted(tickets: list[dict[str, Any]], column: str, descending: bool) -> list[dict[str, Any]]:
    """The page sorted by one column; without one, as the queue gave it: fair order."""
    if column not in SORTS:
        return tickets
    lang = language()
    labels = settings().labels
    keys: dict[str, Callable[[dict[str, Any]], Any]] = {
        "reference": lambda t: t["reference"],
        "subject": lambda t: (t.get("subject") or "").casefold(),
        "requester": lambda t: (t.get("requester_name") or "").casefold(),
        "channel": lambda t: labels.channel(t.get("channel"), lang).casefold(),
        "status": lambda t: STATUSES.index(t["status"]) if t["status"] in STATUSES else 99,
        "priority": lambda t: t.get("priority") or 9,
        "due": lambda t: sla_clock(t, datetime.now(UTC)).get("due_at") or "~",
        "holder": lambda t: (t.get("assigned_to") or "~").casefold(),
    }
    return sorted(tickets, key=keys[column], reverse=descending)


def _sort_link(chosen: dict[str, str], column: str) -> str:
    """The list sorted by `column`; the sorted column's link turns the order around."""
    again = chosen["sort"] == column and chosen["dir"] != "desc"
    kept = {k: v for k, v in chosen.items() if v and k not in ("sort", "dir")}
    if "status" not in kept:
        kept["status"] = ""
    return "/desk/?" + urlencode({**kept, "sort": column, **({"dir": "desc"} if again else {})})


def sla_clock(ticket: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The clock that runs now: the first response until the ticket is first taken, then
    the resolution; `warning` once less than a quarter of its time is left, `breached`
    after its due time. Nothing runs for a ticket that is finished."""
    if ticket.get("status") in ("resolved", "closed", "cancelled"):
        return {}
    which = "resolution" if ticket.get("first_claimed_at") else "first_response"
    due_text = ticket.get("resolution_due_at" if which == "resolution" else "due_at")
    started_text = ticket.get("contact_started_at") or ticket.get("created_at")
    if not due_text or not started_text:
        return {}
    due, started = _moment(due_text), _moment(started_text)
    left = (due - now).total_seconds()
    span = max(60.0, (due - started).total_seconds())
    state = "breached" if left < 0 else "warning" if left < span / 4 else "ok"
    return {"which": which, "due_at": due_text, "left": _span(abs(left)), "state": state}


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _span(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes >= 48 * 60:
        return f"{minutes // (24 * 60)} d {minutes % (24 * 60) // 60} h"
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


@bp.get("/nav")
@person_required()
def navigation() -> Response:
    """The navigation column alone, which htmx asks for every few seconds."""
    return fragment("desk/_nav.html", nav=_navigation())


@bp.post("/next")
@person_required()
def take_next() -> Response:
    """The next ticket in fair order for the chosen queue."""
    queue = request.form.get("queue", "")
    taken = _as_person("queue", "POST", f"/v1/queues/{quote(queue, safe='')}/next")
    if taken.status == 204:
        return redirect(f"/desk/?{urlencode({'empty': queue})}", code=303)
    if taken.status != 200:
        return _problem(taken)
    return redirect(f"/desk/tickets/{taken.body['id']}", code=303)


# The counter

COUNTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,31}")
NO_SHOWS_SHOWN = timedelta(hours=8)


def _chosen_counter() -> tuple[str, str] | None:
    """The counter and queue this agent works at: chosen once, kept in their session."""
    at, queue = request.args.get("at", "").strip(), request.args.get("queue", "")
    if at or queue:
        if COUNTER_NAME.fullmatch(at) and queue in dict(settings().queues):
            session["counter"] = [at, queue]
            return at, queue
        return None
    kept = session.get("counter")
    return (kept[0], kept[1]) if kept else None


@bp.get("/counter")
@person_required()
def counter() -> Response:
    """The counter: who is called here, who waits present in fair order, who did not
    come; call next, call again, did not come, start serving."""
    chosen = _chosen_counter()
    if chosen is None:
        asked = bool(request.args)
        code = 422 if asked else 200
        return workspace("desk/counter.html", code, chosen=None, wrong=asked, queues=_queue_names())
    outcome = {name: request.args.get(name) for name in ("done", "refused")}
    rules = {
        "calls_before_no_show": settings().calls_before_no_show,
        "seconds_between_calls": settings().seconds_between_calls,
    }
    line = _counter_line(*chosen)
    return workspace(
        "desk/counter.html", chosen=chosen, line=line, local=_desk_local(), **outcome, **rules
    )


@bp.get("/counter/line")
@person_required()
def counter_line() -> Response:
    """The counter's line alone, which htmx asks for every few seconds."""
    chosen = _chosen_counter()
    if chosen is None:
        abort(404)
    line = _counter_line(*chosen)
    return fragment("desk/_counter_line.html", chosen=chosen, line=line, local=_desk_local())


def _desk_local() -> Callable[[str | None], str]:
    zone = _zone()
    return lambda at: _local(at, zone)


def _counter_line(at: str, queue: str) -> dict[str, Any] | None:
    walk_ins = {"queue": queue, "channel": "walk_in", "limit": 200}
    waiting = _as_person("queue", "GET", "/v1/tickets", params={**walk_ins, "status": "queued"})
    if waiting.status != 200:
        return None
    # Who did not come, in the last hours: those who may still turn up and ask.
    since = (datetime.now(UTC) - NO_SHOWS_SHOWN).isoformat()
    gone = _as_person("queue", "GET", "/v1/tickets", params={**walk_ins, "no_show_since": since})
    rows = waiting.body.get("tickets", [])
    return {
        "here": next((r for r in rows if r.get("counter") == at and r.get("called_at")), None),
        "present": [r for r in rows if not r.get("called_at")],
        "elsewhere": [r for r in rows if r.get("called_at") and r.get("counter") != at],
        "no_shows": gone.body.get("tickets", []) if gone.status == 200 else [],
    }


def _back_to_counter(**outcome: str) -> Response:
    return redirect(f"/desk/counter?{urlencode(outcome)}", code=303)


@bp.post("/counter/<action>")
@person_required()
def counter_act(action: str) -> Response:
    """Call next, call again, record a no-show, put one back, or start serving."""
    chosen = session.get("counter")
    if not chosen or action not in ("call", "recall", "no-show", "reactivate", "serve"):
        abort(404)
    at, queue = chosen
    ticket = quote(request.form.get("ticket", ""), safe="")
    if action == "call":
        done = _as_person("queue", "POST", f"/v1/counters/{quote(at)}/call", json={"queue": queue})
        if done.status == 204:
            return _back_to_counter(done="nobody")
    elif action == "recall":
        done = _as_person("queue", "POST", f"/v1/counters/{quote(at)}/recall")
    elif action == "no-show":
        done = _as_person("queue", "POST", f"/v1/tickets/{ticket}/no-show")
        if done.status == 409:
            return _back_to_counter(refused="no_show")
    elif action == "reactivate":
        reason = request.form.get("reason", "").strip()
        done = _as_person(
            "queue", "POST", f"/v1/tickets/{ticket}/reactivate", json={"reason": reason}
        )
        if done.status == 422:
            return _back_to_counter(refused="put_back_reason")
    else:
        served = {"reason": f"served at counter {at}"}
        done = _as_person("queue", "POST", f"/v1/tickets/{ticket}/claim", json=served)
        if done.status == 200:
            return redirect(f"/desk/tickets/{done.body['id']}", code=303)
    if done.status != 200:
        return _problem(done)
    return _back_to_counter(done=action)


@bp.get("/find")
@person_required()
def find() -> Response:
    """By reference (as a customer quotes it on the phone or at the counter) straight to
    the ticket; anything else is the list with those filters."""
    wanted = request.args.get("q", "").strip()[:200]
    if REFERENCE.fullmatch(wanted.upper()):
        return redirect(f"/desk/tickets/{wanted.upper()}", code=303)
    kept = {k: v for k, v in request.args.items() if k in LIST_FILTERS}
    kept.setdefault("status", "")  # found among every status unless narrowed
    return redirect(f"/desk/?{urlencode(kept)}", code=303)


# One ticket


@bp.get("/tickets/<ticket_id>")
@person_required()
def ticket(ticket_id: str) -> Response:
    return _ticket_page(ticket_id, errors={})


@bp.get("/attachments/<attachment_id>")
@person_required()
def attachment(attachment_id: str) -> Response:
    """A file an e-mail carried, from intake, only ever as a download."""
    found = backend().download(signed_in().name, f"/v1/attachments/{quote(attachment_id, safe='')}")
    if found.status != 200:
        return _problem(Answer(found.status, {}))
    response = make_response(found.content)
    response.headers["Content-Type"] = found.content_type
    response.headers["Content-Disposition"] = found.disposition
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


@bp.get("/tickets/<ticket_id>/thread")
@person_required()
def thread_part(ticket_id: str) -> Response:
    """The conversation alone, as it is now, which the open ticket asks for every few
    seconds; it says so when the ticket changed since the page was loaded (`seen`)."""
    found = _as_person("queue", "GET", f"/v1/tickets/{quote(ticket_id, safe='')}")
    if found.status != 200:
        return _problem(found)
    zone = _zone()
    seen = request.args.get("seen", "")
    return fragment(
        "desk/_thread.html",
        ticket=found.body,
        thread=thread(found.body),
        local=lambda at: _local(at, zone),
        changed=seen != str(found.body.get("version")),
        seen=seen,
    )


def _ticket_page(
    ticket_id: str,
    errors: dict[str, str],
    code: int = 200,
    typed: dict[str, dict[str, str]] | None = None,
    inserting: Callable[[dict[str, Any]], dict[str, dict[str, str]]] | None = None,
) -> Response:
    """The ticket as it is now; `inserting` makes what the reply box holds from it (a
    prepared answer filled in for this ticket)."""
    found = _as_person("queue", "GET", f"/v1/tickets/{quote(ticket_id, safe='')}")
    if found.status != 200:
        return _problem(found)
    ticket = found.body
    if inserting is not None:
        typed = inserting(ticket)
    zone = _zone()
    problems: list[dict[str, Any]] = []
    if RANK[signed_in().role] >= RANK["supervisor"]:
        open_problems = _as_person("feedback", "GET", "/v1/problems", params={"status": "open"})
        problems = open_problems.body.get("problems", []) if open_problems.status == 200 else []
    now = datetime.now(UTC)
    return workspace(
        "desk/ticket.html",
        code,
        ticket=ticket,
        thread=thread(ticket),
        clock=sla_clock(ticket, now),
        errors=errors,
        zone=zone,
        problems=problems,
        local=lambda at: _local(at, zone),
        size=lambda n: file_size(n, BABEL_LOCALES[language()]),
        waited=_waited(ticket),
        queues=_queue_names(),
        notice=request.args.get("done"),
        mine=ticket.get("assigned_to") == signed_in().name,
        typed=_kept(typed or {}),
        statuses=STATUSES,
        answers=_prepared_answers(ticket),
        here_queue=ticket["queue"],
        articles=_articles_for(ticket),
    )


def _prepared_answers(ticket: dict[str, Any]) -> list[dict[str, Any]]:
    """The answers that fit this ticket's queue and category; none when feedback does not
    answer (the reply box still works)."""
    where = {"queue": ticket["queue"], "category": ticket["category"]}
    fitting = _as_person("feedback", "GET", "/v1/answers", params=where)
    return fitting.body.get("answers", []) if fitting.status == 200 else []


def _articles_for(ticket: dict[str, Any]) -> list[dict[str, Any]]:
    """Knowledge articles to point the customer to: in their language, this category's
    first, then those of no category."""
    wanted = {"lang": _requester_language(ticket), "limit": 200}
    listed = _as_person("feedback", "GET", "/v1/knowledge/articles", params=wanted)
    articles = listed.body.get("articles", []) if listed.status == 200 else []
    fitting = [a for a in articles if a.get("category") in (ticket.get("category"), None)]
    return sorted(fitting, key=lambda a: (a.get("category") is None, a["title"].casefold()))


def _requester_language(ticket: dict[str, Any]) -> str:
    asked = (ticket.get("requester") or {}).get("language")
    return asked if asked in DESK_TEXTS else settings().default_language


def filled(text: str, ticket: dict[str, Any], agent: str) -> str:
    """A prepared answer for this ticket: its placeholders replaced, nothing else touched
    (braces the customer's name may hold are not read as placeholders again)."""
    values = {
        "name": (ticket.get("requester") or {}).get("name") or "",
        "reference": ticket.get("reference", ""),
        "agent": agent,
    }
    return re.sub(r"\{(name|reference|agent)\}", lambda m: values[m.group(1)], text)


@bp.post("/tickets/<ticket_id>/insert")
@person_required()
def insert(ticket_id: str) -> Response:
    """Put a prepared answer, or a knowledge article's link, into the reply box, after
    what is typed there; nothing is sent. A form's button, so it works without script."""
    form = request.form.to_dict()
    person = signed_in().name

    def reply_box(ticket: dict[str, Any]) -> dict[str, dict[str, str]]:
        language = _requester_language(ticket)
        added = ""
        if form.get("insert") == "answer":
            answer_id = quote(form.get("answer", ""), safe="")
            chosen = _as_person("feedback", "GET", f"/v1/answers/{answer_id}")
            if chosen.status == 200:
                other = "en" if language == "nl" else "nl"
                text = chosen.body.get(f"text_{language}") or chosen.body.get(f"text_{other}")
                added = filled(text or "", ticket, person)
        elif form.get("insert") == "article":
            article_id = quote(form.get("article", ""), safe="")
            chosen = _as_person("feedback", "GET", f"/v1/knowledge/articles/{article_id}")
            if chosen.status == 200:
                link = f"{settings().public_base_url.rstrip('/')}/help/{chosen.body['id']}"
                added = f"{chosen.body['title']}: {link}"
        typed = form.get("message", "").rstrip()
        message = f"{typed}\n\n{added}" if typed and added else typed or added
        return {"reply": {**form, "message": message[:5000]}}

    return _ticket_page(ticket_id, {}, inserting=reply_box)


# What the queue writes into a ticket's history for its own changes, read back into parts
# the thread shows in the page's language.
DELIVERY = re.compile(
    r"(?P<medium>\w+) to (?P<recipient>.+?): (?P<template>[\w-]+) "
    r"\((?P<outcome>sent|failed), attempt (?P<attempt>\d+)(?:: (?P<error>.*))?\)",
    re.DOTALL,
)
PRIORITY_CHANGE = re.compile(r"priority (?P<old>\d) -> (?P<new>\d): (?P<reason>.*)", re.DOTALL)
TAKEN_OVER = re.compile(r"taken over from (?P<holder>[^:]+): (?P<reason>.*)", re.DOTALL)


def thread(ticket: dict[str, Any]) -> list[dict[str, Any]]:
    """The ticket's history as a conversation: the customer's words, the agents' replies
    and notes, and what happened to the ticket as small events between them. A message
    sent to the customer is not a line of its own: it is a delivered or failed mark on
    the entry it told the customer about (the latest before it that is not a note)."""
    items: list[dict[str, Any]] = [
        {
            "kind": "created",
            "type": "customer",
            "at": ticket.get("created_at"),
            "actor": (ticket.get("requester") or {}).get("name"),
            "text": ticket.get("description") or "",
            "deliveries": [],
        }
    ]

    def add(item: dict[str, Any]) -> None:
        items.append({**item, "deliveries": []})  # a list of its own: marks are per item

    for entry in ticket.get("history", []):
        kind, at, actor = entry.get("kind", ""), entry.get("at"), entry.get("actor")
        note, public = entry.get("internal_note"), entry.get("public_message")
        if kind.startswith("notification_"):
            delivery = DELIVERY.fullmatch(note or "")
            told = next(item for item in reversed(items) if item["type"] != "note")
            told["deliveries"].append(
                delivery.groupdict() if delivery else {"outcome": kind[13:], "error": note}
            )
            continue
        base = {
            "kind": kind,
            "at": at,
            "actor": actor,
            "status": entry.get("status"),
        }
        if kind == "created":
            items[0]["at"] = at  # the description, already first
            continue
        if kind == "customer_replied":
            add({**base, "type": "customer", "text": note or ""})
            continue
        if kind in ("message", "note"):
            add(
                {
                    **base,
                    "type": "reply" if kind == "message" else "note",
                    "text": public if kind == "message" else note,
                }
            )
            continue
        event = {**base, "type": "event"}
        if kind == "priority" and (changed := PRIORITY_CHANGE.fullmatch(note or "")):
            event.update(old=int(changed["old"]), new=int(changed["new"]))
            note = changed["reason"]
        elif kind == "taken_over" and (over := TAKEN_OVER.fullmatch(note or "")):
            event.update(holder=over["holder"])
            note = over["reason"]
        add(event)
        # An agent's own words to the customer: a reply; the desk's standard sentences
        # for queued, taken and transferred are what the status page says, not a reply.
        if kind in ("status", "resolved_on_contact") and public:
            add({**base, "type": "reply", "text": public})
        if note and kind not in ("resolved_on_contact",):
            add({**base, "type": "note", "text": note})
    return items


def _kept(typed: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """What was typed into each of the ticket's forms, shown again after a refusal."""
    return {action: dict(typed.get(action, {})) for action in ACTIONS}


ACTIONS = ("claim", "reply", "status", "priority", "transfer", "callback")
# The reply box's second half: the status the ticket takes with the message, in one change.
REPLY_THEN = ("waiting_on_customer", "resolved")


def _endpoint(action: str, form: Any) -> str:
    """The queue API's change a form makes: the reply box writes a message, or changes the
    status with the message as its note when a status is chosen with it."""
    if action == "reply":
        return "status" if form.get("then") in REPLY_THEN else "messages"
    if action == "callback":
        return "callback-attempts"
    return action


def _action_body(action: str, form: Any) -> dict[str, Any]:
    """The queue API's body for one of the ticket page's forms."""
    text = {name: form.get(name, "").strip() for name in form}
    if action == "claim":
        return {"reason": text.get("reason", "")}
    if action == "reply":
        message, public = text.get("message", ""), text.get("to") == "customer"
        if text.get("then") not in REPLY_THEN:
            return {"message": message, "public": public}
        said = {"public_note" if public else "internal_note": message} if message else {}
        return {"to": text["then"], **said}
    if action == "status":
        body: dict[str, Any] = {"to": text.get("to", "")}
        for note in ("public_note", "internal_note"):
            if text.get(note):
                body[note] = text[note]
        return body
    if action == "priority":
        priority = text.get("priority", "")
        # isdigit() alone takes "²", which int() does not (a 500, found by an outside tester).
        given = int(priority) if priority.isascii() and priority.isdigit() else 0
        return {"priority": given, "reason": text.get("reason", "")}
    if action == "callback":
        called: dict[str, Any] = {"outcome": text.get("outcome", "")}
        if text.get("note"):
            called["note"] = text["note"]
        return called
    return {"to_queue": text.get("to_queue", ""), "note": text.get("note", "")}


def _if_match(form: Any) -> dict[str, str]:
    """The version of the ticket the agent was looking at: the queue refuses (412) a change
    made on a view a colleague has since changed. Anything but a counter is no version."""
    version = form.get("version", "")
    counter = version.isascii() and version.isdigit() and len(version) <= 20
    return {"If-Match": f'"{version}"'} if counter else {}


@bp.post("/tickets/<ticket_id>/<action>")
@person_required()
def act(ticket_id: str, action: str) -> Response:
    """Claim (out of order, with a reason), change status, priority or queue: the queue
    service's rules apply, and its refusals are shown on the ticket."""
    if action not in ACTIONS:
        abort(404)
    body = _action_body(action, request.form)
    endpoint = _endpoint(action, request.form)
    done = _as_person(
        "queue",
        "POST",
        f"/v1/tickets/{quote(ticket_id, safe='')}/{endpoint}",
        json=body,
        headers=_if_match(request.form),
    )
    if done.status == 200:
        notice = f"reply_{body['to']}" if action == "reply" and endpoint == "status" else action
        return redirect(f"/desk/tickets/{ticket_id}?{urlencode({'done': notice})}", code=303)
    if done.unavailable:
        return _problem(done)
    typed = {action: request.form.to_dict()}
    if done.status == 412:
        return _ticket_page(ticket_id, {action: "changed_meanwhile"}, 409, typed)
    code = 422 if done.status == 422 else 409
    return _ticket_page(ticket_id, {action: _refusal(action, done)}, code, typed)


def _refusal(action: str, answer: Answer) -> str:
    """Why the queue refused, in the page's language: the fields it names, or what the
    state of the ticket does not allow for this action."""
    texts = DESK_TEXTS[language()]
    if answer.status == 422:
        named = (answer.body.get("error") or {}).get("fields") or {}
        shown = [texts.get(f"field_{name}", texts["field_other"]) for name in named]
        return texts["refused_fields"].format(fields=", ".join(dict.fromkeys(shown)))
    if answer.status == 403:
        return texts["refused_not_holder"]
    return texts[f"refused_{action}"]


# The supervisor's page


@bp.get("/reports")
@person_required("supervisor")
def reports() -> Response:
    """Service levels per priority, queue and channel; satisfaction per channel, queue,
    agent and day; contact reasons per category and channel with their trend; waits over
    the day; open problems; tickets flagged for a supervisor. Each chart is drawn on the
    server (SVG) with its numbers in the table beside it, and every table downloads as
    CSV for the period chosen."""
    days = _report_days()
    tables = _report_tables(days)
    if isinstance(tables, Answer):
        return _problem(tables)
    problems = _as_person("feedback", "GET", "/v1/problems", params={"status": "open"})
    flagged = _as_person("queue", "GET", "/v1/tickets", params={"flagged": "true", "limit": 50})
    waits = _as_person("queue", "GET", "/v1/reports/waits")
    for answer in (problems, flagged, waits):
        if answer.status != 200:
            return _problem(answer)
    shown = _waits_by_channel(waits.body)
    words, texts = Words(settings().labels, language()), DESK_TEXTS[language()]
    numbers = report_tables.Numbers(BABEL_LOCALES[language()], texts)
    return workspace(
        "desk/reports.html",
        days=days,
        tables=tables,
        waits=shown,
        waits_table=report_tables.waits_table(shown, words.channel, texts, numbers),
        problems=problems.body.get("problems", []),
        flagged=flagged.body.get("tickets", []),
        notice=request.args.get("done"),
        errors={},
    )


@bp.get("/board")
@person_required("supervisor")
def board() -> Response:
    """The wallboard: waiting per queue and channel with the longest wait, the tickets
    about to break (or past) their running target, and who works what; it refreshes
    itself (`part=board`) like the list."""
    overview = _as_person("queue", "GET", "/v1/queues", params={"lang": language()})
    tickets = _as_person("queue", "GET", "/v1/reports/board")
    for answer in (overview, tickets):
        if answer.status != 200:
            return _problem(answer)
    queues = overview.body.get("queues", [])
    channels = [c for c in CHANNEL_ORDER if any(q["waiting"].get(c) for q in queues)]
    zone = _zone()
    values = {
        "queues": queues,
        "channels": channels,
        "at_risk": tickets.body.get("at_risk", []),
        "agents": tickets.body.get("agents", []),
        "local": lambda at: _local(at, zone)[-5:],
        "refresh": REFRESH_SECONDS,
    }
    if request.args.get("part") == "board":
        return fragment("desk/_board.html", **values)
    return workspace("desk/board.html", **values)


@bp.get("/reports/<name>.csv")
@person_required("supervisor")
def report_csv(name: str) -> Response:
    """One of the page's tables, for the same period, as the spreadsheet's rows."""
    days = _report_days()
    if name == "waits-over-the-day":
        waits = _as_person("queue", "GET", "/v1/reports/waits")
        if waits.status != 200:
            return _problem(waits)
        words, texts = Words(settings().labels, language()), DESK_TEXTS[language()]
        numbers = report_tables.Numbers(BABEL_LOCALES[language()], texts)
        shown = report_tables.waits_table(
            _waits_by_channel(waits.body), words.channel, texts, numbers
        )
        found = {"waits-over-the-day": shown}
    else:
        tables = _report_tables(days)
        if isinstance(tables, Answer):
            return _problem(tables)
        found = {table.name: table for section in tables.values() for table in section}
    if name not in found:
        abort(404)
    response = make_response(report_tables.as_csv(found[name]))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    filename = f"{name}-{days}d-{datetime.now(UTC).date().isoformat()}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _report_days() -> int:
    period = request.args.get("days", "7")
    return int(period) if period in ("1", "7", "30") else 7


def _report_tables(days: int) -> dict[str, list[report_tables.Table]] | Answer:
    """The period's tables per section, or the first answer that failed."""
    period = {"since": (datetime.now(UTC) - timedelta(days=days)).isoformat()}
    asked = {
        "service_levels": _as_person("queue", "GET", "/v1/reports/service-levels", params=period),
        **{
            f"csat_{group}": _as_person(
                "feedback", "GET", "/v1/reports/csat", params={"group_by": group, **period}
            )
            for group in ("channel", "queue", "agent", "day")
        },
        "calls": _as_person("intake", "GET", "/v1/reports/calls", params=period),
        **{
            f"reasons_{group}": _as_person(
                "feedback",
                "GET",
                "/v1/reports/contact-reasons",
                params={"group_by": group, **period},
            )
            for group in ("category", "channel")
        },
    }
    for answer in asked.values():
        if answer.status != 200:
            return answer
    lang = language()
    words, texts = Words(settings().labels, lang), DESK_TEXTS[lang]
    numbers = report_tables.Numbers(BABEL_LOCALES[lang], texts)
    label = {
        "priority": lambda key: words.priority(int(key)),
        "queue": words.queue,
        "channel": words.channel,
        "category": words.category,
        "agent": lambda key: key or "-",
        "day": lambda key: format_date(date.fromisoformat(key), "EEE d MMM", locale=numbers.locale),
    }
    return {
        "service_levels": report_tables.service_level_tables(
            asked["service_levels"].body, label, texts, numbers
        ),
        "csat": [
            report_tables.csat_table(
                group, asked[f"csat_{group}"].body.get("groups", []), label[group], texts, numbers
            )
            for group in ("channel", "queue", "agent", "day")
        ],
        "reasons": [
            report_tables.reasons_table(
                group,
                asked[f"reasons_{group}"].body.get("groups", []),
                label[group],
                texts,
                numbers,
            )
            for group in ("category", "channel")
        ],
        "calls": [report_tables.calls_table(asked["calls"].body, label["day"], texts, numbers)],
    }


def _waits_by_channel(report: dict[str, Any]) -> dict[str, Any]:
    """The day's mean waits as one line per channel over the hours, for the chart and
    the table beside it."""
    hours = report.get("hours", [])
    channels = sorted({h["channel"] for h in hours})
    by = {(h["hour"], h["channel"]): h for h in hours}
    top = max((h["mean_wait_seconds"] for h in hours), default=0) / 60 or 1

    def point(hour: int, channel: str) -> str:
        minutes = by[(hour, channel)]["mean_wait_seconds"] / 60
        return f"{40 + 12 * hour},{170 - 150 * minutes / top:.1f}"

    lines = {
        channel: " ".join(point(hour, channel) for hour in range(24) if (hour, channel) in by)
        for channel in channels
    }
    return {"date": report.get("date"), "timezone": report.get("timezone"),
            "channels": channels, "by": by, "lines": lines, "top_minutes": round(top, 1),
            "active_hours": sorted({h["hour"] for h in hours})}  # fmt: skip


@bp.post("/problems/<problem_id>/resolve")
@person_required("supervisor")
def resolve_problem(problem_id: str) -> Response:
    """One message to every linked customer: feedback resolves the problem, the queue
    resolves its tickets, notify tells each customer once."""
    resolution = request.form.get("resolution", "").strip()
    done = _as_person("feedback", "POST", f"/v1/problems/{quote(problem_id, safe='')}/resolve",
                      json={"resolution": resolution})  # fmt: skip
    if done.status == 200:
        return redirect("/desk/reports?done=problem", code=303)
    if done.unavailable:
        return _problem(done)
    return page("desk/message.html", 422, title="problem_title", body="problem_body")


# Knowledge articles, one knowledge base for customers and agents (supervisors write it)

ARTICLE_FIELDS = ("title", "body", "language", "tags", "category")


@bp.get("/knowledge")
@person_required("supervisor")
def knowledge() -> Response:
    listed = _as_person("feedback", "GET", "/v1/knowledge/articles", params={"limit": 200})
    if listed.status != 200:
        return _problem(listed)
    return workspace("desk/knowledge.html", articles=listed.body.get("articles", []),
                notice=request.args.get("done"))  # fmt: skip


@bp.get("/knowledge/new")
@bp.get("/knowledge/<article_id>")
@person_required("supervisor")
def article_form(article_id: str | None = None) -> Response:
    article: dict[str, Any] = {"language": "nl", "tags": []}
    if article_id is not None:
        found = _as_person("feedback", "GET", f"/v1/knowledge/articles/{quote(article_id)}")
        if found.status != 200:
            return _problem(found)
        article = found.body
    return workspace("desk/article.html", article=article, errors={}, categories=_categories())


@bp.post("/knowledge/new")
@bp.post("/knowledge/<article_id>")
@person_required("supervisor")
def save_article(article_id: str | None = None) -> Response:
    """Write or rewrite an article (or remove it); feedback checks it, and its refusals
    are shown at the fields they concern."""
    if article_id is not None and request.form.get("remove") == "1":
        gone = _as_person("feedback", "DELETE", f"/v1/knowledge/articles/{quote(article_id)}")
        if gone.status not in (200, 204):
            return _problem(gone)
        return redirect("/desk/knowledge?done=removed", code=303)
    form = {name: request.form.get(name, "").strip() for name in ARTICLE_FIELDS}
    body: dict[str, Any] = {
        **{k: form[k] for k in ("title", "body", "language")},
        "tags": [t.strip() for t in form["tags"].split(",") if t.strip()],
        "category": form["category"] or None,
    }
    if article_id is None:
        saved = _as_person("feedback", "POST", "/v1/knowledge/articles", json=body)
    else:
        saved = _as_person("feedback", "PUT", f"/v1/knowledge/articles/{quote(article_id)}",
                           json=body)  # fmt: skip
    if saved.status in (200, 201):
        return redirect("/desk/knowledge?done=saved", code=303)
    if saved.unavailable:
        return _problem(saved)
    fields = (saved.body.get("error") or {}).get("fields") or {"form": ["Refused."]}
    errors = {name: f"{name}: {' '.join(messages)}" for name, messages in fields.items()}
    return workspace(
        "desk/article.html",
        422,
        article={**body, "id": article_id},
        errors=errors,
        categories=_categories(),
    )


# Prepared answers (supervisors write them; every agent inserts them in the reply box)

ANSWER_FIELDS = ("title", "queue", "category", "text_nl", "text_en")


@bp.get("/answers")
@person_required("supervisor")
def answers() -> Response:
    listed = _as_person("feedback", "GET", "/v1/answers")
    if listed.status != 200:
        return _problem(listed)
    listed_answers = listed.body.get("answers", [])
    return workspace("desk/answers.html", answers=listed_answers, notice=request.args.get("done"))


@bp.get("/answers/new")
@bp.get("/answers/<answer_id>")
@person_required("supervisor")
def answer_form(answer_id: str | None = None) -> Response:
    answer: dict[str, Any] = {}
    if answer_id is not None:
        found = _as_person("feedback", "GET", f"/v1/answers/{quote(answer_id, safe='')}")
        if found.status != 200:
            return _problem(found)
        answer = found.body
    return _answer_page(answer, {})


def _answer_page(answer: dict[str, Any], errors: dict[str, str], code: int = 200) -> Response:
    queue_ids = [queue["id"] for queue in _queue_names()]
    return workspace(
        "desk/answer.html",
        code,
        answer=answer,
        errors=errors,
        categories=_categories(),
        queue_ids=queue_ids,
    )


@bp.post("/answers/new")
@bp.post("/answers/<answer_id>")
@person_required("supervisor")
def save_answer(answer_id: str | None = None) -> Response:
    """Write, rewrite or remove an answer; feedback checks it (its placeholders among
    them), and its refusals are shown at the fields they concern."""
    path = f"/v1/answers/{quote(answer_id, safe='')}" if answer_id else "/v1/answers"
    if answer_id is not None and request.form.get("remove") == "1":
        gone = _as_person("feedback", "DELETE", path)
        if gone.status not in (200, 204):
            return _problem(gone)
        return redirect("/desk/answers?done=removed", code=303)
    form = {name: request.form.get(name, "").strip() for name in ANSWER_FIELDS}
    body = {name: value or None for name, value in form.items()}
    body["title"] = form["title"]
    saved = _as_person("feedback", "PUT" if answer_id else "POST", path, json=body)
    if saved.status in (200, 201):
        return redirect("/desk/answers?done=saved", code=303)
    if saved.unavailable:
        return _problem(saved)
    texts = DESK_TEXTS[language()]
    fields = (saved.body.get("error") or {}).get("fields") or {"title": []}
    errors = {name: _answer_refusal(name, messages, texts) for name, messages in fields.items()}
    return _answer_page({**body, "id": answer_id}, errors, 422)


def _answer_refusal(name: str, messages: list[str], texts: dict[str, str]) -> str:
    """Feedback's refusal of one field in the page's language; an unknown placeholder
    keeps its name, which is what the supervisor typed."""
    said = " ".join(messages)
    if said.startswith("Unknown placeholder"):
        typed = said.removeprefix("Unknown placeholder ").split(";")[0]
        return texts["answer_placeholder"].format(typed=typed)
    return texts.get(f"answer_{name}_refused", texts["answer_refused"])


@bp.post("/tickets/<ticket_id>/problem")
@person_required("supervisor")
def link_problem(ticket_id: str) -> Response:
    """Link the ticket to an open problem, or to a new one with the title given."""
    problem_id, title = request.form.get("problem", ""), request.form.get("title", "").strip()
    if problem_id == "new":
        made = _as_person("feedback", "POST", "/v1/problems", json={"title": title})
        if made.status != 201:
            return _ticket_page(ticket_id, {"problem": "A new problem needs a title (3 or more "
                                            "characters)."}, 422)  # fmt: skip
        problem_id = made.body["id"]
    linked = _as_person("feedback", "POST", f"/v1/problems/{quote(problem_id, safe='')}/tickets",
                        json={"ticket_ids": [ticket_id]})  # fmt: skip
    if linked.status != 200:
        return _problem(linked)
    return redirect(f"/desk/tickets/{ticket_id}?done=problem_link", code=303)


def _categories() -> list[str]:
    return list(settings().labels.categories)


def _queue_names() -> list[dict[str, str]]:
    """The desk's queues from its configuration, for choosing one: no need to ask the
    queue service to count every waiting ticket for a list of names."""
    lang = language()
    return [{"id": queue_id, "name": names.get(lang) or queue_id}
            for queue_id, names in settings().queues]  # fmt: skip


# Times in the desk's zone


def _zone() -> ZoneInfo:
    options = backend().callback_hours("en")
    try:
        return ZoneInfo(options.body.get("timezone") or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _local(at: str | None, zone: ZoneInfo) -> str:
    if not at:
        return ""
    moment = datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(zone)
    # Babel's names of days and months: "vr 4 dec 10:02" on a Dutch page.
    return format_datetime(moment, "EEE d MMM HH:mm", locale=BABEL_LOCALES[language()])


def file_size(size: int | None, locale: str) -> str:
    """A file's size as people read it: "29 bytes", "1.5 kB", "12,3 MB" on a Dutch page."""
    size = size or 0
    if size < 1000:
        return format_unit(size, "digital-byte", length="long", locale=locale)
    unit, amount = (
        ("digital-kilobyte", size / 1000) if size < 1e6 else ("digital-megabyte", size / 1e6)
    )
    return format_unit(amount, unit, length="short", format="#,##0.#", locale=locale)


def _waited(ticket: dict[str, Any]) -> str:
    started = ticket.get("contact_started_at") or ticket.get("created_at")
    if not started:
        return ""
    seconds = datetime.now(UTC) - datetime.fromisoformat(started.replace("Z", "+00:00"))
    minutes = int(seconds.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
