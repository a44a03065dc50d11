"""API keys with roles (contract section 4, Authentication).

Keys live in the YAML file named by `LOKET_API_KEYS_FILE` as SHA-256 hashes; a plain key
is never stored. Every presented key is hashed and compared with every stored hash in
constant time, so neither a key's existence nor its prefix leaks through timing.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from flask import current_app, g, request
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from services.common.config import ConfigError
from services.common.errors import ApiError
from services.common.hashing import secret_digest

CHANNELS = ("web", "email", "phone", "chat", "walk_in", "callback")
ROLES = ("client", "portal", "agent", "supervisor", "admin")
# Keys that submit requests for customers: a front-end's, or Loket's own portal's.
SUBMITTING_ROLES = frozenset({"client", "portal"})
STAFF_RANK = {"agent": 1, "supervisor": 2, "admin": 3}

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    channels: frozenset[str] = frozenset()

    def may_submit(self, channel: str) -> bool:
        return self.role in SUBMITTING_ROLES and channel in self.channels

    def has_role(self, role: str) -> bool:
        """Clients are only clients; the portal submits as a client does (for the people
        it acts for, see the contract); staff roles include the ones below them."""
        if role == "client":
            return self.role in SUBMITTING_ROLES
        if self.role in SUBMITTING_ROLES or role == "portal":
            return self.role == role
        return STAFF_RANK[self.role] >= STAFF_RANK[role]


class _KeySchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    channels = fields.List(fields.String(validate=validate.OneOf(CHANNELS)), load_default=list)
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))


class _KeysFileSchema(Schema):
    class Meta:
        unknown = RAISE

    keys = fields.List(fields.Nested(_KeySchema), required=True)


class KeyRing:
    """The keys of the keys file, read again when the file changes (checked at most once
    a second), so that a key added, rotated or revoked takes effect without a restart. A
    file that became unreadable or invalid keeps the keys it had, with a warning."""

    RECHECK_SECONDS = 1.0

    def __init__(self, entries: Iterable[tuple[str, Principal]] = (), path: Path | None = None):
        self._entries = [(bytes.fromhex(digest), principal) for digest, principal in entries]
        self._path = path
        self._seen = _file_state(path) if path else None
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path | None) -> KeyRing:
        if path is None:
            return cls()
        return cls(_read_keys(path), path)

    def authenticate(self, presented: str) -> Principal | None:
        self._reload_if_changed()
        digest = hashlib.sha256(presented.encode()).digest()
        found = None
        for stored, principal in self._entries:
            if hmac.compare_digest(stored, digest):
                found = principal
        return found

    def _reload_if_changed(self) -> None:
        if self._path is None or time.monotonic() - self._checked < self.RECHECK_SECONDS:
            return
        with self._lock:
            self._checked = time.monotonic()
            state = _file_state(self._path)
            if state == self._seen:
                return
            try:
                entries = _read_keys(self._path)
            except ConfigError as exc:
                log.warning("keys file changed but is not usable; keeping the old keys: %s", exc)
                return
            self._entries = [(bytes.fromhex(d), principal) for d, principal in entries]
            self._seen = state
            log.info("keys file changed: %d keys", len(self._entries))


def _file_state(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _read_keys(path: Path) -> list[tuple[str, Principal]]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {"keys": []}
        loaded = _KeysFileSchema().load(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError("LOKET_API_KEYS_FILE", f"cannot read {path}: {exc}") from None
    except ValidationError as exc:
        raise ConfigError("LOKET_API_KEYS_FILE", f"{path} is invalid: {exc.messages}") from None
    return [
        (k["sha256"], Principal(k["name"], k["role"], frozenset(k["channels"])))
        for k in loaded["keys"]
    ]


def current_principal() -> Principal:
    """The caller, authenticated from `Authorization: Bearer <key>`; 401 otherwise."""
    if "principal" in g:
        return g.principal
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "unauthorized",
            "An API key is required (Authorization: Bearer).",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = current_app.extensions["loket"].keyring.authenticate(token.strip())
    if principal is None:
        raise ApiError(
            401,
            "unauthorized",
            "The API key is not valid.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    g.principal = principal
    return principal


def presented_principal() -> Principal | None:
    """The caller's key when it is valid, without refusing anyone: rate limits ask before
    any view does."""
    if "principal" in g:
        return g.principal
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    principal = current_app.extensions["loket"].keyring.authenticate(token.strip())
    if principal is not None:
        g.principal = principal
    return principal


def require(role: str) -> Callable[[F], F]:
    """Allow callers with `role` (or, for staff roles, a higher one)."""
    if role not in ROLES:
        raise ValueError(role)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_principal().has_role(role):
                raise ApiError(403, "forbidden", f"This needs the {role} role.")
            return view(*args, **kwargs)

        wrapped.required_role = role  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorate


def _document(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"keys": []}
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    document.setdefault("keys", [])
    return document


def _write(path: Path, document: dict[str, Any]) -> None:
    """Written in place, not renamed over: a file bind-mounted into a container (Compose's
    secret) keeps its inode and so sees the change. A web process that reads it half
    written keeps its old keys and reads it again a second later."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(yaml.safe_dump(document, sort_keys=False))
    path.chmod(0o600)


def add_key(path: Path, name: str, role: str, channels: Iterable[str] = ()) -> str:
    """Append a new key to the keys file and return the plain key (shown once)."""
    entry = _KeySchema().load(
        {"name": name, "role": role, "channels": list(channels), "sha256": "0" * 64}
    )
    if role in SUBMITTING_ROLES and not entry["channels"]:
        raise ValueError(f"a {role} key needs at least one channel")
    key = f"lkt_{secrets.token_urlsafe(32)}"
    entry["sha256"] = secret_digest(key)
    if not entry["channels"]:
        del entry["channels"]
    document = _document(path)
    if any(k.get("name") == name for k in document["keys"]):
        raise ValueError(f"a key named {name!r} exists already")
    document["keys"].append(entry)
    _write(path, document)
    return key


def list_keys(path: Path) -> list[dict[str, Any]]:
    """Name, role and channels of every key; never a hash."""
    return [
        {"name": k["name"], "role": k["role"], "channels": list(k.get("channels", []))}
        for k in _document(path)["keys"]
    ]


def revoke_key(path: Path, name: str) -> None:
    document = _document(path)
    kept = [k for k in document["keys"] if k.get("name") != name]
    if len(kept) == len(document["keys"]):
        raise ValueError(f"no key named {name!r}")
    document["keys"] = kept
    _write(path, document)


def rotate_key(path: Path, name: str) -> str:
    """A new key for the same name, role and channels; the old one stops working."""
    document = _document(path)
    for entry in document["keys"]:
        if entry.get("name") == name:
            key = f"lkt_{secrets.token_urlsafe(32)}"
            entry["sha256"] = secret_digest(key)
            _write(path, document)
            return key
    raise ValueError(f"no key named {name!r}")
