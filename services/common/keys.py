"""API keys: `python -m services.common.keys add|list|revoke|rotate`.

A key is printed once, when it is made; only its SHA-256 hash is written to the keys file
(`LOKET_API_KEYS_FILE`, by default `var/api-keys.yaml`, the file `make run` uses). Running
services read the file again when it changes: no restart.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from marshmallow import ValidationError

from services.common.auth import CHANNELS, ROLES, add_key, list_keys, revoke_key, rotate_key
from services.common.config import var_dir


def default_file() -> Path:
    """The same file a desk started by `make run` reads."""
    named = os.environ.get("LOKET_API_KEYS_FILE")
    return Path(named) if named else var_dir() / "api-keys.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.common.keys")
    parser.add_argument(
        "--file", type=Path, default=None, help="keys file (default: $LOKET_API_KEYS_FILE or "
        "var/api-keys.yaml)"
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add a key and print it once")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument(
        "--channels", default="", help=f"comma-separated, for client keys: {', '.join(CHANNELS)}"
    )
    sub.add_parser("list", help="every key's name, role and channels")
    for command, what in (("revoke", "remove a key"), ("rotate", "a new key for a name")):
        sub.add_parser(command, help=what).add_argument("--name", required=True)
    args = parser.parse_args(argv)
    path = args.file or default_file()
    try:
        if args.command == "add":
            channels = [c.strip() for c in args.channels.split(",") if c.strip()]
            print(add_key(path, args.name, args.role, channels))
        elif args.command == "rotate":
            print(rotate_key(path, args.name))
        elif args.command == "revoke":
            revoke_key(path, args.name)
            print(f"revoked {args.name}")
        else:
            for key in list_keys(path):
                print(f"{key['name']:20} {key['role']:10} {','.join(key['channels'])}")
    except (ValueError, ValidationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
