"""The portal's application factory."""

from __future__ import annotations

import time

from flask import Flask, Response, g, jsonify, request
from prometheus_client import Histogram
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from services.common import metrics
from services.portal import console, counter, pages
from services.portal import contacts as _contacts  # noqa: F401  (its views are the console's)
from services.portal.backend import Backend
from services.portal.catalogues import language_name
from services.portal.settings import PortalSettings, load_portal_settings

PAGE_DURATION = Histogram(
    "loket_portal_page_seconds",
    "Time to answer a portal page, by page and status",
    ["page", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
# No script, no inline style, nothing from elsewhere; no page may frame ours.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def create_app(settings: PortalSettings | None = None) -> Flask:
    settings = settings or load_portal_settings()
    app = Flask("services.portal")  # its package: where templates/ and static/ are
    # The limit gunicorn's pre_request hook knows (LOKET_MAX_BODY_BYTES): a body beyond it
    # closes the connection, so a pooled client never reuses one with a body left unread.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["portal.settings"] = settings
    app.extensions["portal.backend"] = Backend(
        settings.intake_url,
        settings.queue_url,
        settings.feedback_url,
        settings.backend_timeout_seconds,
        settings.api_key,
    )
    app.jinja_env.globals["language_name"] = language_name
    app.register_blueprint(pages.bp)
    app.register_blueprint(counter.bp)
    console.install(app)
    if settings.proxy_hops:
        # Behind the gateway: the customer's address (sign-in limits) from its one hop.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops,  # type: ignore[method-assign]
                                x_proto=settings.proxy_hops)  # fmt: skip

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _secure(response: Response) -> Response:
        # The console sets its own (it loads the vendored htmx).
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        # Tracking and survey tokens are in the address: they must not leave in a Referer.
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Cache-Control", "no-store")
        seconds = time.perf_counter() - g.get("started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.observe_http("portal", request.method, route, response.status_code, seconds)
        if request.endpoint and request.endpoint.startswith(("pages.", "desk.", "counter.")):
            PAGE_DURATION.labels(
                request.endpoint.removeprefix("pages."), str(response.status_code)
            ).observe(seconds)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> tuple[str, int]:
        if error.code == 404:
            return pages.page("message.html", 404, title="not_found_title", body="not_found_body")
        if error.code == 413:
            return pages.page("message.html", 413, title="too_large_title", body="too_large_body")
        return pages.page(
            "message.html", error.code or 400, title="unavailable_title", body="unavailable_body"
        )

    @app.errorhandler(Exception)
    def _unexpected(_error: Exception) -> tuple[str, int]:
        app.logger.exception("portal: unhandled error")
        return pages.page("message.html", 500, title="unavailable_title", body="unavailable_body")

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz() -> Response:
        return jsonify(status="ready")

    @app.get("/metrics")
    def metrics_view() -> Response:
        body, content_type = metrics.render()
        return Response(body, content_type=content_type)

    return app
