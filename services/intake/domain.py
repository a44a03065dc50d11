"""Intake's rules, free of Flask, SQL and the broker: priority, references, tokens, and
the events a new request or a customer's reply causes."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.common.events import isoformat, to_utc
from services.common.hashing import secret_digest
from services.intake.catalogue import UNCLASSIFIED, Catalogue, Category
from services.intake.inbound_email import InboundEmail

REFERENCE_PREFIX = "LKT-"


def derive_priority(
    default: int,
    impact: str | None,
    urgency: str | None,
    matrix: Mapping[str, Mapping[str, int]],
) -> int:
    """ITIL impact x urgency; the category's default when the customer did not say both."""
    if impact is None or urgency is None:
        return default
    return int(matrix[impact][urgency])


def reference_for(sequence: int) -> str:
    """References are derived from the request's sequence number, never stored apart."""
    return f"{REFERENCE_PREFIX}{sequence:06d}"


def sequence_of(reference: str) -> int | None:
    digits = reference.removeprefix(REFERENCE_PREFIX)
    if not reference.startswith(REFERENCE_PREFIX) or len(digits) < 6 or not digits.isdigit():
        return None
    return int(digits)


def new_tracking_token() -> str:
    """192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


def body_digest(body: Any) -> str:
    """The same JSON document in any key order or spacing gives the same digest."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class NewRequest:
    id: str
    tracking_token: str
    row: dict[str, Any]


def new_request(
    submitted: Mapping[str, Any],
    category: Category,
    catalogue: Catalogue,
    submitted_by: str,
    now: datetime,
) -> NewRequest:
    """A request as the desk stores it: queue and priority come from the catalogue."""
    token = new_tracking_token()
    started = submitted.get("contact_started_at")
    callback = submitted.get("callback")
    row = {
        "id": str(uuid.uuid4()),
        "tracking_token_sha256": secret_digest(token),
        "submitted_by": submitted_by,
        "channel": submitted["channel"],
        "category": category.id,
        "queue": category.queue,
        "priority": derive_priority(
            category.default_priority,
            submitted.get("impact"),
            submitted.get("urgency"),
            catalogue.priority_matrix,
        ),
        "impact": submitted.get("impact"),
        "urgency": submitted.get("urgency"),
        "subject": submitted["subject"],
        "description": submitted["description"],
        "fields": dict(submitted.get("fields") or {}),
        "requester": dict(submitted["requester"]),
        "callback": {k: isoformat(to_utc(v)) for k, v in callback.items()} if callback else None,
        "resolved_on_contact": bool(submitted.get("resolved_on_contact")),
        "resolution": submitted.get("resolution"),
        "contact_started_at": to_utc(started) if started else None,
        "contact_wait_seconds": submitted.get("contact_wait_seconds"),
        "attachments": submitted.get("attachments"),
        "created_at": now,
    }
    return NewRequest(row["id"], token, row)


def request_from_email(
    email: InboundEmail, catalogue: Catalogue, default_language: str
) -> dict[str, Any]:
    """An e-mail is never refused: it becomes an unclassified request, and the customer
    is invited to complete the form."""
    language = email.language if email.language in ("nl", "en") else default_language
    return {
        "channel": "email",
        "category": UNCLASSIFIED,
        "subject": email.subject or "(no subject)",
        "description": email.body or "(no text)",
        "fields": {},
        "requester": {
            "name": email.sender_name,
            "email": email.sender_address,
            "phone": None,
            "language": language,
            "preferred_contact": "email",
        },
        "attachments": email.attachments or None,
    }


def is_reply_from_requester(email: InboundEmail, request: Mapping[str, Any]) -> bool:
    """Only the requester's own address may add to a request: a reference alone is no key."""
    stored = (request["requester"] or {}).get("email") or ""
    return bool(stored) and stored.lower() == email.sender_address


def ticket_created_data(row: Mapping[str, Any], reference: str, token: str) -> dict[str, Any]:
    """The `ticket.created` data of the contract; the only place the plain token travels."""
    started = row["contact_started_at"]
    data = {
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
        "contact_started_at": isoformat(started or row["created_at"]),
        "resolved_on_contact": row["resolved_on_contact"],
        "resolution": row["resolution"],
        "impact": row["impact"],
        "urgency": row["urgency"],
        "attachments": row["attachments"],
        "submitted_by": row["submitted_by"],
    }
    if row["callback"]:
        data["callback"] = row["callback"]
    if row["contact_wait_seconds"] is not None:
        data["contact_wait_seconds"] = row["contact_wait_seconds"]
    return data


def customer_replied_data(
    request: Mapping[str, Any], channel: str, message: str, received_at: datetime
) -> dict[str, Any]:
    return {
        "ticket_id": request["id"],
        "reference": reference_for(request["seq"]),
        "channel": channel,
        "message": message,
        "received_at": isoformat(received_at),
    }
