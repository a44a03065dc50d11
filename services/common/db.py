"""Database access: one SQLAlchemy engine per process, SQLite or PostgreSQL.

SQLite is the embedded default. Web and worker processes share its file, so every
transaction starts with `BEGIN IMMEDIATE`: a writer takes the lock at the start instead of
failing with "database is locked" when it upgrades from reading to writing half-way.
That is also why code may ask for `FOR UPDATE [SKIP LOCKED]` without looking at the
database: SQLAlchemy leaves it out on SQLite, where no other writer can be inside the
transaction anyway.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Connection, Engine, Integer, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, OperationalError

SQLITE_BUSY_TIMEOUT_MS = 30_000
# A growing key: 64 bits on PostgreSQL; on SQLite only INTEGER PRIMARY KEY autoincrements.
BigId = BigInteger().with_variant(Integer, "sqlite")


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _private_sqlite_file(Path(parsed.database))
        engine = create_engine(
            url,
            connect_args={
                "isolation_level": None,
                "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                "check_same_thread": False,
            },
        )

        @event.listens_for(engine, "connect")
        def _configure(dbapi_conn: sqlite3.Connection, _record: object) -> None:
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")
            dbapi_conn.execute("PRAGMA foreign_keys=ON")
            dbapi_conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Connection) -> None:
            # A reader (see `reading`) needs no write lock: WAL gives it a snapshot.
            deferred = conn.get_execution_options().get(READING)
            conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

        return engine
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5},
    )
    _ping_when_idle(engine)
    return engine


def _private_sqlite_file(path: Path) -> None:
    """A database file its owner alone may read: made so before SQLite opens it (SQLite
    gives its -wal and -shm files the database's mode), and mended if made otherwise."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            if part.stat().st_mode & 0o077:
                part.chmod(0o600)


# A connection back in the pool within this many seconds is used without a ping: under
# load a ping per checkout was a third of the database's transactions (issue 23). One
# found dead anyway (the database restarted a moment ago) fails that one statement; the
# pool then drops every connection older than the failure, the request answers 503 with
# Retry-After and an event is retried, so nothing is lost.
PING_AFTER_IDLE_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("checked_in_at")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            with dbapi_conn.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as exc:
            # The pool discards it and checks out (or makes) another.
            raise DisconnectionError() from exc


READING = "loket_reading"


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection that only reads. On SQLite every other transaction begins IMMEDIATE,
    taking the one write lock at once (decision 0003); a reader does not need it, and
    with it every customer's status page would wait for every write."""
    with engine.connect().execution_options(**{READING: True}) as conn:
        yield conn


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One unit of work: commit on success, roll back on any exception.

    Core connections, not ORM sessions: the services write tables, not object graphs, and
    the ORM's unit of work cost a third of intake's time per request (bench/intake.py).
    """
    with engine.begin() as conn:
        yield conn


def alembic_config(migrations_dir: Path, url: str) -> Any:
    from alembic.config import Config as AlembicConfig  # only migrating processes need it

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(migrations_dir))
    # Alembic's config is ConfigParser-based: a literal '%' must be doubled.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrations_dir(service: str) -> Path:
    return Path(__file__).resolve().parents[1] / service / "migrations"


DEADLOCK_DETECTED = "40P01"  # PostgreSQL's SQLSTATE


def migrate(service: str, url: str, revision: str = "head", attempts: int = 5) -> None:
    """Bring the database to the newest schema of the service's own migration history (or
    to `revision` of it).

    An expand step runs while the desk works (docs/operations.md, "Upgrades"): its DDL can
    meet a worker's transaction in a deadlock, which PostgreSQL ends by rolling the
    migration back whole; it is then tried again."""
    # Which plugins Alembic sets up (at import) is noise on every start; the upgrades it
    # runs are worth a line each.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    from alembic import command

    engine = make_engine(url)
    try:
        for attempt in range(1, attempts + 1):
            try:
                with engine.begin() as conn:
                    cfg = alembic_config(migrations_dir(service), url)
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, revision)
                return
            except OperationalError as exc:
                lost = getattr(exc.orig, "sqlstate", None) == DEADLOCK_DETECTED
                if not lost or attempt == attempts:
                    raise
                logging.getLogger(__name__).warning(
                    "%s: the migration lost a deadlock to the running desk; trying again", service
                )
                time.sleep(attempt)
    finally:
        engine.dispose()
