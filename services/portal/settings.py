"""The portal's configuration, from the environment; a bad value stops it at start."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from zoneinfo import ZoneInfo

from services.common.config import (
    ConfigError,
    _env,
    _int,
    _limit_storage,
    _seconds,
    _url,
    check_secret,
    load_desk_config,
    var_dir,
)
from services.common.hashing import kept_secret
from services.common.labels import Labels
from services.common.vocabulary import desk_language

DEFAULT_PORT = 8000


@dataclass(frozen=True)
class PortalSettings:
    http_host: str
    http_port: int
    intake_url: str
    queue_url: str
    feedback_url: str
    default_language: str
    backend_timeout_seconds: float
    # The portal's own key (role `portal`), for what customers submit; never in a page.
    api_key: str | None = None
    # The console: who may sign in, what signs its session cookies, how long a session
    # may sit idle and last at most, and whether its cookie is for HTTPS only.
    accounts_file: Path | None = None
    secret_key: str = ""
    idle_minutes: int = 30
    session_hours: int = 12
    # Where the console's sessions live without Redis: one file for this machine's portal
    # processes (services/portal/sessions.py); none, each process its own.
    sessions_file: Path | None = None
    secure_cookies: bool = False
    # Where customers reach the portal: the link an agent inserts for a knowledge article.
    public_base_url: str = "http://localhost:8080"
    proxy_hops: int = 0
    max_body_bytes: int = 1_048_576
    # The desk's queues, id and name per language, as its configuration names them.
    queues: tuple[tuple[str, dict[str, str]], ...] = ()
    # People's words for every key the desk file and the contract name.
    labels: Labels = field(default_factory=Labels)
    # The kiosk's own key (role client, channel walk_in), and the networks a kiosk stands
    # in: a number is taken in the building, not from anywhere on the internet.
    kiosk_api_key: str | None = None
    kiosk_networks: tuple[IPv4Network | IPv6Network, ...] = ()
    # The desk's time zone: the times it promises, as people there read them.
    desk_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    # The counter's rule before a no-show (desk file `counter`): calls, seconds apart.
    calls_before_no_show: int = 3
    seconds_between_calls: int = 60
    # Where sign-in failures are counted: per web process, or shared by every portal
    # process and replica (Redis), under the desk's namespace.
    sign_in_storage_url: str = "memory://"
    namespace: str = ""
    # New requests from one client address an hour: each is confirmed to the address typed
    # in it, so a script must not make the desk mail strangers (issue 33, 6).
    requests_per_address_hour: int = 20


def load_portal_settings(environ: Mapping[str, str] | None = None) -> PortalSettings:
    environ = os.environ if environ is None else environ
    desk = load_desk_config(environ)
    default_language = desk_language(desk)  # checked with the whole file (common/desk.py)
    return PortalSettings(
        http_host=_env(environ, "LOKET_HTTP_HOST", "127.0.0.1") or "127.0.0.1",
        http_port=_int(environ, "LOKET_PORTAL_HTTP_PORT", DEFAULT_PORT, minimum=1),
        intake_url=_url(environ, "LOKET_INTAKE_URL", "http://127.0.0.1:8001", {"http", "https"})
        or "",
        queue_url=_url(environ, "LOKET_QUEUE_URL", "http://127.0.0.1:8002", {"http", "https"})
        or "",
        feedback_url=_url(environ, "LOKET_FEEDBACK_URL", "http://127.0.0.1:8004", {"http", "https"})
        or "",
        default_language=default_language,
        backend_timeout_seconds=_seconds(environ, "LOKET_PORTAL_BACKEND_TIMEOUT_SECONDS", 5.0, 0.1),
        api_key=check_secret("LOKET_PORTAL_API_KEY", key)
        if (key := _env(environ, "LOKET_PORTAL_API_KEY"))
        else None,
        accounts_file=Path(accounts)
        if (accounts := _env(environ, "LOKET_ACCOUNTS_FILE"))
        else None,
        secret_key=check_secret("LOKET_PORTAL_SECRET_KEY", secret, minimum_length=32)
        if (secret := _env(environ, "LOKET_PORTAL_SECRET_KEY"))
        else kept_secret(var_dir(environ) / "portal-secret.key", lambda: secrets.token_urlsafe(32)),
        idle_minutes=_int(environ, "LOKET_PORTAL_IDLE_MINUTES", 30, minimum=1),
        session_hours=_int(environ, "LOKET_PORTAL_SESSION_HOURS", 12, minimum=1),
        sessions_file=var_dir(environ) / "portal-sessions.db",
        secure_cookies=(_env(environ, "LOKET_PUBLIC_BASE_URL", "") or "").startswith("https:"),
        public_base_url=_url(
            environ, "LOKET_PUBLIC_BASE_URL", "http://localhost:8080", {"http", "https"}
        )
        or "http://localhost:8080",
        proxy_hops=_int(environ, "LOKET_PORTAL_PROXY_HOPS", 0),
        max_body_bytes=_int(environ, "LOKET_MAX_BODY_BYTES", 1_048_576, minimum=1024),
        queues=tuple((q["id"], dict(q["name"])) for q in desk.get("queues", [])),
        labels=Labels.of(desk),
        kiosk_api_key=check_secret("LOKET_KIOSK_API_KEY", kiosk)
        if (kiosk := _env(environ, "LOKET_KIOSK_API_KEY"))
        else None,
        kiosk_networks=_networks(environ, "LOKET_KIOSK_NETWORKS", LOCAL_NETWORKS),
        desk_zone=ZoneInfo((desk.get("opening_hours") or {}).get("timezone", "UTC")),
        calls_before_no_show=(desk.get("counter") or {}).get("calls_before_no_show", 3),
        seconds_between_calls=(desk.get("counter") or {}).get("seconds_between_calls", 60),
        sign_in_storage_url=_limit_storage(environ),
        namespace=_env(environ, "LOKET_NAMESPACE", "") or "",
        requests_per_address_hour=_int(
            environ, "LOKET_PORTAL_REQUESTS_PER_ADDRESS_HOUR", 20, minimum=1
        ),
    )


# Loopback and the private ranges a desk's own network uses (RFC 1918, RFC 4193).
LOCAL_NETWORKS = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"


def _networks(
    environ: Mapping[str, str], name: str, default: str
) -> tuple[IPv4Network | IPv6Network, ...]:
    raw = _env(environ, name, default) or ""
    try:
        return tuple(ip_network(part.strip()) for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise ConfigError(
            name, f"networks such as 10.0.0.0/8, separated by commas ({exc})"
        ) from None
