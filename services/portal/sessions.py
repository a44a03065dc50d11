"""The console's sessions, kept on the server: a cookie is only a session's id.

The signed cookie alone once was the session, so a copy of it still worked after its
person signed out. Now a session lives here from sign-in to sign-out, to its idle time or
to its absolute lifetime, whichever comes first, and a cookie whose session is gone opens
nothing. Every portal process must see the same sessions: in Redis where the portal
counts sign-in failures there (`LOKET_RATE_LIMIT_STORAGE_URL`, as under Compose), else in
one SQLite file of the machine's desk (`var/portal-sessions.db`, for `make run`'s several
web processes). Only a digest of the id is stored, as with every other secret.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import redis

from services.common.hashing import secret_digest


class SessionStoreDown(Exception):
    """The shared store does not answer: no session can be checked."""


@dataclass(frozen=True)
class Session:
    person: str
    since: float  # signed in at (the absolute lifetime counts from here)
    seen: float  # last used by the person (the idle time counts from here)


@dataclass(frozen=True)
class Lifetimes:
    idle_seconds: float
    absolute_seconds: float

    def alive(self, session: Session, now: float) -> bool:
        return (
            now - session.seen <= self.idle_seconds and now - session.since <= self.absolute_seconds
        )


class _Backend(Protocol):
    def get(self, key: str) -> Session | None: ...
    def put(self, key: str, session: Session, expires_in: float) -> None: ...
    def delete(self, key: str) -> None: ...


class SessionStore:
    def __init__(self, backend: _Backend, lifetimes: Lifetimes) -> None:
        self.backend = backend
        self.lifetimes = lifetimes

    def begin(self, session_id: str, person: str, now: float) -> None:
        session = Session(person, now, now)
        self.backend.put(secret_digest(session_id), session, self._left(session, now))

    def find(self, session_id: str, now: float) -> Session | None:
        """The live session of this id; one past its idle time or lifetime is ended."""
        key = secret_digest(session_id)
        session = self.backend.get(key)
        if session is None:
            return None
        if not self.lifetimes.alive(session, now):
            self.backend.delete(key)
            return None
        return session

    def touch(self, session_id: str, session: Session, now: float) -> None:
        used = Session(session.person, session.since, now)
        self.backend.put(secret_digest(session_id), used, self._left(used, now))

    def end(self, session_id: str) -> None:
        self.backend.delete(secret_digest(session_id))

    def _left(self, session: Session, now: float) -> float:
        """How long the store must keep it: no longer than either limit allows."""
        return max(
            1.0,
            min(
                session.seen + self.lifetimes.idle_seconds,
                session.since + self.lifetimes.absolute_seconds,
            )
            - now,
        )


class RedisSessions:
    def __init__(self, url: str, namespace: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = f"{namespace}:loket:desk-session:"

    def get(self, key: str) -> Session | None:
        try:
            raw = self.client.get(self.prefix + key)
        except redis.RedisError as exc:
            raise SessionStoreDown(type(exc).__name__) from None
        return Session(**json.loads(raw)) if raw else None

    def put(self, key: str, session: Session, expires_in: float) -> None:
        value = json.dumps(session.__dict__)
        try:
            self.client.set(self.prefix + key, value, px=int(expires_in * 1000))
        except redis.RedisError as exc:
            raise SessionStoreDown(type(exc).__name__) from None

    def delete(self, key: str) -> None:
        try:
            self.client.delete(self.prefix + key)
        except redis.RedisError as exc:
            raise SessionStoreDown(type(exc).__name__) from None


SWEEP_SECONDS = 60.0


class SqliteSessions:
    """One small file for the web processes of one machine; created for its owner only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.local = threading.local()
        self.next_sweep = 0.0
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        with self._conn() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS sessions (key TEXT PRIMARY KEY, person TEXT NOT NULL,"
                " since REAL NOT NULL, seen REAL NOT NULL, expires REAL NOT NULL)"
            )

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=5, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            self.local.conn = conn
        return conn

    def get(self, key: str) -> Session | None:
        row = (
            self._conn()
            .execute("SELECT person, since, seen FROM sessions WHERE key = ?", (key,))
            .fetchone()
        )
        return Session(*row) if row else None

    def put(self, key: str, session: Session, expires_in: float) -> None:
        expires = session.seen + expires_in
        conn = self._conn()
        conn.execute(
            "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?)",
            (key, session.person, session.since, session.seen, expires),
        )
        # Sessions nobody ended (a closed browser) go once they could no longer be used:
        # swept once a minute at most, not on every page an agent opens.
        if session.seen >= self.next_sweep:
            self.next_sweep = session.seen + SWEEP_SECONDS
            conn.execute("DELETE FROM sessions WHERE expires < ?", (session.seen,))

    def delete(self, key: str) -> None:
        self._conn().execute("DELETE FROM sessions WHERE key = ?", (key,))


class MemorySessions:
    """For one process alone (a test's portal built without a desk's folder)."""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}

    def get(self, key: str) -> Session | None:
        return self.sessions.get(key)

    def put(self, key: str, session: Session, expires_in: float) -> None:
        self.sessions[key] = session

    def delete(self, key: str) -> None:
        self.sessions.pop(key, None)


def session_store(
    storage_url: str, namespace: str, sessions_file: Path | None, lifetimes: Lifetimes
) -> SessionStore:
    if storage_url.startswith(("redis://", "rediss://")):
        backend: _Backend = RedisSessions(storage_url, namespace)
    elif sessions_file is not None:
        backend = SqliteSessions(sessions_file)
    else:
        backend = MemorySessions()
    return SessionStore(backend, lifetimes)
