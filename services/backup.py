"""Back up every service's database, and restore them: `make backup`, `make restore`.

    python -m services.backup dump [FOLDER]     # default var/backups/<UTC time>
    python -m services.backup restore FOLDER    # into the configured, empty databases
    python -m services.backup replay --since T  # after restoring by any other means

Each database is dumped on its own (PostgreSQL: `pg_dump --format=custom`; SQLite: the
online backup API), each a consistent snapshot, and `manifest.json` records when the
dump began. The four snapshots are not one moment: an event one service had published
before its snapshot may not have reached another before that one's snapshot, and the
broker's queues are not in the backup. So a restore, after loading the data and
migrating it to this version's schema, marks every event its outboxes sent during the
last `--replay-hours` before the dump began (default 24) as not yet sent: the relays
publish them again, and every consumer's inbox, restored with its data, lets through only
those it had not applied. Jobs of notify's work queue come back the same way, so a
delivery that was waiting for its next attempt is tried again. Nothing is applied twice;
what happened after the dump began is not in the backup.

Databases restored another way (a managed database's snapshot, point-in-time recovery,
pg_restore by hand) need the same last step: `replay --since` the moment the oldest
snapshot was taken, less the longest time an event may wait in the broker.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from importlib import import_module
from pathlib import Path
from typing import Any

from sqlalchemy import Table, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from services.common.config import SERVICES, ConfigError, load_settings, var_dir
from services.common.db import make_engine, migrate

MANIFEST = "manifest.json"
DEFAULT_REPLAY = timedelta(hours=24)


def _libpq(url: str) -> str:
    """A database URL as pg_dump and pg_restore read it (no SQLAlchemy driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "")


def _outboxes(service: str) -> list[Table]:
    storage = import_module(f"services.{service}.storage")
    return [t for t in storage.metadata.sorted_tables if t.name.endswith("outbox")]


def dump(folder: Path, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Every service's database into `folder`, with a manifest; returns the manifest."""
    folder.mkdir(parents=True, exist_ok=False)
    try:
        return _dump_into(folder, environ)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # half a backup is no backup
        raise


def _dump_into(folder: Path, environ: dict[str, str] | None) -> dict[str, Any]:
    manifest: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(), "databases": {}}
    for service in SERVICES:
        url = load_settings(service, environ).database_url
        if make_url(url).get_backend_name() == "sqlite":
            target = folder / f"{service}.db"
            source = sqlite3.connect(_sqlite_path(url))
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)
            finally:
                copy.close()
                source.close()
        else:
            target = folder / f"{service}.dump"
            subprocess.run(
                ["pg_dump", "--format=custom", "--no-owner", f"--file={target}", _libpq(url)],
                check=True,
            )
        manifest["databases"][service] = target.name
    manifest["finished_at"] = datetime.now(UTC).isoformat()
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def restore(
    folder: Path, environ: dict[str, str] | None = None, window: timedelta = DEFAULT_REPLAY
) -> dict[str, int]:
    """Load a dump into the configured databases, which must be empty, bring them to this
    version's schema and mark the events to publish again; returns how many per service."""
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    replay_from = datetime.fromisoformat(manifest["started_at"]) - window
    for service in SERVICES:
        _refuse_unless_empty(service, load_settings(service, environ).database_url)
    for service in SERVICES:
        url = load_settings(service, environ).database_url
        source = folder / manifest["databases"][service]
        if make_url(url).get_backend_name() == "sqlite":
            _sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, _sqlite_path(url))
        else:
            subprocess.run(
                ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={_libpq(url)}",
                 str(source)],
                check=True,
            )  # fmt: skip
        migrate(service, url)
    return replay(replay_from, environ)


def replay(
    since: datetime, environ: dict[str, str] | None = None, services: tuple[str, ...] = SERVICES
) -> dict[str, int]:
    """Mark every event the services' outboxes sent since `since` as not yet sent, so
    that their relays publish it again; returns how many per service."""
    return {s: _replay(load_settings(s, environ).database_url, s, since) for s in services}


def _refuse_unless_empty(service: str, url: str) -> None:
    if make_url(url).get_backend_name() == "sqlite":
        path = _sqlite_path(url)
        if path.exists() and path.stat().st_size > 0:
            raise ConfigError(f"LOKET_{service.upper()}_DATABASE_URL", f"{path} is not empty")
        return
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            ).scalar()
    finally:
        engine.dispose()
    if tables:
        raise ConfigError(
            f"LOKET_{service.upper()}_DATABASE_URL", "restore into an empty database only"
        )


def _replay(url: str, service: str, since: datetime) -> int:
    engine = make_engine(url)
    count = 0
    try:
        with engine.begin() as conn:
            for outbox in _outboxes(service):
                count += conn.execute(
                    update(outbox).where(outbox.c.sent_at >= since).values(sent_at=None)
                ).rowcount
    finally:
        engine.dispose()
    return count


def _counts(replayed: dict[str, int]) -> str:
    return ", ".join(f"{service} {count}" for service, count in replayed.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.backup")
    commands = parser.add_subparsers(dest="command", required=True)
    dumping = commands.add_parser("dump", help="back up every service's database")
    dumping.add_argument("folder", nargs="?", type=Path)
    restoring = commands.add_parser("restore", help="restore a backup into empty databases")
    restoring.add_argument("folder", type=Path)
    restoring.add_argument(
        "--replay-hours", type=float, default=DEFAULT_REPLAY / timedelta(hours=1)
    )
    replaying = commands.add_parser("replay", help="publish again what was sent since T")
    replaying.add_argument("--since", type=datetime.fromisoformat, required=True)
    replaying.add_argument("--service", choices=SERVICES, action="append")
    args = parser.parse_args(argv)
    try:
        if args.command == "dump":
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            folder = args.folder or var_dir() / "backups" / stamp
            manifest = dump(folder)
            print(f"backed up {', '.join(manifest['databases'])} into {folder}")
        elif args.command == "restore":
            replayed = restore(args.folder, window=timedelta(hours=args.replay_hours))
            print(f"restored {args.folder}; events to publish again: {_counts(replayed)}")
        else:
            since = args.since if args.since.tzinfo else args.since.replace(tzinfo=UTC)
            replayed = replay(since, services=tuple(args.service or SERVICES))
            print(f"events to publish again: {_counts(replayed)}")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"error: {exc.cmd[0]} failed with status {exc.returncode}", file=sys.stderr)
        return 1
    except FileExistsError as exc:
        print(f"error: {exc.filename} exists already: back up into a new folder", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        if exc.filename in ("pg_dump", "pg_restore"):
            # They come with PostgreSQL's client (Debian: postgresql-client).
            print(f"error: {exc.filename} is not installed", file=sys.stderr)
        else:
            print(f"error: no backup at {exc.filename}", file=sys.stderr)
        return 1
    except OperationalError as exc:
        print(f"error: a database does not answer: {exc.orig}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
