"""People who sign in to the console: `python -m services.common.accounts
add|password|disable|enable|list` (`make user`, `make users`, ...).

The accounts file (`LOKET_ACCOUNTS_FILE`, by default `var/accounts.yaml`, the file `make
run` uses) holds each person's name, role and Argon2 password hash, never a password.
The portal checks passwords against it; the services read the same file to know the role
of the person the portal acts for (`X-Loket-On-Behalf-Of`), so disabling an account or
changing a role takes effect at once, without a restart.
"""

from __future__ import annotations

import argparse
import functools
import os
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from services.common.config import ConfigError, var_dir
from services.common.watched import Watched, add_entry, read_entries, write_in_place

PEOPLES_ROLES = ("agent", "supervisor", "admin")
HASHER = PasswordHasher()  # Argon2id with the library's current recommended parameters


@functools.cache
def _nobody() -> str:
    """Checked against when the account does not exist, so a wrong name costs the same
    time. Made on the first sign-in, not when a service imports this module: hashing
    costs tens of milliseconds and 64 MiB, and only the portal signs people in."""
    return HASHER.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    password_hash: str
    disabled: bool
    changed_at: datetime  # a session that began before the last change ends


class _AccountSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9._-]{0,63}$"))
    role = fields.String(required=True, validate=validate.OneOf(PEOPLES_ROLES))
    argon2 = fields.String(required=True, validate=validate.Length(min=20, max=200))
    disabled = fields.Boolean(load_default=False)
    changed_at = fields.AwareDateTime(required=True, default_timezone=UTC)


class _AccountsFileSchema(Schema):
    class Meta:
        unknown = RAISE

    accounts = fields.List(fields.Nested(_AccountSchema), required=True)


class AccountBook:
    """The accounts of the accounts file, read again when it changes."""

    def __init__(self, path: Path | None = None) -> None:
        self._accounts = Watched(path, _read, {})

    def find(self, name: str) -> Account | None:
        """An account that may act now: known and not disabled."""
        account = self._accounts.get().get(name)
        return account if account is not None and not account.disabled else None

    def sign_in(self, name: str, password: str) -> Account | None:
        """The account when the password is right; the same work when the name is wrong."""
        account = self.find(name)
        try:
            HASHER.verify(account.password_hash if account else _nobody(), password)
        except (VerificationError, InvalidHashError):
            return None
        return account


def default_file() -> Path:
    named = os.environ.get("LOKET_ACCOUNTS_FILE")
    return Path(named) if named else var_dir() / "accounts.yaml"


def _read(path: Path) -> dict[str, Account]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
        loaded = _AccountsFileSchema().load(raw or {"accounts": []})
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError("LOKET_ACCOUNTS_FILE", f"cannot read {path}: {exc}") from None
    except ValidationError as exc:
        raise ConfigError("LOKET_ACCOUNTS_FILE", f"{path} is invalid: {exc.messages}") from None
    return {
        a["name"]: Account(a["name"], a["role"], a["argon2"], a["disabled"], a["changed_at"])
        for a in loaded["accounts"]
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_password() -> str:
    return secrets.token_urlsafe(15)


def add_account(path: Path, name: str, role: str, password: str | None = None) -> str:
    """A new account; its password (given, or made here) is returned to be shown once."""
    password = password or new_password()
    entry = {"name": name, "role": role, "argon2": HASHER.hash(password), "disabled": False,
             "changed_at": _now()}  # fmt: skip
    _AccountSchema().load(entry)
    add_entry(path, "accounts", entry, "an account")
    return password


def change_account(path: Path, name: str, **changes: Any) -> None:
    """Set a password (`argon2`), disable or enable; every change ends the account's
    sessions."""
    document = read_entries(path, "accounts")
    for entry in document["accounts"]:
        if entry.get("name") == name:
            entry.update(changes, changed_at=_now())
            write_in_place(path, document)
            return
    raise ValueError(f"no account named {name!r}")


def set_password(path: Path, name: str, password: str | None = None) -> str:
    password = password or new_password()
    change_account(path, name, argon2=HASHER.hash(password))
    return password


def list_accounts(path: Path) -> list[dict[str, Any]]:
    """Name, role and whether it is disabled; never a hash."""
    return [
        {"name": a["name"], "role": a["role"], "disabled": bool(a.get("disabled"))}
        for a in read_entries(path, "accounts")["accounts"]
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.common.accounts")
    parser.add_argument(
        "--file", type=Path, default=None,
        help="accounts file (default: $LOKET_ACCOUNTS_FILE or var/accounts.yaml)",
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add a person and print their first password once")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=PEOPLES_ROLES)
    for command, what in (("password", "a new password, printed once"),
                          ("disable", "the person can no longer sign in; sessions end"),
                          ("enable", "the person can sign in again")):  # fmt: skip
        sub.add_parser(command, help=what).add_argument("--name", required=True)
    sub.add_parser("list", help="every account's name, role and state")
    args = parser.parse_args(argv)
    path = args.file or default_file()
    try:
        if args.command == "add":
            print(add_account(path, args.name, args.role))
        elif args.command == "password":
            print(set_password(path, args.name))
        elif args.command in ("disable", "enable"):
            change_account(path, args.name, disabled=args.command == "disable")
            print(f"{args.command}d {args.name}")
        else:
            for account in list_accounts(path):
                state = "disabled" if account["disabled"] else ""
                print(f"{account['name']:20} {account['role']:10} {state}")
    except (ValueError, ValidationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
