"""The counter's public pages: the waiting room's display (and, later, the kiosk)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, make_response, request

from services.portal.pages import backend, language, page, wait_words
from services.portal.parts import SHOWN, refreshed

bp = Blueprint("counter", __name__, url_prefix="/counter")
# The display loads the vendored htmx and its own script from the portal, nothing else.
DISPLAY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# How often the screen asks for the latest calls: a call shows within this, plus the
# display's one request (bench/counter.py measures it).
REFRESH_SECONDS = 2


@bp.get("/display")
def display() -> Response:
    """Full screen for a waiting room's television: the number called and its counter,
    large; the calls before it; how many wait and what a new number waits. Numbers and
    counters only: the screen hangs where everyone reads it."""
    queue = request.args.get("queue") or None
    answer = backend().display(queue)
    if answer.status == 404:
        text, code = page("message.html", 404, title="not_found_title", body="not_found_body")
        return make_response(text, code)
    board = _board(answer.body) if answer.status == 200 else None
    template = (
        "counter/_board.html" if request.args.get("part") == "board" else "counter/display.html"
    )
    values = {"board": board, "queue": queue, "refresh_seconds": REFRESH_SECONDS, "spoken": spoken}
    text, code = page(template, 200, shown=SHOWN, **values)
    response = refreshed(make_response(text, code))
    response.headers["Content-Security-Policy"] = DISPLAY_POLICY
    return response


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
