"""The contract's words are the ones every service uses."""

from __future__ import annotations

import pytest

from services.common.config import load_settings
from services.common.unit_of_work import UnitOfWork
from services.common.vocabulary import EVENTS
from services.feedback import handlers as feedback_handlers
from services.intake import handlers as intake_handlers
from services.notify.handlers import SCHEMAS as NOTIFY_READS
from services.queue import handlers as queue_handlers


def test_every_event_a_service_handles_is_one_of_the_contract():
    settings = load_settings("queue", {})
    handled = {
        *intake_handlers.handlers(settings),
        *queue_handlers.handlers(settings),
        *feedback_handlers.handlers(settings),
    }
    assert {event_type for event_type, _ in handled} | set(NOTIFY_READS) <= set(EVENTS)


@pytest.mark.parametrize("event_type", ["ticket.created", "ticket.made_up"])
def test_a_service_emits_only_the_events_it_publishes(event_type):
    unit = UnitOfWork(None, "queue", None)  # refused before anything is staged
    with pytest.raises(ValueError, match="publishes no event"):
        unit.emit(event_type, {})
