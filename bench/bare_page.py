"""The baseline for bench/portal.py: a bare Flask page rendered from a Jinja template of
the same size as the portal's status page, no backend calls, under the same gunicorn."""

from __future__ import annotations

from flask import Flask, render_template_string

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
</head><body><main><h1>{{ title }}</h1><dl>{% for k, v in rows %}<dt>{{ k }}</dt>
<dd>{{ v }}</dd>{% endfor %}</dl><form method="post"><textarea name="m"></textarea>
<button>Send</button></form></main></body></html>"""


def create_app() -> Flask:
    app = Flask("bare")
    rows = [(f"row {n}", "x" * 60) for n in range(12)]

    @app.get("/bare")
    def bare() -> str:
        return render_template_string(PAGE, title="Your request LKT-000001", rows=rows)

    return app
