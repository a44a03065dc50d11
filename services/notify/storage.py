"""Notify's own database: how to reach each requester, webhook subscriptions, deliveries.

A delivery row is written before anything is sent, in the transaction that consumes the
event; its job waits in `attempts_outbox` until that transaction commits. What a delivery
says (`content`) and its real recipient are erased once it is final: the log keeps the
masked recipient, the template, the attempts and the outcome.

Statements on the path of every event are built once, at import (the `_UPPER_CASE`
constants): SQLAlchemy keeps a statement's cache key, and building and keying one per call
cost more than running it (docs/performance.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Row

from services.common.outbox import inbox_table, outbox_table

metadata = MetaData()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
attempts_outbox = outbox_table(metadata, "attempts_outbox")

contacts = Table(
    "contacts",
    metadata,
    Column("ticket_id", String(36), primary_key=True),
    Column("reference", String(32), nullable=False),
    Column("subject", Text, nullable=False),
    Column("requester", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Sealed like webhook secrets: it lets a reply count as the requester's.
    Column("reply_token_sealed", Text, nullable=True),
    # Sealed too: the link of a later message that opens the customer's own page.
    Column("tracking_token_sealed", Text, nullable=True),
)

# The reminder the day before an appointment: when it is due, and whether it went.
reminders = Table(
    "reminders",
    metadata,
    Column("ticket_id", String(36), primary_key=True),
    Column("remind_at", DateTime(timezone=True), nullable=False, index=True),
    Column("done_at", DateTime(timezone=True), nullable=True),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("url", Text, nullable=False),
    Column("events", JSON, nullable=False),
    Column("secret_encrypted", Text, nullable=False),
    Column("description", String(200), nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
)

PENDING, SENDING, RETRYING, SENT, FAILED = "pending", "sending", "retrying", "sent", "failed"
FINAL_STATES = (SENT, FAILED)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(64), nullable=False),
    # "customer", or the subscription's id: one delivery per event and recipient.
    Column("recipient_key", String(64), nullable=False),
    Column("ticket_id", String(36), nullable=True),
    Column("medium", String(16), nullable=False),
    Column("recipient", Text, nullable=True),
    # Kept when the address is erased: how many confirmations an address got (issue 33, 6).
    Column("recipient_sha256", String(64), nullable=True),
    Column("recipient_masked", String(256), nullable=False),
    Column("subscription_id", String(36), nullable=True),
    Column("template", String(64), nullable=False),
    Column("language", String(2), nullable=True),
    Column("content", Text, nullable=True),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_attempt_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Index("ux_deliveries_event_recipient", "event_id", "recipient_key", unique=True),
    Index("ix_deliveries_ticket", "ticket_id", "created_at"),
    Index("ix_deliveries_created", "created_at"),
    Index("ix_deliveries_state", "state"),
    Index("ix_deliveries_recipient", "recipient_sha256", "created_at"),
)


# Contacts


_ADD_CONTACT = insert(contacts)
_CONTACT = select(contacts).where(contacts.c.ticket_id == bindparam("ticket_id"))


def save_contact(
    conn: Connection,
    ticket_id: str,
    reference: str,
    subject: str,
    requester: Mapping[str, Any],
    created_at: datetime,
    reply_token_sealed: str | None = None,
    tracking_token_sealed: str | None = None,
) -> None:
    if contact(conn, ticket_id) is None:
        conn.execute(
            _ADD_CONTACT,
            {
                "ticket_id": ticket_id,
                "reference": reference,
                "subject": subject,
                "requester": dict(requester),
                "created_at": created_at,
                "reply_token_sealed": reply_token_sealed,
                "tracking_token_sealed": tracking_token_sealed,
            },
        )


def deliveries_to(
    conn: Connection, recipient_sha256: str, templates: tuple[str, ...], since: datetime
) -> int:
    """How many messages of these templates were planned for this address since then."""
    return conn.scalar(
        select(func.count())
        .select_from(deliveries)
        .where(
            deliveries.c.recipient_sha256 == recipient_sha256,
            deliveries.c.created_at >= since,
            deliveries.c.template.in_(templates),
        )
    )


def update_requester(conn: Connection, ticket_id: str, requester: Mapping[str, Any]) -> None:
    conn.execute(
        update(contacts).where(contacts.c.ticket_id == ticket_id).values(requester=dict(requester))
    )


def replan_reminder(conn: Connection, ticket_id: str, remind_at: datetime | None) -> None:
    """A moved appointment: its reminder for the new day, or none if that has passed."""
    conn.execute(delete(reminders).where(reminders.c.ticket_id == ticket_id))
    if remind_at is not None:
        plan_reminder(conn, ticket_id, remind_at)


def plan_reminder(conn: Connection, ticket_id: str, remind_at: datetime) -> None:
    """Once per ticket: a redelivered `ticket.created` plans nothing more."""
    if conn.scalar(select(reminders.c.ticket_id).where(reminders.c.ticket_id == ticket_id)):
        return
    conn.execute(insert(reminders).values(ticket_id=ticket_id, remind_at=remind_at.astimezone(UTC)))


def drop_reminder(conn: Connection, ticket_id: str, at: datetime) -> None:
    conn.execute(
        update(reminders)
        .where(reminders.c.ticket_id == ticket_id, reminders.c.done_at.is_(None))
        .values(done_at=at)
    )


def due_reminders(conn: Connection, now: datetime, limit: int = 200) -> list[Row]:
    return list(
        conn.execute(
            select(reminders)
            .where(reminders.c.remind_at <= now, reminders.c.done_at.is_(None))
            .order_by(reminders.c.remind_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def contact(conn: Connection, ticket_id: str) -> Row | None:
    return conn.execute(_CONTACT, {"ticket_id": ticket_id}).first()


# Subscriptions


def add_subscription(conn: Connection, values: Mapping[str, Any]) -> Row:
    conn.execute(insert(subscriptions).values(**values))
    return subscription(conn, values["id"])


_ACTIVE_SUBSCRIPTIONS = (
    select(subscriptions)
    .where(subscriptions.c.deleted_at.is_(None))
    .order_by(subscriptions.c.created_at, subscriptions.c.id)
)
_SUBSCRIPTION = _ACTIVE_SUBSCRIPTIONS.where(subscriptions.c.id == bindparam("subscription_id"))


def subscription(conn: Connection, subscription_id: str) -> Row | None:
    return conn.execute(_SUBSCRIPTION, {"subscription_id": subscription_id}).first()


def active_subscriptions(conn: Connection) -> list[Row]:
    return conn.execute(_ACTIVE_SUBSCRIPTIONS).all()


def delete_subscription(conn: Connection, subscription_id: str, at: datetime) -> bool:
    result = conn.execute(
        update(subscriptions)
        .where(subscriptions.c.id == subscription_id, subscriptions.c.deleted_at.is_(None))
        .values(deleted_at=at)
    )
    return result.rowcount == 1


# Deliveries


_ADD_DELIVERIES = insert(deliveries)
_DELIVERY_FOR_UPDATE = (
    select(deliveries).where(deliveries.c.id == bindparam("delivery_id")).with_for_update()
)
# Sets the columns named in the parameters; compiled once for each set of names.
_UPDATE_DELIVERY = update(deliveries).where(deliveries.c.id == bindparam("delivery_id"))


def add_deliveries(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    rows = [{**row, "content": json.dumps(row["content"], separators=(",", ":"))} for row in rows]
    if rows:
        conn.execute(_ADD_DELIVERIES, rows)


def delivery_for_update(conn: Connection, delivery_id: str) -> Row | None:
    return conn.execute(_DELIVERY_FOR_UPDATE, {"delivery_id": delivery_id}).first()


_ABANDONED = (
    select(deliveries.c.id, deliveries.c.attempts)
    .where(deliveries.c.state == SENDING, deliveries.c.lease_until < bindparam("now"))
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)


def abandoned(conn: Connection, now: datetime, limit: int) -> list[Row]:
    """Attempts under way whose lease ran out with no job to take them over: the process
    that was sending them itself stopped (decision 0026)."""
    return conn.execute(_ABANDONED, {"now": now, "limit": limit}).all()


def update_delivery(conn: Connection, delivery_id: str, **values: Any) -> None:
    conn.execute(_UPDATE_DELIVERY, {**values, "delivery_id": delivery_id})


def list_deliveries(
    conn: Connection,
    *,
    ticket_id: str | None,
    medium: str | None,
    state: str | None,
    limit: int,
) -> list[Row]:
    query = select(deliveries).order_by(deliveries.c.created_at.desc(), deliveries.c.id.desc())
    if ticket_id is not None:
        query = query.where(deliveries.c.ticket_id == ticket_id)
    if medium is not None:
        query = query.where(deliveries.c.medium == medium)
    if state is not None:
        query = query.where(deliveries.c.state == state)
    return conn.execute(query.limit(limit)).all()


def count_by_state(conn: Connection, states: Iterable[str]) -> dict[tuple[str, str], int]:
    rows = conn.execute(
        select(deliveries.c.medium, deliveries.c.state, func.count())
        .where(deliveries.c.state.in_(list(states)))
        .group_by(deliveries.c.medium, deliveries.c.state)
    ).all()
    return {(medium, state): count for medium, state, count in rows}
