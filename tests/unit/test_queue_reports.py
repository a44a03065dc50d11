"""The service-level figures' rules on single tickets (services/queue/reports.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.queue.reports import at_risk, target_outcome

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
DUE = NOW + timedelta(minutes=10)


def test_a_target_is_met_by_its_due_time_and_broken_after():
    assert target_outcome(DUE, DUE, False, False, NOW) == "met"
    assert target_outcome(DUE + timedelta(seconds=1), DUE, False, False, NOW) == "breached"


def test_an_open_ticket_is_pending_until_due_and_broken_once_flagged_or_past():
    assert target_outcome(None, DUE, True, False, NOW) == "pending"
    assert target_outcome(None, DUE, True, True, NOW) == "breached"
    assert target_outcome(None, DUE, True, False, DUE + timedelta(seconds=1)) == "breached"


def test_a_ticket_cancelled_before_its_target_counts_for_neither():
    assert target_outcome(None, DUE, False, False, NOW) is None


def test_at_risk_follows_the_running_target_soonest_first():
    def ticket(id: str, status: str, due_at: datetime, resolution_due_at: datetime) -> dict:
        return {
            "id": id,
            "status": status,
            "due_at": due_at,
            "resolution_due_at": resolution_due_at,
        }

    waiting = ticket("a", "queued", DUE, DUE + timedelta(hours=4))
    worked = ticket("b", "in_progress", NOW - timedelta(hours=1), NOW - timedelta(minutes=1))
    calm = ticket("c", "in_progress", NOW, NOW + timedelta(hours=2))
    risky = at_risk([waiting, worked, calm], NOW)
    assert [(t["id"], t["target"], t["seconds_left"]) for t in risky] == [
        ("b", "resolution", -60),
        ("a", "first_response", 600),
    ]
