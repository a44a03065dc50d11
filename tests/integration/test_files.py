"""What a desk on one machine writes is its owner's alone (issue 33, 9): the var directory,
the SQLite databases with their -wal and -shm files, made so or mended at start."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from pathlib import Path

from sqlalchemy import text

from services.common.config import private_var_dir
from services.common.db import make_engine, transaction


@contextlib.contextmanager
def permissive_umask():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_something(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with transaction(engine) as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        # While a connection is open the journal files exist.
        with engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM t"))
            files = sorted(p.name for p in url_path(url).parent.iterdir())
            modes = {name: mode(url_path(url).parent / name) for name in files}
    finally:
        engine.dispose()
    return modes


def url_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def test_a_new_database_and_its_journal_are_readable_by_their_owner_only(tmp_path):
    url = f"sqlite:///{tmp_path / 'var' / 'intake.db'}"
    with permissive_umask():
        modes = write_something(url)
    assert modes == {"intake.db": 0o600, "intake.db-shm": 0o600, "intake.db-wal": 0o600}
    assert mode(tmp_path / "var") == 0o700


def test_a_database_made_readable_to_all_is_mended_at_start(tmp_path):
    path = tmp_path / "queue.db"
    with permissive_umask():
        old = sqlite3.connect(path)
        old.execute("PRAGMA journal_mode=WAL")
        old.execute("CREATE TABLE t (x INTEGER)")
        assert mode(path) == 0o644
        modes = write_something(f"sqlite:///{path}")
        old.close()
    assert modes == {"queue.db": 0o600, "queue.db-shm": 0o600, "queue.db-wal": 0o600}


def test_the_var_directory_is_its_owners_alone(tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    assert private_var_dir({"LOKET_VAR_DIR": str(var)}) == var
    assert mode(var) == 0o700
