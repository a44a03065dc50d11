"""Intake's rules, free of Flask and the broker: priority, references, the created event."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.common.events import isoformat, to_utc
from services.common.hashing import secret_digest

REFERENCE_PREFIX = "LKT-"


@dataclass(frozen=True)
class Category:
    id: str
    queue: str
    default_priority: int
    raw: Mapping[str, Any]


def load_catalogue(desk: Mapping[str, Any]) -> dict[str, Category]:
    return {
        entry["id"]: Category(entry["id"], entry["queue"], int(entry["default_priority"]), entry)
        for entry in desk.get("catalogue", [])
    }


def derive_priority(
    default: int,
    impact: str | None,
    urgency: str | None,
    matrix: Mapping[str, Mapping[str, int]],
) -> int:
    """ITIL impact x urgency; the category's default when the customer did not say."""
    if impact is None or urgency is None:
        return default
    return int(matrix[impact][urgency])


def reference_for(sequence: int) -> str:
    return f"{REFERENCE_PREFIX}{sequence:06d}"


def new_tracking_token() -> str:
    """192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class NewRequest:
    id: str
    tracking_token: str
    row: dict[str, Any]


def new_request(
    submitted: Mapping[str, Any],
    category: Category,
    priority_matrix: Mapping[str, Mapping[str, int]],
    now: datetime,
) -> NewRequest:
    token = new_tracking_token()
    request_id = str(uuid.uuid4())
    priority = derive_priority(
        category.default_priority,
        submitted.get("impact"),
        submitted.get("urgency"),
        priority_matrix,
    )
    row = {
        "id": request_id,
        "tracking_token_sha256": secret_digest(token),
        "channel": submitted["channel"],
        "category": category.id,
        "queue": category.queue,
        "priority": priority,
        "subject": submitted["subject"],
        "description": submitted["description"],
        "fields": dict(submitted.get("fields") or {}),
        "requester": dict(submitted["requester"]),
        "resolved_on_contact": bool(submitted.get("resolved_on_contact", False)),
        "resolution": submitted.get("resolution"),
        "contact_started_at": (
            to_utc(submitted["contact_started_at"]) if submitted.get("contact_started_at") else None
        ),
        "created_at": now,
    }
    return NewRequest(request_id, token, row)


def ticket_created_data(row: Mapping[str, Any], reference: str, token: str) -> dict[str, Any]:
    """The `ticket.created` data of the contract; the only place the plain token travels."""
    contact_started_at = row["contact_started_at"] or row["created_at"]
    return {
        "ticket_id": row["id"],
        "reference": reference,
        "channel": row["channel"],
        "category": row["category"],
        "queue": row["queue"],
        "priority": row["priority"],
        "subject": row["subject"],
        "description": row["description"],
        "fields": row["fields"],
        "requester": row["requester"],
        "tracking_token": token,
        "created_at": isoformat(row["created_at"]),
        "contact_started_at": isoformat(contact_started_at),
        "resolved_on_contact": row["resolved_on_contact"],
        "resolution": row["resolution"],
    }
