"""How the desk kept its promises: service levels of the tickets a period brought in, and
the tickets about to break one now (decision 0028). Plain functions over rows, no
storage and no web: the figures a supervisor exports must be those the tests check.

A ticket's first response is met when it was first taken by `due_at`, its resolution when
it was resolved by `resolution_due_at`; one still open past a target has broken it, one
still open before it is pending; a ticket cancelled before a target counts for neither.
It was resolved at the first contact when it was resolved on the spot (counter, phone),
or by the one agent who took it, without a transfer, a reopening or a question back to
the customer. A queue jump is a claim out of fair order or a take-over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.common.events import to_utc
from services.queue.domain import OPEN_STATUSES

# History that shows the first contact did not settle it.
NOT_FIRST_CONTACT = frozenset(
    {"reopened", "reopened_by_reply", "customer_replied", "waiting_on_customer"}
)
GROUPINGS = ("priority", "queue", "channel")
AT_RISK_WINDOW = timedelta(minutes=30)


@dataclass
class Tally:
    """The figures of one group, counted ticket by ticket."""

    tickets: int = 0
    first_response: dict[str, int] = field(
        default_factory=lambda: {"met": 0, "breached": 0, "pending": 0}
    )
    resolution: dict[str, int] = field(
        default_factory=lambda: {"met": 0, "breached": 0, "pending": 0}
    )
    resolved: int = 0
    resolved_first_contact: int = 0
    handled: int = 0
    handling_seconds: float = 0.0
    transfers: int = 0
    queue_jumps: int = 0

    def figures(self, group: str) -> dict[str, Any]:
        def compliance(counts: Mapping[str, int]) -> float | None:
            decided = counts["met"] + counts["breached"]
            return round(counts["met"] / decided, 4) if decided else None

        return {
            "group": group,
            "tickets": self.tickets,
            **{f"first_response_{k}": v for k, v in self.first_response.items()},
            "first_response_compliance": compliance(self.first_response),
            **{f"resolution_{k}": v for k, v in self.resolution.items()},
            "resolution_compliance": compliance(self.resolution),
            "resolved": self.resolved,
            "resolved_first_contact": self.resolved_first_contact,
            "first_contact_resolution": round(self.resolved_first_contact / self.resolved, 4)
            if self.resolved
            else None,
            "handled": self.handled,
            "mean_handling_seconds": round(self.handling_seconds / self.handled, 1)
            if self.handled
            else None,
            "transfers": self.transfers,
            "queue_jumps": self.queue_jumps,
        }


@dataclass(frozen=True)
class Claim:
    ticket_id: str
    at: datetime
    ended_at: datetime | None
    out_of_order: bool


def target_outcome(
    done_at: datetime | None, due_at: datetime, open_now: bool, breached: bool, now: datetime
) -> str | None:
    """met, breached or pending; None for a ticket that left before the target mattered."""
    if done_at is not None:
        return "met" if to_utc(done_at) <= to_utc(due_at) else "breached"
    if not open_now:
        return None
    return "breached" if breached or now > to_utc(due_at) else "pending"


def service_levels(
    tickets: Iterable[Mapping[str, Any]],
    claims: Iterable[Claim],
    history: Mapping[str, list[str]],
    now: datetime,
) -> dict[str, Any]:
    """The figures of the period's tickets, in total and per priority, queue and channel.
    `history` gives per ticket the kinds (and statuses) its history passed through."""
    claims_of: dict[str, list[Claim]] = {}
    for claim in claims:
        claims_of.setdefault(claim.ticket_id, []).append(claim)
    total = Tally()
    groups: dict[str, dict[str, Tally]] = {g: {} for g in GROUPINGS}
    for ticket in tickets:
        tallies = [total] + [groups[g].setdefault(str(ticket[g]), Tally()) for g in GROUPINGS]
        for tally in tallies:
            _count(
                tally, ticket, claims_of.get(ticket["id"], []), history.get(ticket["id"], []), now
            )
    return {
        "total": total.figures("all"),
        **{
            f"by_{g}": [
                tally.figures(key)
                for key, tally in sorted(
                    groups[g].items(), key=lambda item: (g == "priority" and int(item[0]), item[0])
                )
            ]
            for g in GROUPINGS
        },
    }


def _count(
    tally: Tally,
    ticket: Mapping[str, Any],
    claims: list[Claim],
    kinds: list[str],
    now: datetime,
) -> None:
    open_now = ticket["status"] in OPEN_STATUSES
    tally.tickets += 1
    first = target_outcome(
        ticket["first_claimed_at"],
        ticket["due_at"],
        open_now,
        ticket["first_response_breached"],
        now,
    )
    if first:
        tally.first_response[first] += 1
    resolution = target_outcome(
        ticket["resolved_at"],
        ticket["resolution_due_at"],
        open_now,
        ticket["resolution_breached"],
        now,
    )
    if resolution:
        tally.resolution[resolution] += 1
    if ticket["resolved_at"] is not None:
        tally.resolved += 1
        on_the_spot = "resolved_on_contact" in kinds
        settled = (
            len(claims) <= 1
            and not ticket["transfer_count"]
            and not NOT_FIRST_CONTACT.intersection(kinds)
        )
        tally.resolved_first_contact += on_the_spot or settled
    ended = [c for c in claims if c.ended_at is not None]
    if ended:
        tally.handled += 1
        tally.handling_seconds += sum(
            max(0.0, (to_utc(c.ended_at) - to_utc(c.at)).total_seconds())  # type: ignore[arg-type]
            for c in ended
        )
    tally.transfers += ticket["transfer_count"] or 0
    tally.queue_jumps += sum(c.out_of_order for c in claims) + kinds.count("taken_over")


def at_risk(tickets: Iterable[Mapping[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Open tickets whose running target falls due within the window or has passed, the
    soonest first: the first response while a ticket waits, the resolution after."""
    risky = []
    for ticket in tickets:
        target = "first_response" if ticket["status"] == "queued" else "resolution"
        due_at = to_utc(ticket["due_at" if target == "first_response" else "resolution_due_at"])
        if due_at - now <= AT_RISK_WINDOW:
            risky.append(
                {
                    **ticket,
                    "target": target,
                    "target_due_at": due_at,
                    "seconds_left": round((due_at - now).total_seconds()),
                }
            )
    return sorted(risky, key=lambda t: (t["target_due_at"], t["id"]))
