"""CPU per ticket in each service's handlers, in one process, without a broker.

    .venv/bin/python -m bench.handlers [--tickets 500] [--backend postgresql]

What a worker spends on the events of one ticket once the broker has handed them over
(the queue: `ticket.created` and `notification.sent`; notify: `ticket.created` and
`ticket.queued`; feedback: `ticket.created`): validation, the inbox, the handlers'
statements, the outbox, the commit. Measured one by one and in batches of 20 (as a busy
consumer takes them), as CPU time of this process and of the database server, the
cheapest of three rounds of `--tickets` each, after a warm-up. The baseline, in the same
run on the same kind of database: a bare insert and commit. The whole desk under load is
`bench.pipeline`; this one shows which service a change made cheaper, without the noise
of a loaded machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert

from bench import cpu
from bench.intake import database
from services.common.config import load_settings
from services.common.consumer import EventProcessor
from services.common.db import make_engine, migrate
from services.common.events import Event, isoformat
from services.feedback.worker import spec as feedback_spec
from services.notify.worker import spec as notify_spec
from services.queue.worker import spec as queue_spec
from tests.support import AMQP_URL

BATCH = 20
WARM_UP = 50  # tickets
ROUNDS = 3


def ticket_created(n: int) -> Event:
    now = isoformat(datetime.now(UTC))
    return Event(
        type="ticket.created",
        source="intake",
        data={
            "ticket_id": str(uuid.uuid4()),
            "reference": f"LKT-{n:08d}",
            "channel": "web",
            "category": "password_reset",
            "queue": "frontoffice",
            "priority": 3,
            "subject": f"Locked out {n}",
            "description": "I cannot sign in since this morning.",
            "fields": {"account": f"user{n}"},
            "requester": {
                "name": "J. Doe",
                "email": f"j.doe{n}@example.org",
                "phone": None,
                "language": "en",
                "preferred_contact": "email",
            },
            "tracking_token": "t" * 32,
            "created_at": now,
            "contact_started_at": now,
            "resolved_on_contact": False,
            "resolution": None,
        },
    )


def followers(created: Event) -> list[Event]:
    """What the queue and notify publish next about the same ticket."""
    ticket = {"ticket_id": created.data["ticket_id"], "reference": created.data["reference"]}
    queued = created.caused(
        "ticket.queued",
        {**ticket, "queue": "frontoffice", "position": 1, "due_at": created.data["created_at"]}
        | {"estimated_wait_seconds": None},
        source="queue",
    )
    sent = created.caused(
        "notification.sent",
        {"ticket_id": ticket["ticket_id"], "medium": "email", "recipient": "j***@example.org"}
        | {"template": "received", "attempt": 1},
        source="notify",
    )
    return [queued, sent]


def cpu_now() -> tuple[float, float]:
    """(this process, the database server) CPU seconds so far."""
    used = cpu.snapshot(launcher_pid=-1)
    return used.get("benchmark", 0.0), used.get("postgresql", 0.0)


def best_of_rounds(run: Callable[[int], None], count: int) -> tuple[float, float]:
    """CPU milliseconds per ticket, (this process, the database server), in the cheapest of
    ROUNDS rounds of `count` tickets: the machine's own noise only ever adds."""
    rounds = []
    for round_number in range(ROUNDS):
        own, server = cpu_now()
        run(round_number)
        own_after, server_after = cpu_now()
        rounds.append(((own_after - own) * 1000 / count, (server_after - server) * 1000 / count))
    return min(rounds, key=sum)


def bare_inserts(engine: Engine, count: int) -> tuple[float, float]:
    table = Table("bare", MetaData(), Column("id", Integer, primary_key=True),
                  Column("event_id", String(36)))  # fmt: skip
    table.create(engine)
    statement = insert(table)

    def run(_round: int) -> None:
        for _ in range(count):
            with engine.begin() as conn:
                conn.execute(statement, {"event_id": str(uuid.uuid4())})

    return best_of_rounds(run, count)


def through(
    processor: EventProcessor, tickets: list[list[Event]], batch: int
) -> tuple[float, float]:
    """The first WARM_UP tickets' events fill caches (compiled statements, prepared plans)
    and are not counted; the rest are split into ROUNDS rounds."""

    def bodies(part: list[list[Event]]) -> list[bytes]:
        return [event.to_json().encode() for events in part for event in events]

    def run(part: list[bytes]) -> None:
        for start in range(0, len(part), batch):
            outcomes = processor.process_batch(part[start : start + batch])
            assert all(o.name == "PROCESSED" for o in outcomes), outcomes

    run(bodies(tickets[:WARM_UP]))
    per_round = (len(tickets) - WARM_UP) // ROUNDS
    rounds = [
        bodies(tickets[WARM_UP + r * per_round : WARM_UP + (r + 1) * per_round])
        for r in range(ROUNDS)
    ]
    return best_of_rounds(lambda r: run(rounds[r]), per_round)


SPECS = {"queue": queue_spec, "notify": notify_spec, "feedback": feedback_spec}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=500, help="per round")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="loket-bench-"))
    results: dict[str, tuple[float, float]] = {}
    drops = []
    try:
        url, drop = database(args.backend, workdir / "bare")
        drops.append(drop)
        engine = make_engine(url)
        results["bare insert and commit"] = bare_inserts(engine, args.tickets)
        engine.dispose()
        for service, spec_of in SPECS.items():
            for batch in (1, BATCH):
                (workdir / f"{service}-{batch}").mkdir()
                url, drop = database(args.backend, workdir / f"{service}-{batch}" / "db")
                drops.append(drop)
                migrate(service, url)
                settings = load_settings(
                    service,
                    {
                        f"LOKET_{service.upper()}_DATABASE_URL": url,
                        "LOKET_AMQP_URL": AMQP_URL,
                        "LOKET_NAMESPACE": f"bench-{uuid.uuid4().hex[:8]}",
                        "LOKET_SMTP_URL": "smtp://127.0.0.1:25",
                    },
                )
                worker = spec_of(settings)
                engine = make_engine(url)
                processor = EventProcessor(
                    service=service,
                    engine=engine,
                    inbox=worker.inbox,
                    outbox=worker.outbox,
                    handlers=worker.handlers,
                )
                tickets = []
                for n in range(args.tickets * ROUNDS + WARM_UP):
                    events = [created := ticket_created(n), *followers(created)]
                    tickets.append([e for e in events if e.type in processor.known_types])
                results[f"{service}, batches of {batch}"] = through(processor, tickets, batch)
                engine.dispose()
    finally:
        for drop in drops:
            drop()

    print(
        f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores, "
        f"{args.backend}, {args.tickets} tickets"
    )
    print(f"{'CPU ms per ticket':32} {'this process':>12} {'database':>10}")
    for label, (own, server) in results.items():
        print(f"{label:32} {own:12.3f} {server:10.3f}")


if __name__ == "__main__":
    main()
