"""Parts of a page that refresh themselves while it is open (htmx polling)."""

from __future__ import annotations

import hashlib

from flask import Response, make_response, request

# Stands for the part's digest while it is rendered; the digest is of the part itself.
SHOWN = "@@shown@@"


def refreshed(response: Response, code: int = 200) -> Response:
    """A part rendered with `shown=SHOWN` in its refresh URL, which then carries the digest
    of what it shows; when the part is unchanged the answer is 204 No Content, which htmx
    leaves as it is: an unchanged refresh costs no bytes and no redraw."""
    body = response.get_data(as_text=True)
    digest = hashlib.sha256(body.encode()).hexdigest()[:16]
    if code == 200 and request.args.get("shown") == digest:
        return make_response("", 204)
    response.set_data(body.replace(SHOWN, digest))
    return response
