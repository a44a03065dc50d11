"""`make backup` and `make restore` on SQLite (the PostgreSQL drill under load is in
tests/e2e/test_beyond_one_host.py)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services import backup
from services.common.config import SERVICES, ConfigError
from services.common.db import make_engine, migrate, transaction
from services.common.events import Event
from services.common.outbox import add_events
from services.intake import storage as intake_storage
from tests.support import REPO, python_module


def _desk(folder) -> dict[str, str]:
    return {f"LOKET_{s.upper()}_DATABASE_URL": f"sqlite:///{folder / f'{s}.db'}" for s in SERVICES}


def _outbox(url: str) -> list[tuple[str, object]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(intake_storage.outbox.c.event_id, intake_storage.outbox.c.sent_at)
        )
        found = [tuple(r) for r in rows]
    engine.dispose()
    return found


def test_a_restore_brings_back_every_database_and_publishes_recent_events_again(tmp_path):
    old = _desk(tmp_path / "old")
    for service in SERVICES:
        migrate(service, old[f"LOKET_{service.upper()}_DATABASE_URL"])
    url = old["LOKET_INTAKE_DATABASE_URL"]
    engine = make_engine(url)
    recent, long_ago = (Event(type="ticket.created", data={}, source="intake") for _ in range(2))
    with transaction(engine) as conn:
        add_events(conn, intake_storage.outbox, [recent, long_ago])
        outbox = intake_storage.outbox
        now = datetime.now(UTC)
        for event, sent_at in ((recent, now), (long_ago, now - timedelta(days=2))):
            conn.execute(
                outbox.update().where(outbox.c.event_id == event.id).values(sent_at=sent_at)
            )
    engine.dispose()

    done = subprocess.run(
        [*python_module("services.backup"), "dump", str(tmp_path / "backup")],
        cwd=REPO, env={**old, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "backup").iterdir()) == sorted(
        ["manifest.json", *(f"{s}.db" for s in SERVICES)]
    )

    new = _desk(tmp_path / "new")
    replayed = backup.restore(tmp_path / "backup", new)
    assert replayed == {"intake": 1, "queue": 0, "notify": 0, "feedback": 0}
    restored = dict(_outbox(new["LOKET_INTAKE_DATABASE_URL"]))
    assert restored[recent.id] is None  # the relay publishes it again
    assert restored[long_ago.id] is not None  # beyond the replay window: left as sent

    with pytest.raises(ConfigError, match="not empty"):
        backup.restore(tmp_path / "backup", new)  # never over a desk's data


def test_a_folder_that_is_no_backup_is_refused_with_a_message(tmp_path):
    done = subprocess.run(
        [*python_module("services.backup"), "restore", str(tmp_path / "nowhere")],
        cwd=REPO, env={**_desk(tmp_path), "PATH": "/usr/bin:/bin"}, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: no backup at {tmp_path / 'nowhere' / 'manifest.json'}"
    assert not any(tmp_path.glob("*.db"))  # nothing was touched
