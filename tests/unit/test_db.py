"""SQLite's transactions as the services use them (decision 0003)."""

from sqlalchemy import text

from services.common.db import make_engine, reading, transaction


def test_a_reader_is_not_held_up_by_a_writer_on_sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with transaction(engine) as conn:
            conn.execute(text("CREATE TABLE t (n INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        with transaction(engine) as writer:
            writer.execute(text("UPDATE t SET n = 2"))  # holds the write lock, uncommitted
            with reading(engine) as reader:
                seen = reader.scalar(text("SELECT n FROM t"))
        # The committed value: a reader beginning IMMEDIATE would have waited for the lock
        # (busy_timeout, 5 s) and then failed with "database is locked".
        assert seen == 1
        with reading(engine) as reader:
            assert reader.scalar(text("SELECT n FROM t")) == 2
    finally:
        engine.dispose()
