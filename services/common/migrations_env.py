"""The body of every service's Alembic `env.py`: one migration history per service."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, MetaData

from services.common.db import make_engine


def run(metadata: MetaData) -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection, metadata)
        return
    engine = make_engine(context.config.get_main_option("sqlalchemy.url"))
    try:
        with engine.begin() as conn:
            _run(conn, metadata)
    finally:
        engine.dispose()


def _run(connection: Connection, metadata: MetaData) -> None:
    # Batch mode lets later migrations alter SQLite tables (SQLite has no ALTER COLUMN).
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
