"""Intake's messaging adapter: the queue's status changes, kept so that a late reply
becomes a new request instead of vanishing on a closed one."""

from __future__ import annotations

from datetime import datetime

from services.common.config import Settings
from services.common.consumer import Handler
from services.common.events import Event, to_utc
from services.common.unit_of_work import UnitOfWork
from services.intake import schemas, service

# Schemas are built once: building one costs more than a load (docs/performance.md).
STATUS_CHANGED = schemas.StatusChangedSchema()


def handlers(settings: Settings) -> dict[tuple[str, int], Handler]:
    def status_changed(unit: UnitOfWork, event: Event) -> None:
        at = to_utc(datetime.fromisoformat(event.occurred_at))
        service.record_status(unit, STATUS_CHANGED.load(event.data), at)

    return {("ticket.status_changed", 1): status_changed}
