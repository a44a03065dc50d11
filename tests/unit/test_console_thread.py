"""The ticket's history read as a conversation (services/portal/console.py): pure."""

from datetime import UTC, datetime, timedelta

from services.portal.console import sla_clock, thread

AT = "2026-12-03T10:00:00Z"


def _entry(kind: str, **values: str) -> dict:
    return {"kind": kind, "at": AT, "status": "in_progress", "actor": "ann", **values}


def test_deliveries_are_marks_on_what_they_told_the_customer_not_lines_of_their_own():
    ticket = {
        "description": "The room is cold.",
        "created_at": AT,
        "requester": {"name": "Wim"},
        "history": [
            _entry("created", status="queued", actor=None, public_message="Waiting."),
            _entry(
                "notification_sent",
                actor="notify",
                internal_note="email to w***@example.org: received (sent, attempt 1)",
            ),
            _entry("assigned", public_message="An agent took it.", internal_note="on the line"),
            _entry(
                "notification_failed",
                actor="notify",
                internal_note=(
                    "sms to +31***12: in_progress (failed, attempt 2: gateway said 503)"
                ),
            ),
            _entry(
                "customer_replied",
                actor="customer",
                internal_note="Still cold.",
                public_message="We received your reply.",
            ),
            _entry("priority", internal_note="priority 3 -> 2: the whole floor"),
            _entry("status", status="resolved", public_message="The valve is fixed."),
            _entry(
                "notification_sent",
                actor="notify",
                internal_note="email to w***@example.org: resolved (sent, attempt 1)",
            ),
        ],
    }
    items = thread(ticket)
    assert [i["type"] for i in items] == [
        "customer",
        "event",
        "note",
        "customer",
        "event",
        "note",
        "event",
        "reply",
    ]
    first, taken, reason, replied, priority, why, status, reply = items
    assert first["text"] == "The room is cold." and first["actor"] == "Wim"
    assert first["deliveries"] == [
        {
            "medium": "email",
            "recipient": "w***@example.org",
            "template": "received",
            "outcome": "sent",
            "attempt": "1",
            "error": None,
        }
    ]
    # The note under the event is not what the customer was told: the event carries it.
    assert reason["text"] == "on the line" and reason["deliveries"] == []
    assert taken["deliveries"][0]["outcome"] == "failed"
    assert taken["deliveries"][0]["error"] == "gateway said 503"
    assert replied["text"] == "Still cold."  # the customer's words, not the desk's receipt
    assert (priority["old"], priority["new"], why["text"]) == (3, 2, "the whole floor")
    assert status["kind"] == "status" and status["deliveries"] == []
    assert reply["text"] == "The valve is fixed." and len(reply["deliveries"]) == 1
    assert not any("notification" in i["kind"] for i in items)


def test_the_clock_that_runs_warns_before_its_due_time_and_stops_when_finished():
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

    def iso(minutes: int) -> str:
        return (now + timedelta(minutes=minutes)).isoformat()

    waiting = {
        "status": "queued",
        "contact_started_at": iso(-60),
        "due_at": iso(60),
        "resolution_due_at": iso(600),
        "first_claimed_at": None,
    }
    assert sla_clock(waiting, now) == {
        "which": "first_response",
        "due_at": iso(60),
        "left": "1 h 00 min",
        "state": "ok",
    }
    assert sla_clock({**waiting, "due_at": iso(15)}, now)["state"] == "warning"  # 15 of 75
    late = sla_clock({**waiting, "due_at": iso(-5)}, now)
    assert (late["state"], late["left"]) == ("breached", "5 min")
    taken = {**waiting, "status": "in_progress", "first_claimed_at": iso(-30)}
    assert sla_clock(taken, now)["which"] == "resolution"
    assert sla_clock({**taken, "status": "resolved"}, now) == {}


def test_a_prepared_answer_is_filled_in_for_the_ticket_and_nothing_else_is_read():
    from services.portal.console import filled

    ticket = {"reference": "LKT-000042", "requester": {"name": "Bo {agent}"}}
    text = "Dear {name}, {reference} is done. {agent} {unknown} {{name}}"
    assert filled(text, ticket, "ann") == (
        "Dear Bo {agent}, LKT-000042 is done. ann {unknown} {Bo {agent}}"
    )
    assert filled("Hello {name}", {"reference": "LKT-1"}, "ann") == "Hello "
