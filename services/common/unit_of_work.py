"""One unit of work for every use case of every service.

A use case changes its service's tables, stages the events that follow in the outbox and
asks for what may only happen once both are committed (metric observations), all through
the `UnitOfWork` it is given. Who opens it is an adapter: an HTTP view (`web.change()`),
the consumer for an event, or a timer. The unit knows its service (the events' source)
and why the change happens (a request's correlation id, or the event it follows), so a
use case only says what happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Table

from services.common.db import transaction
from services.common.events import Event
from services.common.outbox import add_events
from services.common.vocabulary import EVENTS


class UnitOfWork:
    """A service's open transaction, what it emits and what waits for the commit."""

    def __init__(
        self,
        conn: Connection,
        source: str,
        outbox: Table,
        *,
        correlation_id: str | None = None,
        event: Event | None = None,
        committed: list[Callable[[], None]] | None = None,
    ) -> None:
        self.conn = conn
        self.source = source
        self.outbox = outbox
        self.correlation_id = correlation_id
        self.event = event
        self.committed = committed if committed is not None else []

    def emit(self, type: str, data: dict[str, Any], *, caused_by: str | None = None) -> Event:
        """Stage an event in the outbox: it leaves only if the unit commits.

        It follows the event being handled (its correlation, and that event as its cause),
        or carries the request's correlation id; `caused_by` names another cause, such as
        the event a notification reports on.
        """
        if EVENTS.get(type) != self.source:
            raise ValueError(f"{self.source} publishes no event {type!r} (vocabulary.EVENTS)")
        if caused_by is not None:
            event = Event(type=type, data=data, source=self.source, causation_id=caused_by)
        elif self.event is not None:
            event = self.event.caused(type, data, source=self.source)
        else:
            event = Event(
                type=type, data=data, source=self.source, correlation_id=self.correlation_id
            )
        add_events(self.conn, self.outbox, [event])
        return event

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once the change is committed, and never if it is rolled back."""
        self.committed.append(action)

    def following(self, event: Event) -> UnitOfWork:
        """The same transaction, for another event of a batch handled together."""
        return UnitOfWork(
            self.conn, self.source, self.outbox, event=event, committed=self.committed
        )


def run_committed(actions: Iterable[Callable[[], None]]) -> None:
    for action in actions:
        action()


@contextmanager
def unit_of_work(
    engine: Engine,
    source: str,
    outbox: Table,
    *,
    correlation_id: str | None = None,
    event: Event | None = None,
) -> Iterator[UnitOfWork]:
    """Open a unit; commit on success, roll back on any exception, then run what waited
    for the commit."""
    with transaction(engine) as conn:
        unit = UnitOfWork(conn, source, outbox, correlation_id=correlation_id, event=event)
        yield unit
    run_committed(unit.committed)
