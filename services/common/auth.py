"""API keys with roles (contract section 4, Authentication).

Keys live in the YAML file named by `LOKET_API_KEYS_FILE` as SHA-256 hashes; a plain key
is never stored. Every presented key is hashed and compared with every stored hash in
constant time, so neither a key's existence nor its prefix leaks through timing.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
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
ROLES = ("client", "agent", "supervisor", "admin")
STAFF_RANK = {"agent": 1, "supervisor": 2, "admin": 3}

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    channels: frozenset[str] = frozenset()

    def may_submit(self, channel: str) -> bool:
        return self.role == "client" and channel in self.channels

    def has_role(self, role: str) -> bool:
        """Clients are only clients; staff roles include the ones below them."""
        if role == "client" or self.role == "client":
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
    def __init__(self, entries: Iterable[tuple[str, Principal]] = ()) -> None:
        self._entries = [(bytes.fromhex(digest), principal) for digest, principal in entries]

    @classmethod
    def load(cls, path: Path | None) -> KeyRing:
        if path is None:
            return cls()
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {"keys": []}
            loaded = _KeysFileSchema().load(raw)
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError("LOKET_API_KEYS_FILE", f"cannot read {path}: {exc}") from None
        except ValidationError as exc:
            raise ConfigError("LOKET_API_KEYS_FILE", f"{path} is invalid: {exc.messages}") from None
        return cls(
            (k["sha256"], Principal(k["name"], k["role"], frozenset(k["channels"])))
            for k in loaded["keys"]
        )

    def authenticate(self, presented: str) -> Principal | None:
        digest = hashlib.sha256(presented.encode()).digest()
        found = None
        for stored, principal in self._entries:
            if hmac.compare_digest(stored, digest):
                found = principal
        return found


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


def add_key(path: Path, name: str, role: str, channels: Iterable[str] = ()) -> str:
    """Append a new key to the keys file and return the plain key (shown once)."""
    entry = _KeySchema().load(
        {"name": name, "role": role, "channels": list(channels), "sha256": "0" * 64}
    )
    if role == "client" and not entry["channels"]:
        raise ValueError("a client key needs at least one channel")
    key = f"lkt_{secrets.token_urlsafe(32)}"
    entry["sha256"] = secret_digest(key)
    if not entry["channels"]:
        del entry["channels"]
    document = {"keys": []}
    if path.exists():
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {"keys": []}
        if any(k.get("name") == name for k in document.get("keys", [])):
            raise ValueError(f"a key named {name!r} exists already")
    document.setdefault("keys", []).append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return key
