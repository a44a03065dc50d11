"""The first run's mailbox: with no `LOKET_SMTP_URL`, `make run` delivers the desk's mail
here, one `.eml` file per message under `var/mail/`, so a new desk sends its confirmations
and the new user follows their links as a customer would.

    python -m services.mailcatcher serve --port 1025 --folder var/mail   # make run starts it
    python -m services.mailcatcher list [--folder var/mail]              # make mail
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import re
import signal
import sys
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from services.common.config import var_dir

LINK = re.compile(r"https?://\S+")


class Keeper:
    """aiosmtpd's handler: every message as it came, in a file its owner alone may read."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._numbers = itertools.count(1)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.folder / f"{stamp}-{os.getpid()}-{next(self._numbers):05d}.eml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(envelope.original_content or envelope.content)
        return "250 kept"


def serve(port: int, folder: Path) -> None:
    controller = Controller(Keeper(folder), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"keeping every message in {folder} (make mail lists them)", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


def summary(path: Path) -> str:
    message: EmailMessage = message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[assignment]
    body = message.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    links = LINK.findall(text)
    lines = [f"{path.name}  to {message['To']}", f"  {message['Subject']}"]
    lines += [f"  {link}" for link in links[:1]]
    return "\n".join(lines)


def list_messages(folder: Path) -> int:
    paths = sorted(folder.glob("*.eml")) if folder.is_dir() else []
    if not paths:
        print(f"no mail in {folder} yet")
        return 0
    for path in paths:
        with contextlib.suppress(OSError):
            print(summary(path))
    counted = "1 message" if len(paths) == 1 else f"{len(paths)} messages"
    print(f"{counted} in {folder}; open one with any mail program")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.mailcatcher")
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve")
    serving.add_argument("--port", type=int, default=1025)
    serving.add_argument("--folder", type=Path, default=var_dir() / "mail")
    listing = commands.add_parser("list")
    listing.add_argument("--folder", type=Path, default=var_dir() / "mail")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.port, args.folder)
        return 0
    return list_messages(args.folder)


if __name__ == "__main__":
    sys.exit(main())
