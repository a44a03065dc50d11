"""A file's parsed content that follows the file: the keys file and the accounts file
change while the desk runs (a key added, an account disabled) and take effect without a
restart."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml

from services.common.config import ConfigError

T = TypeVar("T")
log = logging.getLogger(__name__)


class Watched(Generic[T]):
    """Read again when the file changes (checked at most once a second). A file that
    became unreadable or invalid keeps the last good content, with a warning: a half
    written file must not lock everyone out."""

    RECHECK_SECONDS = 1.0

    def __init__(self, path: Path | None, parse: Callable[[Path], T], empty: T) -> None:
        self._path, self._parse = path, parse
        self._content = parse(path) if path is not None else empty
        self._seen = _file_state(path) if path is not None else None
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    def get(self) -> T:
        if self._path is None or time.monotonic() - self._checked < self.RECHECK_SECONDS:
            return self._content
        with self._lock:
            self._checked = time.monotonic()
            state = _file_state(self._path)
            if state != self._seen:
                try:
                    self._content = self._parse(self._path)
                    self._seen = state
                    log.info("%s changed: read again", self._path.name)
                except ConfigError as exc:
                    log.warning("%s changed but is not usable; keeping it as it was: %s",
                                self._path.name, exc)  # fmt: skip
        return self._content


def read_entries(path: Path, section: str) -> dict[str, Any]:
    """A named-entries YAML file (keys, accounts) as a document; empty if there is none."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    document = yaml.safe_load(text) or {}
    document.setdefault(section, [])
    return document


def add_entry(path: Path, section: str, entry: dict[str, Any], what: str) -> None:
    """Append `entry` to the file's `section`, refusing a name that is taken."""
    document = read_entries(path, section)
    if any(e.get("name") == entry["name"] for e in document[section]):
        raise ValueError(f"{what} named {entry['name']!r} exists already")
    document[section].append(entry)
    write_in_place(path, document)


def write_in_place(path: Path, document: Any) -> None:
    """A watched YAML file written in place, not renamed over: a file bind-mounted into a
    container (a Compose secret) keeps its inode and so sees the change. A process that
    reads it half written keeps what it had and reads it again a second later."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(yaml.safe_dump(document, sort_keys=False))
    path.chmod(0o600)


def _file_state(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
