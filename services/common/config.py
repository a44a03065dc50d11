"""Configuration from the environment and the `LOKET_CONFIG` YAML file.

Every bad value stops the process at start with a message naming the variable, so an
operator never has to guess which of a dozen settings was wrong.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from services.common.desk import check_desk

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_FILE = REPO_ROOT / "config" / "loket.yaml"
SERVICES = ("intake", "queue", "notify", "feedback")
DEFAULT_WEB_PORTS = {"intake": 8001, "queue": 8002, "notify": 8003, "feedback": 8004}
DEFAULT_WORKER_METRICS_PORTS = {"intake": 9101, "queue": 9102, "notify": 9103, "feedback": 9104}
_NAMESPACE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class ConfigError(Exception):
    """A configuration value that the process cannot start with."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True)
class Settings:
    service: str
    database_url: str
    amqp_url: str
    namespace: str
    api_keys_file: Path | None
    public_base_url: str
    smtp_url: str | None
    sms_gateway_url: str | None
    queue_service_url: str
    max_body_bytes: int
    max_email_bytes: int
    rate_limit_per_key: str
    rate_limit_per_address: str
    rate_limit_storage_url: str
    proxy_hops: int
    http_host: str
    http_port: int
    worker_metrics_port: int | None
    delivery_limit: int
    mail_from: str = "Loket service desk <servicedesk@localhost>"
    # The portal calls for every customer from one address with one key: its own budget.
    rate_limit_per_portal: str = "30000/minute"
    # People who sign in to the console (their roles, for X-Loket-On-Behalf-Of).
    accounts_file: Path | None = None
    desk: Mapping[str, Any] = field(default_factory=dict)
    # The LOKET_* variables these settings were read from: a service reads its own
    # settings from them (notify: services/notify/settings.py).
    environ: Mapping[str, str] = field(default_factory=dict)


def _env(environ: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = _env(environ, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {value}")
    return value


def _seconds(environ: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = _env(environ, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"must be a number of seconds, got {raw!r}") from None
    if not minimum <= value < 10**7:
        raise ConfigError(name, f"must be at least {minimum} seconds, got {raw}")
    return value


# What .env.example and examples show in place of a secret: a desk started with one runs
# with a password or key that anyone who has read the example knows.
_PLACEHOLDER = re.compile(
    r"^(?:(?:change|replace|set)[-_ ]?me|(?:secret|password|passw0rd|example|default|test|"
    r"todo|admin|xxx+|\.\.\.|<[^>]*>)[-_ ]?\d*$)",
    re.IGNORECASE,
)
# The secrets only Compose's other containers read (the database's and broker's own
# administrators, Grafana, the broker nodes' cookie): `all migrate` checks them, so that
# the desk does not start beside them.
DEPLOYMENT_SECRETS = (
    "POSTGRES_PASSWORD",
    "RABBITMQ_ADMIN_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
    "LOKET_BROKER_COOKIE",
)


def check_secret(name: str, value: str, minimum_length: int = 0) -> str:
    """A secret that is not a known placeholder, and long enough where it signs."""
    if _PLACEHOLDER.match(value.strip()):
        raise ConfigError(name, "is still a placeholder; set a secret of your own")
    if len(value.encode()) < minimum_length:
        raise ConfigError(
            name,
            f"must be at least {minimum_length} bytes; make one with "
            '`python -c "import secrets; print(secrets.token_urlsafe(32))"`',
        )
    return value


def check_deployment_secrets(environ: Mapping[str, str]) -> None:
    for name in DEPLOYMENT_SECRETS:
        value = _env(environ, name)
        if value is not None:
            check_secret(name, value)


def _password_in_url(name: str, value: str) -> None:
    for node in value.split(","):
        password = urlsplit(node.strip()).password
        if password:
            check_secret(name, unquote(password))


_MAIL_FROM_RE = re.compile(r"^(?:[^<>@]*<[^<>@\s]+@[^<>@\s]+>|[^<>@\s]+@[^<>@\s]+)$")


def _mail_from(environ: Mapping[str, str]) -> str:
    name = "LOKET_MAIL_FROM"
    value = _env(environ, name, Settings.mail_from)
    if not _MAIL_FROM_RE.match(value):
        raise ConfigError(
            name, f"must be an address, e.g. 'Service desk <desk@example.org>', got {value!r}"
        )
    return value


def _url(
    environ: Mapping[str, str], name: str, default: str | None, schemes: set[str]
) -> str | None:
    value = _env(environ, name, default)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        allowed = ", ".join(sorted(schemes))
        raise ConfigError(name, f"must be a URL with scheme {allowed}, got {value!r}")
    return value


def node_urls(value: str) -> list[str]:
    """The URL of each node of a cluster, written either as whole URLs separated by
    commas, or as one URL whose host is a list (libpq's way, so that user, password and
    vhost are written once): `amqp://user:pw@a:5672,b:5672,c:5672/vhost`."""
    parts = [part.strip() for part in value.split(",")]
    if all("://" in part for part in parts) or "://" not in parts[0]:
        return parts  # whole URLs (or no URL at all, for the caller to refuse)
    first = urlsplit(parts[0])
    if first.path or first.query or any("://" in part for part in parts[1:]):
        raise ValueError("whole URLs, or one URL whose host is a list; not both")
    userinfo, _, host = first.netloc.rpartition("@")
    hosts = [host, *(urlsplit(f"//{part}").netloc for part in parts[1:])]
    last = urlsplit(f"//{parts[-1]}")
    tail = last.path + (f"?{last.query}" if last.query else "")
    credentials = f"{userinfo}@" if userinfo else ""
    return [f"{first.scheme}://{credentials}{host}{tail}" for host in hosts]


def _urls(environ: Mapping[str, str], name: str, default: str, schemes: set[str]) -> str:
    """One URL, or the nodes of a cluster (`node_urls`), each checked."""
    value = _env(environ, name, default)
    try:
        nodes = node_urls(value)
    except ValueError as error:
        raise ConfigError(name, f"{error}, got {value!r}") from None
    for node in nodes:
        _url({name: node}, name, None, schemes)
    _password_in_url(name, value)
    return value


_RATE_RE = re.compile(r"^\d+\s*(/|per)\s*(second|minute|hour|day)s?$")


def _rate(environ: Mapping[str, str], name: str, default: str) -> str:
    value = _env(environ, name, default)
    for part in value.split(";"):
        if not _RATE_RE.match(part.strip()):
            raise ConfigError(
                name, f"must look like '600/minute' (';' between several), got {value!r}"
            )
    return value


def _limit_storage(environ: Mapping[str, str]) -> str:
    """Where rate-limit counters live: per process, or shared by every web worker (Redis)."""
    name = "LOKET_RATE_LIMIT_STORAGE_URL"
    value = _env(environ, name, "memory://")
    if value == "memory://":
        return value
    return _url(environ, name, None, {"redis", "rediss"})


def var_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where a desk on one machine keeps its state: SQLite files, dev keys, metric files."""
    environ = os.environ if environ is None else environ
    return Path(_env(environ, "LOKET_VAR_DIR", str(REPO_ROOT / "var")))


def private_var_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The var directory, made and kept for its owner only: it holds the desk's keys and,
    on one machine, its databases."""
    path = var_dir(environ)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def database_url(environ: Mapping[str, str], service: str) -> str:
    name = f"LOKET_{service.upper()}_DATABASE_URL"
    value = _env(environ, name, f"sqlite:///{var_dir(environ) / f'{service}.db'}")
    try:
        url = make_url(value)
    except ArgumentError:
        raise ConfigError(name, f"is not a database URL: {value!r}") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(name, "only sqlite and postgresql databases are supported")
    if url.password:
        check_secret(name, str(url.password))
    if url.get_backend_name() == "postgresql" and url.drivername != "postgresql+psycopg":
        # Operators write postgresql://; the psycopg 3 driver is the one we ship.
        value = url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return value


def load_desk_config(environ: Mapping[str, str]) -> dict[str, Any]:
    """The desk's own YAML: queues, SLA targets, opening hours, catalogue."""
    path = Path(_env(environ, "LOKET_CONFIG", str(DEFAULT_CONFIG_FILE)))
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError("LOKET_CONFIG", f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError("LOKET_CONFIG", f"{path} is not valid YAML: {exc}") from None
    if not isinstance(loaded, dict):
        raise ConfigError("LOKET_CONFIG", f"{path} must hold a mapping at the top level")
    mistakes = check_desk(loaded)
    if mistakes:
        raise ConfigError("LOKET_CONFIG", f"{path}: " + "; ".join(mistakes))
    return loaded


def load_settings(service: str, environ: Mapping[str, str] | None = None) -> Settings:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    environ = os.environ if environ is None else environ

    namespace = _env(environ, "LOKET_NAMESPACE", "") or ""
    if namespace and not _NAMESPACE_RE.match(namespace):
        raise ConfigError(
            "LOKET_NAMESPACE",
            f"must be lower-case letters, digits, '-' or '_' (at most 63), got {namespace!r}",
        )
    keys_file = _env(environ, "LOKET_API_KEYS_FILE")
    if keys_file is not None and not Path(keys_file).is_file():
        raise ConfigError("LOKET_API_KEYS_FILE", f"no such file: {keys_file}")
    prefix = f"LOKET_{service.upper()}"
    http_port = _int(environ, f"{prefix}_HTTP_PORT", DEFAULT_WEB_PORTS[service], minimum=1)
    metrics_port = _int(environ, f"{prefix}_METRICS_PORT", DEFAULT_WORKER_METRICS_PORTS[service])

    return Settings(
        service=service,
        database_url=database_url(environ, service),
        amqp_url=_urls(
            environ,
            "LOKET_AMQP_URL",
            "amqp://guest:guest@localhost:5672/%2F",
            {"amqp", "amqps"},
        ),
        namespace=namespace,
        api_keys_file=Path(keys_file) if keys_file else None,
        public_base_url=_url(
            environ, "LOKET_PUBLIC_BASE_URL", "http://localhost:8001", {"http", "https"}
        ),
        smtp_url=_url(environ, "LOKET_SMTP_URL", None, {"smtp", "smtps"}),
        sms_gateway_url=_url(environ, "LOKET_SMS_GATEWAY_URL", None, {"http", "https"}),
        queue_service_url=_url(
            environ, "LOKET_QUEUE_URL", "http://127.0.0.1:8002", {"http", "https"}
        ),
        max_body_bytes=_int(environ, "LOKET_MAX_BODY_BYTES", 1_048_576, minimum=1024),
        max_email_bytes=_int(environ, "LOKET_MAX_EMAIL_BYTES", 10_485_760, minimum=1024),
        rate_limit_per_key=_rate(environ, "LOKET_RATE_LIMIT_PER_KEY", "1200/minute"),
        rate_limit_per_address=_rate(environ, "LOKET_RATE_LIMIT_PER_ADDRESS", "600/minute"),
        rate_limit_storage_url=_limit_storage(environ),
        rate_limit_per_portal=_rate(environ, "LOKET_RATE_LIMIT_PER_PORTAL", "30000/minute"),
        accounts_file=Path(accounts)
        if (accounts := _env(environ, "LOKET_ACCOUNTS_FILE"))
        else None,
        proxy_hops=_int(environ, "LOKET_PROXY_HOPS", 0),
        http_host=_env(environ, "LOKET_HTTP_HOST", "127.0.0.1"),
        http_port=http_port,
        worker_metrics_port=metrics_port or None,
        delivery_limit=_int(environ, "LOKET_DELIVERY_LIMIT", 5, minimum=1),
        mail_from=_mail_from(environ),
        desk=load_desk_config(environ),
        environ={k: v for k, v in environ.items() if k.startswith("LOKET_")},
    )
