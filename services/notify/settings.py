"""Notify's own settings, read from the same environment as every service's (and checked
when a notify process starts, like the rest: `python -m services notify ...`)."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from services.common.config import ConfigError, Settings, _env, _int, _seconds
from services.common.secret_box import parse_secret_key


@dataclass(frozen=True)
class NotifySettings:
    """How notify sends: attempts, the wait before each retry, timeouts, parallel sends."""

    max_attempts: int = 6
    retry_base_seconds: float = 60.0
    send_timeout_seconds: float = 10.0
    send_concurrency: int = 8
    secret_key: str | None = None
    # Webhooks go to public addresses only, but for these networks (owner systems inside
    # the organisation), named by the operator.
    webhook_allowed_networks: tuple[str, ...] = ()

    @property
    def retry_delays_ms(self) -> tuple[int, ...]:
        """Exponential backoff: the wait before attempt 2, 3, ... (one delay queue each)."""
        base_ms = round(self.retry_base_seconds * 1000)
        return tuple(base_ms * 2**i for i in range(self.max_attempts - 1))


def notify_settings(settings: Settings) -> NotifySettings:
    """Notify's settings from the environment `settings` was loaded from; a bad value
    raises ConfigError naming the variable."""
    return _load(tuple(sorted(settings.environ.items())))


def load(settings: Settings) -> None:
    """Checked when a notify process starts (services/__main__.py)."""
    notify_settings(settings)


@functools.cache
def _load(items: tuple[tuple[str, str], ...]) -> NotifySettings:
    environ = dict(items)
    return NotifySettings(
        max_attempts=_int(environ, "LOKET_NOTIFY_MAX_ATTEMPTS", 6, minimum=1),
        retry_base_seconds=_seconds(environ, "LOKET_NOTIFY_RETRY_BASE_SECONDS", 60.0, 0.01),
        send_timeout_seconds=_seconds(environ, "LOKET_NOTIFY_SEND_TIMEOUT_SECONDS", 10.0, 0.1),
        send_concurrency=_int(environ, "LOKET_NOTIFY_SEND_CONCURRENCY", 8, minimum=1),
        secret_key=parse_secret_key(environ, "LOKET_NOTIFY_SECRET_KEY"),
        webhook_allowed_networks=_networks(environ, "LOKET_WEBHOOK_ALLOWED_NETWORKS"),
    )


def _networks(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated networks (`10.20.0.0/16,fd00:1::/64`), each checked."""
    raw = _env(environ, name) or ""
    networks = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ConfigError(name, f"must list networks like 10.0.0.0/8, got {item!r}") from None
    return tuple(networks)
