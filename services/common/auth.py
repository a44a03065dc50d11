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
from services.common.vocabulary import CHANNELS
from services.common.watched import Watched, add_entry, read_entries, write_in_place

ROLES = ("client", "portal", "agent", "supervisor", "admin")
# Keys that submit requests for customers: a front-end's, or Loket's own portal's.
SUBMITTING_ROLES = frozenset({"client", "portal"})
STAFF_RANK = {"agent": 1, "supervisor": 2, "admin": 3}
# The contacts an agent takes by voice or face and records in the console as they happen.
RECORDED_BY_STAFF = frozenset({"phone", "walk_in"})

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    channels: frozenset[str] = frozenset()

    def may_submit(self, channel: str) -> bool:
        if self.role in STAFF_RANK:
            return channel in RECORDED_BY_STAFF
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
    """The keys of the keys file, read again when it changes: a key added, rotated or
    revoked takes effect without a restart."""

    def __init__(self, entries: Iterable[tuple[str, Principal]] = (), path: Path | None = None):
        self._keys = Watched(path, lambda p: _digested(_read_keys(p)), _digested(entries))

    @classmethod
    def load(cls, path: Path | None) -> KeyRing:
        return cls(path=path)

    def authenticate(self, presented: str) -> Principal | None:
        digest = hashlib.sha256(presented.encode()).digest()
        found = None
        for stored, principal in self._keys.get():
            if hmac.compare_digest(stored, digest):
                found = principal
        return found


def _digested(entries: Iterable[tuple[str, Principal]]) -> list[tuple[bytes, Principal]]:
    return [(bytes.fromhex(digest), principal) for digest, principal in entries]


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


ON_BEHALF_OF = "X-Loket-On-Behalf-Of"


def current_principal() -> Principal:
    """Who is calling: the key from `Authorization: Bearer <key>` (401 without a valid
    one), or, when the portal's key names a signed-in person in `X-Loket-On-Behalf-Of`,
    that person with their own role, from the accounts file (403 for anyone else's key,
    and for a person unknown or disabled)."""
    if "principal" in g:
        return g.principal
    key = presented_principal()
    if key is None:
        presented = request.headers.get("Authorization", "").partition(" ")[2].strip()
        raise ApiError(
            401,
            "unauthorized",
            "The API key is not valid." if presented
            else "An API key is required (Authorization: Bearer).",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"' if presented
                     else "Bearer"},
        )  # fmt: skip
    g.principal = _acting(key)
    return g.principal


def _acting(key: Principal) -> Principal:
    person = request.headers.get(ON_BEHALF_OF)
    if person is None:
        return key
    if key.role != "portal":
        raise ApiError(403, "forbidden", f"Only the portal's key may send {ON_BEHALF_OF}.")
    account = current_app.extensions["loket"].accounts.find(person.strip())
    if account is None:
        raise ApiError(403, "forbidden", "That person may not act (unknown or disabled).")
    return Principal(account.name, account.role)


def presented_principal() -> Principal | None:
    """The key presented, when it is valid, without refusing anyone: rate limits ask
    before any view does."""
    if "loket_key" not in g:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        valid = scheme.lower() == "bearer" and token.strip()
        g.loket_key = (
            current_app.extensions["loket"].keyring.authenticate(token.strip()) if valid else None
        )
    return g.loket_key


def require(role: str, *or_roles: str) -> Callable[[F], F]:
    """Allow callers with `role` or one of `or_roles` (for staff roles, or a higher one)."""
    roles = (role, *or_roles)
    if not set(roles) <= set(ROLES):
        raise ValueError(roles)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not any(current_principal().has_role(r) for r in roles):
                raise ApiError(403, "forbidden", f"This needs the {' or '.join(roles)} role.")
            return view(*args, **kwargs)

        wrapped.required_role = role  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorate


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
    add_entry(path, "keys", entry, "a key")
    return key


def list_keys(path: Path) -> list[dict[str, Any]]:
    """Name, role and channels of every key; never a hash."""
    return [
        {"name": k["name"], "role": k["role"], "channels": list(k.get("channels", []))}
        for k in read_entries(path, "keys")["keys"]
    ]


def revoke_key(path: Path, name: str) -> None:
    document = read_entries(path, "keys")
    kept = [k for k in document["keys"] if k.get("name") != name]
    if len(kept) == len(document["keys"]):
        raise ValueError(f"no key named {name!r}")
    document["keys"] = kept
    write_in_place(path, document)


def rotate_key(path: Path, name: str, channels: Iterable[str] | None = None) -> str:
    """A new key for the same name and role (and channels, unless given anew); the old
    one stops working."""
    document = read_entries(path, "keys")
    for entry in document["keys"]:
        if entry.get("name") == name:
            key = f"lkt_{secrets.token_urlsafe(32)}"
            entry["sha256"] = secret_digest(key)
            if channels is not None:
                entry["channels"] = list(channels)
            write_in_place(path, document)
            return key
    raise ValueError(f"no key named {name!r}")
