"""What every service's web process shares: request ids, errors, health, metrics, docs.

A service's `create_app()` calls `create_service_app()` and registers its own blueprints.
Web processes never open a broker connection: events leave through the outbox.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from flask_limiter import Limit, Limiter
from prometheus_client.registry import Collector
from sqlalchemy import Engine, Table, func, select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from services.common import metrics
from services.common.accounts import AccountBook
from services.common.auth import KeyRing, presented_principal
from services.common.config import Settings
from services.common.db import make_engine
from services.common.errors import ApiError, register_error_handlers
from services.common.events import utcnow
from services.common.hashing import secret_digest
from services.common.ratelimit import storage_uri
from services.common.unit_of_work import UnitOfWork, unit_of_work

log = logging.getLogger(__name__)

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# No request of the contract nests deeper than a few levels; a body of a few kilobytes
# nested thousands deep once exhausted the recursion of every service (a 500).
MAX_JSON_DEPTH = 32
# Any other method string a client invents is counted as "other": one series, not one
# per invention.
# Retry-After means "try again then": only a refusal that will pass carries it.
RETRY_STATUSES = (429, 503)


@dataclass
class Runtime:
    """A web process's resources, reachable from views as `runtime()`."""

    settings: Settings
    engine: Engine
    keyring: KeyRing
    accounts: AccountBook
    outbox: Table
    openapi: Callable[[], dict[str, Any]]
    collectors: list[Collector] = field(default_factory=list)
    limiter: Any = None


def runtime() -> Runtime:
    return current_app.extensions["loket"]


def request_id() -> str:
    return g.get("request_id") or str(uuid.uuid4())


def change() -> AbstractContextManager[UnitOfWork]:
    """The unit of work of a request that changes something: its service's transaction,
    with the request's id as the correlation id of every event it emits."""
    rt = runtime()
    return unit_of_work(rt.engine, rt.settings.service, rt.outbox, correlation_id=request_id())


def json_body() -> Any:
    """The request's JSON: 415 when it is not sent as JSON, 400 when it is not JSON."""
    if not request.is_json:
        raise ApiError(
            415, "unsupported_media_type", "Send the body as JSON (Content-Type: application/json)."
        )
    data = _request_json()
    if data is None:
        raise ApiError(400, "malformed_json", "The body must be a JSON document.")
    return data


def body_bytes(*, cache: bool = True) -> bytes:
    """The whole body, or a 413 beyond `request.max_content_length`, announced or not.

    For a body without Content-Length (chunked), werkzeug stops reading at the limit and
    hands back what it has, without saying that more was coming.
    """
    raw = request.get_data(cache=cache)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(raw) >= limit:
        raise RequestEntityTooLarge()
    return raw


def _request_json() -> Any:
    """The body parsed once, or None when it is not JSON; too deep a document is a 400.

    Reading the whole body enforces the size limit whether or not the client announced a
    length (a chunked body beyond it is a 413, not "not JSON").
    """
    if "loket_json" not in g:
        raw = body_bytes()
        try:
            g.loket_json = json.loads(raw) if raw else None
        except (ValueError, RecursionError):
            g.loket_json = None
        if _deeper_than(g.loket_json, MAX_JSON_DEPTH):
            g.loket_json = None
            raise ApiError(
                400, "malformed_json", f"The body nests more than {MAX_JSON_DEPTH} levels deep."
            )
    return g.loket_json


def _deeper_than(document: Any, limit: int) -> bool:
    """Without recursion: the document may be deeper than Python's recursion limit."""
    level = [document]
    for _ in range(limit):
        level = [
            child
            for value in level
            if isinstance(value, (dict, list))
            for child in (value.values() if isinstance(value, dict) else value)
        ]
        if not level:
            return False
    return any(isinstance(value, (dict, list)) for value in level)


def create_service_app(
    settings: Settings,
    *,
    outbox: Table,
    openapi: Callable[[], dict[str, Any]],
    engine: Engine | None = None,
) -> Flask:
    app = Flask(f"loket.{settings.service}")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False
    engine = engine or make_engine(settings.database_url)
    rt = Runtime(
        settings=settings,
        engine=engine,
        keyring=KeyRing.load(settings.api_keys_file),
        accounts=AccountBook(settings.accounts_file),
        outbox=outbox,
        openapi=_cached(openapi),
    )
    rt.collectors.append(
        metrics.CallbackGauge(
            "loket_outbox_backlog",
            "Events waiting in the outbox for the relay",
            ["service"],
            lambda: [((settings.service,), float(_backlog(rt)[0]))],
        )
    )
    app.extensions["loket"] = rt
    if settings.proxy_hops:
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops
        )
    register_error_handlers(app)
    _install_request_hooks(app, settings.service)
    operations = _operations_blueprint()
    app.register_blueprint(operations)
    limiter = _install_rate_limits(app, settings)
    limiter.exempt(operations)
    return app


def _caller_key() -> str:
    """Rate-limit bucket of the presented key (its digest: never the key itself)."""
    header = request.headers.get("Authorization", "")
    if header:
        return "key:" + secret_digest(header)[:32]
    return "addr:" + (request.remote_addr or "unknown")


def _address_key() -> str:
    return "addr:" + (request.remote_addr or "unknown")


def _from_portal() -> bool:
    """Loket's portal speaks for every customer from one address with one key: it gets a
    budget of its own (customers are limited per address at the gateway, in front of it)."""
    principal = presented_principal()
    return principal is not None and principal.role == "portal"


def _install_rate_limits(app: Flask, settings: Settings) -> Limiter:
    limiter = Limiter(
        key_func=_address_key,
        app=app,
        default_limits=[
            Limit(settings.rate_limit_per_key, key_function=_caller_key, exempt_when=_from_portal),
            Limit(
                settings.rate_limit_per_address, key_function=_address_key, exempt_when=_from_portal
            ),
            Limit(
                settings.rate_limit_per_portal,
                key_function=_caller_key,
                exempt_when=lambda: not _from_portal(),
            ),
        ],
        storage_uri=storage_uri(settings.rate_limit_storage_url),
        key_prefix=f"loket:{settings.namespace}:{settings.service}",
        headers_enabled=True,
        strategy="sliding-window-counter",
        # A limiter whose shared store is down must not take the desk down with it.
        swallow_errors=True,
        in_memory_fallback_enabled=True,
    )
    app.extensions["loket"].limiter = limiter
    return limiter


def _cached(build: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    document: dict[str, Any] = {}

    def get() -> dict[str, Any]:
        if not document:
            document.update(build())
        return document

    return get


def _nul_characters(value: Any, where: str) -> list[str]:
    """Where in a request a NUL character hides: no database stores one in text. (Only
    called on documents no deeper than MAX_JSON_DEPTH.)"""
    if isinstance(value, str):
        return [where] if "\x00" in value else []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _nul_characters(v, f"{where}.{k}".lstrip("."))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _nul_characters(v, f"{where}.{i}")]
    return []


def _refuse_nul_characters() -> None:
    found = _nul_characters(dict(request.view_args or {}), "")
    found += [k for k, v in request.args.items(multi=True) if "\x00" in k + v]
    if request.is_json:
        found += _nul_characters(_request_json(), "")
    if found:
        raise ApiError(
            422,
            "validation_failed",
            "The request contains a NUL character.",
            {name or "body": ["Must not contain NUL characters."] for name in found},
        )


def _install_request_hooks(app: Flask, service: str) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID_RE.match(incoming) else str(uuid.uuid4())
        _refuse_nul_characters()

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Content-Type-Options"] = "nosniff"
        if response.status_code not in RETRY_STATUSES:
            response.headers.pop("Retry-After", None)
        route = request.url_rule.rule if request.url_rule else "unmatched"
        started = g.get("started")
        if started is not None:
            metrics.observe_http(
                service, request.method, route, response.status_code, time.perf_counter() - started
            )
        return response


def _backlog(rt: Runtime) -> tuple[int, datetime | None]:
    with rt.engine.connect() as conn:
        count, oldest = conn.execute(
            select(func.count(), func.min(rt.outbox.c.created_at)).where(
                rt.outbox.c.sent_at.is_(None)
            )
        ).one()
    return count or 0, oldest


def _operations_blueprint() -> Blueprint:
    ops = Blueprint("operations", __name__)

    @ops.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @ops.get("/readyz")
    def readyz() -> Response | tuple[Response, int]:
        rt = runtime()
        try:
            count, oldest = _backlog(rt)
        except SQLAlchemyError as exc:
            log.warning("readyz: database unreachable: %s", type(exc).__name__)
            raise ApiError(503, "not_ready", "The database does not answer.") from None
        lag = None
        if oldest is not None:
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=utcnow().tzinfo)
            lag = round((utcnow() - oldest).total_seconds(), 3)
        return jsonify(
            status="ready", database="ok", outbox_backlog=count, oldest_unsent_seconds=lag
        )

    @ops.get("/metrics")
    def metrics_view() -> Response:
        rt = runtime()
        body, content_type = metrics.render(_safe(rt.collectors))
        return Response(body, content_type=content_type)

    @ops.get("/openapi.json")
    def openapi() -> Response:
        return jsonify(runtime().openapi())

    return ops


class _Guarded(Collector):
    """A database-backed collector must not turn a scrape into a 500 when the DB is down."""

    def __init__(self, inner: Collector) -> None:
        self.inner = inner

    def collect(self) -> Iterable[Any]:
        try:
            return list(self.inner.collect())
        except SQLAlchemyError:
            log.warning("metrics: a database-backed collector could not read")
            return []


def _safe(collectors: Iterable[Collector]) -> list[Collector]:
    return [_Guarded(c) for c in collectors]


def content_disposition(filename: str | None, fallback: str = "attachment") -> str:
    """`attachment`, named: an ASCII name every browser reads, and the exact name for
    those that read RFC 6266's `filename*`. No path and no control character survives."""
    name = "".join(c for c in (filename or "") if c.isprintable()).replace("/", "_")
    name = name.replace("\\", "_").strip(" .") or fallback
    plain = re.sub(r"[^A-Za-z0-9._ ()-]", "_", name)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"
