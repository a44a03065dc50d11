"""Add an API key: `python -m services.common.keys add --name alice --role agent`.

The key is printed once and only its SHA-256 hash is written to the keys file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from services.common.auth import CHANNELS, ROLES, add_key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.common.keys")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add a key and print it once")
    add.add_argument(
        "--file",
        default=os.environ.get("LOKET_API_KEYS_FILE"),
        help="keys file (default: $LOKET_API_KEYS_FILE)",
    )
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument(
        "--channels", default="", help=f"comma-separated, for client keys: {', '.join(CHANNELS)}"
    )
    args = parser.parse_args(argv)
    if not args.file:
        parser.error("--file or LOKET_API_KEYS_FILE is required")
    channels = [c.strip() for c in args.channels.split(",") if c.strip()]
    try:
        key = add_key(Path(args.file), args.name, args.role, channels)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # marshmallow's ValidationError names the bad field
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
