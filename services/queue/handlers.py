"""The queue service's messaging adapter: one plain function per event type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from services.common.consumer import Handler
from services.common.events import Event, isoformat, to_utc
from services.common.hashing import secret_digest
from services.common.outbox import add_events
from services.queue import domain, storage
from services.queue.schemas import CustomerRepliedSchema, TicketCreatedSchema


def on_ticket_created(sla: Mapping[str, Any]) -> Handler:
    def handle(conn: Connection, event: Event) -> None:
        data = TicketCreatedSchema().load(event.data)
        if storage.ticket_exists(conn, data["ticket_id"]):
            return
        created_at = to_utc(data["created_at"])
        contact = data["contact_started_at"]
        start = domain.clock_start(
            data["channel"], created_at, to_utc(contact) if contact else None
        )
        status = "resolved" if data["resolved_on_contact"] else "queued"
        language = data["requester"]["language"]
        ticket = {
            "id": data["ticket_id"],
            "reference": data["reference"],
            "tracking_token_sha256": secret_digest(data["tracking_token"]),
            "channel": data["channel"],
            "category": data["category"],
            "queue": data["queue"],
            "priority": data["priority"],
            "status": status,
            "subject": data["subject"],
            "description": data["description"],
            "fields": data["fields"],
            "requester": data["requester"],
            "created_at": created_at,
            "contact_started_at": start,
            "due_at": domain.due_at(start, data["priority"], data["channel"], sla),
            "updated_at": created_at,
        }
        storage.add_ticket(conn, ticket)
        message = domain.public_message(status, language)
        if status == "resolved" and data["resolution"]:
            message = data["resolution"]
        storage.add_history(conn, ticket["id"], created_at, "created", status, message)
        if status != "queued":
            return
        row = storage.ticket_by_reference(conn, ticket["reference"])
        queued = event.caused(
            "ticket.queued",
            {
                "ticket_id": ticket["id"],
                "reference": ticket["reference"],
                "queue": ticket["queue"],
                "position": storage.queue_position(conn, row),
                "due_at": isoformat(ticket["due_at"]),
                "estimated_wait_seconds": None,
            },
            source="queue",
        )
        add_events(conn, storage.outbox, [queued])

    return handle


def on_customer_replied(conn: Connection, event: Event) -> None:
    """The customer's own words go to the agents; the status page confirms receipt."""
    data = CustomerRepliedSchema().load(event.data)
    ticket = storage.ticket_by_id(conn, data["ticket_id"])
    if ticket is None:
        # Redelivery can overtake the ticket's creation: requeue; the delivery limit
        # dead-letters a reply to a ticket that never comes.
        raise LookupError(f"ticket {data['ticket_id']} is not known yet")
    language = (ticket.requester or {}).get("language", "nl")
    storage.add_history(
        conn,
        ticket.id,
        to_utc(data["received_at"]),
        "customer_replied",
        ticket.status,
        public_message=domain.public_message("customer_replied", language),
        internal_note=data["message"],
        actor="customer",
    )


def handlers(desk: Mapping[str, Any]) -> dict[tuple[str, int], Handler]:
    return {
        ("ticket.created", 1): on_ticket_created(desk["sla"]),
        ("ticket.customer_replied", 1): on_customer_replied,
    }
