"""The baseline for bench/intake.py: a bare Flask endpoint doing one insert and commit
into the same database, served with the same gunicorn settings as intake."""

from __future__ import annotations

import os
import uuid

from flask import Flask, jsonify, request
from sqlalchemy import JSON, Column, MetaData, String, Table, insert

from services.common.db import make_engine

metadata = MetaData()
bare = Table(
    "bench_bare",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("body", JSON, nullable=False),
)


def create_app() -> Flask:
    engine = make_engine(os.environ["BENCH_DATABASE_URL"])
    metadata.create_all(engine)
    app = Flask("bare")

    @app.post("/bare")
    def accept():
        row_id = str(uuid.uuid4())
        with engine.begin() as conn:
            conn.execute(insert(bare).values(id=row_id, body=request.get_json()))
        return jsonify(id=row_id), 201

    return app
