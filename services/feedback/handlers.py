"""Feedback's messaging adapter."""

from __future__ import annotations

from sqlalchemy import Connection

from services.common.consumer import Handler
from services.common.events import Event, to_utc
from services.feedback import storage
from services.feedback.schemas import ContactSchema


def on_ticket_created(conn: Connection, event: Event) -> None:
    """Every contact is data, also one solved on the spot."""
    contact = ContactSchema().load(event.data)
    contact["created_at"] = to_utc(contact["created_at"])
    storage.record_contact(conn, contact)


def handlers() -> dict[tuple[str, int], Handler]:
    return {("ticket.created", 1): on_ticket_created}
