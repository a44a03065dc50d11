"""The queue service through HTTP and its event handlers, on SQLite and PostgreSQL.

Events are fed through the real consumer plumbing (envelope parsing, inbox, handler,
commit) without the broker, which the foundation's tests cover."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from prometheus_client import REGISTRY
from sqlalchemy import select

from services.common.consumer import EventProcessor, Outcome
from services.common.db import transaction
from services.common.events import Event, isoformat
from services.common.unit_of_work import unit_of_work
from services.queue import service, storage
from services.queue.app import create_app
from services.queue.handlers import handlers
from tests.support import REPO, bearer, on_behalf


class Desk:
    """The queue's web app and its event handlers on one test database."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        rt = app.extensions["loket"]
        self.engine = rt.engine
        self.processor = EventProcessor(service="queue", engine=rt.engine, inbox=storage.inbox,
                                        outbox=storage.outbox,
                                        handlers=handlers(rt.settings))  # fmt: skip

    def feed(self, type: str, data: dict, version: int = 1) -> Outcome:
        event = Event(type=type, data=data, source="test", version=version)
        return self.processor.process(event.to_json().encode())

    def arrive(self, channel="web", priority=3, queue="frontoffice", minutes_ago=0.0,
               contact_minutes_ago=None, **extra) -> dict:  # fmt: skip
        now = datetime.now(UTC)
        created = now - timedelta(minutes=minutes_ago)
        started = now - timedelta(minutes=contact_minutes_ago) if contact_minutes_ago else None
        ticket_id = str(uuid.uuid4())
        data = {
            "ticket_id": ticket_id, "reference": f"LKT-{uuid.uuid4().int % 10**9:09d}",
            "channel": channel, "category": extra.pop("category", "password_reset"),
            "queue": queue, "priority": priority, "subject": "s", "description": "d",
            "fields": {"account": "x"},
            "requester": extra.pop("requester", {"name": "A", "email": f"{ticket_id}@example.org",
                                                 "language": "en"}),
            "tracking_token": f"token-{ticket_id}", "created_at": isoformat(created),
            "contact_started_at": isoformat(started or created),
            "resolved_on_contact": False, "resolution": None, **extra,
        }  # fmt: skip
        assert self.feed("ticket.created", data) is Outcome.PROCESSED
        return data

    def events(self, type: str) -> list[dict]:
        with self.engine.connect() as conn:
            bodies = conn.scalars(
                select(storage.outbox.c.body).where(storage.outbox.c.type == type)
                .order_by(storage.outbox.c.id)
            ).all()  # fmt: skip
        return [json.loads(b)["data"] for b in bodies]

    def next(self, key, queue="frontoffice"):
        return self.client.post(f"/v1/queues/{queue}/next", headers=bearer(key))

    def status(self, key, ticket_id, **body):
        return self.client.post(f"/v1/tickets/{ticket_id}/status", json=body, headers=bearer(key))

    def track(self, data, token=None):
        token = data["tracking_token"] if token is None else token
        return self.client.get(f"/v1/track/{data['reference']}", query_string={"token": token})


@pytest.fixture
def desk(make_settings):
    app = create_app(make_settings("queue"))
    yield Desk(app)
    app.extensions["loket"].engine.dispose()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_next_follows_due_time_then_arrival_whatever_the_channel(desk, keys):
    web_early = desk.arrive("web", minutes_ago=10)
    walk_in_later = desk.arrive("walk_in", minutes_ago=5, contact_minutes_ago=5)
    callback_kept_place = desk.arrive("callback", minutes_ago=1, contact_minutes_ago=20)
    urgent_phone = desk.arrive("phone", priority=1, minutes_ago=0)
    order = [desk.next(keys["agent"]).json["id"] for _ in range(4)]
    assert order == [urgent_phone["ticket_id"], callback_kept_place["ticket_id"],
                     web_early["ticket_id"], walk_in_later["ticket_id"]]  # fmt: skip
    assert desk.next(keys["agent"]).status_code == 204
    assigned = desk.events("ticket.assigned")
    assert [a["out_of_order"] for a in assigned] == [False] * 4
    assert assigned[1]["waited_seconds"] >= 20 * 60 - 5


def test_eight_agents_claiming_forty_tickets_get_each_exactly_once(desk, keys):
    arrived = {desk.arrive(minutes_ago=40 - i)["ticket_id"] for i in range(40)}
    claimed: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def agent():
        client = desk.app.test_client()
        barrier.wait()
        while True:
            response = client.post("/v1/queues/frontoffice/next", headers=bearer(keys["agent"]))
            if response.status_code == 204:
                return
            assert response.status_code == 200, response.json
            with lock:
                claimed.append(response.json["id"])

    threads = [threading.Thread(target=agent) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(arrived)


def test_a_callback_keeps_its_window_and_is_due_before_it_ends(desk, keys):
    now = datetime.now(UTC)
    window = {"not_before": isoformat(now + timedelta(minutes=5)),
              "not_after": isoformat(now + timedelta(minutes=35))}  # fmt: skip
    # Priority 4: its target alone (480 min) would put it due long after the window.
    ticket = desk.arrive("callback", priority=4, callback=window)
    view = desk.client.get(f"/v1/tickets/{ticket['ticket_id']}", headers=bearer(keys["agent"]))
    shown = view.json
    assert (shown["callback_not_before"], shown["callback_not_after"]) == (
        window["not_before"],
        window["not_after"],
    )
    assert datetime.fromisoformat(shown["due_at"]) <= now + timedelta(minutes=35)
    [queued] = desk.events("ticket.queued")
    assert datetime.fromisoformat(queued["due_at"]) <= now + timedelta(minutes=35)


def test_a_callback_is_not_offered_before_its_window_and_first_once_it_opens(desk, keys):
    now = datetime.now(UTC)
    window = {"not_before": isoformat(now + timedelta(minutes=5)),
              "not_after": isoformat(now + timedelta(minutes=35))}  # fmt: skip
    callback = desk.arrive("callback", callback=window)
    waiting = desk.arrive("web", priority=4)
    # Due first (its window ends soonest), but calling now would break the promise.
    assert desk.next(keys["agent"]).json["id"] == waiting["ticket_id"]
    assert desk.next(keys["agent"]).status_code == 204
    shown = desk.track(callback).json
    assert shown["queue_position"] == 1
    assert shown["estimated_wait_low_seconds"] >= 4 * 60  # not before its window
    assert shown["estimated_wait_high_seconds"] <= 35 * 60
    with unit_of_work(desk.engine, "queue", storage.outbox) as unit:
        later = now + timedelta(minutes=6)
        claimed = service.claim_next(unit, "frontoffice", "alice", later)
    assert claimed.id == callback["ticket_id"]


def test_the_callbacks_a_ticket_waits_behind_that_cannot_be_taken_yet(desk):
    now = datetime.now(UTC)

    def window(opens_in_minutes: int) -> dict:
        opens = now + timedelta(minutes=opens_in_minutes)
        return {
            "not_before": isoformat(opens),
            "not_after": isoformat(opens + timedelta(minutes=30)),
        }

    opening = desk.arrive("callback", callback=window(5))  # due in 35 minutes
    desk.arrive("callback", callback=window(-5))  # due sooner, but open already
    desk.arrive("callback", queue="facilities", callback=window(5))  # another queue's
    later = desk.arrive("web", priority=4)  # due in hours
    with desk.engine.connect() as conn:

        def ahead_of(ticket: dict) -> list[datetime]:
            row = conn.execute(
                select(storage.tickets).where(storage.tickets.c.id == ticket["ticket_id"])
            ).one()
            return storage.callbacks_ahead_opening_later(conn, row, now)

        assert ahead_of(later) == [datetime.fromisoformat(window(5)["not_before"])]
        assert ahead_of(opening) == []


def test_a_callback_chosen_for_after_its_target_is_due_in_its_window_not_breached_before(
    desk, keys
):
    now = datetime.now(UTC)
    # Tomorrow's window, long after the first-response target of 4 hours.
    opens = now + timedelta(hours=20)
    window = {"not_before": isoformat(opens), "not_after": isoformat(opens + timedelta(hours=1))}
    ticket = desk.arrive("callback", callback=window)
    shown = desk.client.get(f"/v1/tickets/{ticket['ticket_id']}", headers=bearer(keys["agent"]))
    assert shown.json["due_at"] == window["not_after"]
    with unit_of_work(desk.engine, "queue", storage.outbox) as unit:
        hours_later = now + timedelta(hours=6)  # past the 4-hour target, before the window
        config = service.Desk.from_config(desk.app.extensions["loket"].settings.desk)
        assert service.check_sla(unit, config, hours_later) == 0
        assert service.claim_next(unit, "frontoffice", "alice", hours_later) is None


def test_a_ticket_held_by_one_agent_is_worked_only_by_them_a_supervisor_or_a_taker_over(desk, keys):
    ticket = desk.arrive()
    ticket_id = ticket["ticket_id"]
    assert desk.next(keys["agent"]).json["assigned_to"] == "alice"
    dave, bob = bearer(keys["other_agent"]), bearer(keys["supervisor"])
    url = f"/v1/tickets/{ticket_id}"
    attempts = [
        desk.client.post(f"{url}/status", json={"to": "resolved", "public_note": "x"},
                         headers=dave),
        desk.client.post(f"{url}/status", json={"to": "cancelled"}, headers=dave),
        desk.client.post(f"{url}/priority", json={"priority": 1, "reason": "vip"}, headers=dave),
        desk.client.post(f"{url}/transfer", json={"to_queue": "facilities", "note": "x"},
                         headers=dave),
    ]  # fmt: skip
    assert [a.status_code for a in attempts] == [403] * 4
    assert {a.json["error"]["code"] for a in attempts} == {"held_by_another_agent"}
    assert desk.events("ticket.status_changed") == []
    # A supervisor may.
    lowered = desk.client.post(f"{url}/priority", json={"priority": 2, "reason": "VIP"},
                               headers=bob)  # fmt: skip
    assert lowered.status_code == 200
    # Another agent takes it over: with a reason, recorded and counted like a queue jump.
    jumps = sample("loket_queue_jumps_total", channel="web", queue="frontoffice")
    assert desk.client.post(f"{url}/claim", json={}, headers=dave).status_code == 422
    taken = desk.client.post(f"{url}/claim", json={"reason": "alice is ill"}, headers=dave)
    assert taken.status_code == 200 and taken.json["assigned_to"] == "dave"
    assert taken.json["history"][-1]["kind"] == "taken_over"
    assert "alice is ill" in taken.json["history"][-1]["internal_note"]
    assert sample("loket_queue_jumps_total", channel="web", queue="frontoffice") == jumps + 1
    assert desk.events("ticket.assigned")[-1]["out_of_order"] is True
    done = desk.status(keys["other_agent"], ticket_id, to="resolved", public_note="Reset.")
    assert done.status_code == 200
    again = desk.status(keys["agent"], ticket_id, to="closed")
    assert again.status_code == 403  # alice no longer holds it


def test_a_claim_out_of_order_needs_a_reason_and_is_counted(desk, keys):
    first = desk.arrive(minutes_ago=10)
    second = desk.arrive(minutes_ago=5)
    url = f"/v1/tickets/{second['ticket_id']}/claim"
    no_reason = desk.client.post(url, json={}, headers=bearer(keys["agent"]))
    assert no_reason.status_code == 422 and "reason" in no_reason.json["error"]["fields"]
    jumps = sample("loket_queue_jumps_total", channel="web", queue="frontoffice")
    claimed = desk.client.post(url, json={"reason": "caller is a VIP on hold"},
                               headers=bearer(keys["agent"]))  # fmt: skip
    assert claimed.status_code == 200 and claimed.json["status"] == "in_progress"
    assert sample("loket_queue_jumps_total", channel="web", queue="frontoffice") == jumps + 1
    [assigned] = desk.events("ticket.assigned")
    assert assigned["out_of_order"] is True and assigned["reason"] == "caller is a VIP on hold"
    # The head of the queue claimed by id is not a jump.
    desk.client.post(f"/v1/tickets/{first['ticket_id']}/claim", json={"reason": "next anyway"},
                     headers=bearer(keys["agent"]))  # fmt: skip
    assert sample("loket_queue_jumps_total", channel="web", queue="frontoffice") == jumps + 1
    again = desk.client.post(url, json={"reason": "again"}, headers=bearer(keys["agent"]))
    assert again.status_code == 409


def test_the_status_machine_refuses_invalid_and_unknown_transitions(desk, keys):
    ticket = desk.arrive()
    tid = ticket["ticket_id"]
    assert desk.status(keys["agent"], tid, to="resolved", public_note="x").status_code == 409
    assert desk.status(keys["agent"], tid, to="on_fire").status_code == 422
    # A waiting ticket is taken with next or claim, never by a status change.
    assert desk.status(keys["agent"], tid, to="in_progress").status_code == 409
    desk.next(keys["agent"])
    assert desk.status(keys["agent"], tid, to="waiting_on_customer",
                       public_note="Which printer is it?").status_code == 200  # fmt: skip
    no_note = desk.status(keys["agent"], tid, to="resolved")
    assert no_note.status_code == 422 and "public_note" in no_note.json["error"]["fields"]
    resolved = desk.status(keys["agent"], tid, to="resolved", public_note="Replaced the toner.",
                           internal_note="toner batch 42 is bad")  # fmt: skip
    assert resolved.status_code == 200 and resolved.json["resolution"] == "Replaced the toner."
    assert desk.status(keys["agent"], tid, to="closed").status_code == 200
    assert desk.status(keys["agent"], tid, to="in_progress").status_code == 409
    [done] = desk.events("ticket.resolved")
    assert done["resolution"] == "Replaced the toner." and done["agent"] == "alice"
    changes = [(e["from"], e["to"]) for e in desk.events("ticket.status_changed")]
    assert changes == [("in_progress", "waiting_on_customer"),
                       ("waiting_on_customer", "resolved"), ("resolved", "closed")]  # fmt: skip


def test_public_notes_reach_the_customer_and_internal_notes_never(desk, keys):
    ticket = desk.arrive()
    desk.next(keys["agent"])
    desk.status(
        keys["agent"],
        ticket["ticket_id"],
        to="waiting_on_customer",
        public_note="Could you send a photo?",
        internal_note="customer was rude",
    )
    shown = desk.track(ticket).json
    assert shown["status"] == "waiting_on_customer"
    messages = [u["message"] for u in shown["updates"]]
    assert "Could you send a photo?" in messages
    assert "rude" not in json.dumps(shown)
    agent_view = desk.client.get(
        f"/v1/tickets/{ticket['ticket_id']}", headers=bearer(keys["agent"])
    )
    assert "customer was rude" in json.dumps(agent_view.json["history"])


def test_a_wrong_missing_or_foreign_token_answers_like_an_unknown_reference(desk):
    mine, other = desk.arrive(), desk.arrive()
    answers = [
        desk.track(mine, token="x" * 32),
        desk.track(mine, token=""),
        desk.track(mine, token=other["tracking_token"]),
        desk.client.get("/v1/track/LKT-999999999", query_string={"token": mine["tracking_token"]}),
    ]
    assert {a.status_code for a in answers} == {404}
    assert len({json.dumps(a.json) for a in answers}) == 1
    assert desk.track(mine).status_code == 200


def test_a_transfer_keeps_reference_history_and_place_and_flags_ping_pong(desk, keys):
    ticket = desk.arrive(minutes_ago=30)
    later = desk.arrive(queue="it_backoffice", minutes_ago=1)
    tid = ticket["ticket_id"]
    desk.next(keys["agent"])
    counted = sample("loket_transfers_total", from_queue="frontoffice", to_queue="it_backoffice")
    moved = desk.client.post(f"/v1/tickets/{tid}/transfer",
                             json={"to_queue": "it_backoffice", "note": "needs a technician"},
                             headers=bearer(keys["agent"]))  # fmt: skip
    assert moved.status_code == 200
    assert moved.json["reference"] == ticket["reference"] and moved.json["queue"] == "it_backoffice"
    assert moved.json["fields"] == {"account": "x"} and moved.json["status"] == "queued"
    assert sample("loket_transfers_total", from_queue="frontoffice",
                  to_queue="it_backoffice") == counted + 1  # fmt: skip
    # It keeps its place: it waited longer than the back office's own ticket.
    assert desk.next(keys["agent"], "it_backoffice").json["id"] == tid
    assert later["ticket_id"] != tid
    shown = json.dumps(desk.track(ticket).json)
    assert "IT back office" in shown and "technician" not in shown
    for to_queue in ("facilities", "frontoffice"):
        desk.client.post(f"/v1/tickets/{tid}/transfer", json={"to_queue": to_queue, "note": "n"},
                         headers=bearer(keys["agent"]))  # fmt: skip
    view = desk.client.get(f"/v1/tickets/{tid}", headers=bearer(keys["agent"])).json
    assert view["transfer_count"] == 3 and view["needs_supervisor"] is True
    assert [e["transfer_count"] for e in desk.events("ticket.transferred")] == [1, 2, 3]
    bad = desk.client.post(f"/v1/tickets/{tid}/transfer", json={"to_queue": "mars", "note": "n"},
                           headers=bearer(keys["agent"]))  # fmt: skip
    assert bad.status_code == 422


def test_a_priority_change_needs_a_reason_and_moves_the_ticket(desk, keys):
    first = desk.arrive(minutes_ago=10)
    second = desk.arrive(minutes_ago=5)
    url = f"/v1/tickets/{second['ticket_id']}/priority"
    assert desk.client.post(url, json={"priority": 1},
                            headers=bearer(keys["agent"])).status_code == 422  # fmt: skip
    raised = desk.client.post(url, json={"priority": 1, "reason": "whole floor is down"},
                              headers=bearer(keys["agent"]))  # fmt: skip
    assert raised.status_code == 200 and raised.json["priority"] == 1
    assert desk.next(keys["agent"]).json["id"] == second["ticket_id"]
    assert desk.next(keys["agent"]).json["id"] == first["ticket_id"]


def test_sla_breaches_are_published_once_per_target(desk):
    desk.arrive(priority=1, minutes_ago=0)
    later = datetime.now(UTC) + timedelta(hours=5)
    breaches = sample("loket_sla_breaches_total", queue="frontoffice", target="first_response")
    config = service.Desk.from_config(desk.app.extensions["loket"].settings.desk)
    for _ in range(2):
        with unit_of_work(desk.engine, "queue", storage.outbox) as unit:
            service.check_sla(unit, config, later)
    targets = sorted(e["target"] for e in desk.events("ticket.sla_breached"))
    assert targets == ["first_response", "resolution"]
    assert sample("loket_sla_breaches_total", queue="frontoffice",
                  target="first_response") == breaches + 1  # fmt: skip


def test_a_low_score_reopens_the_ticket_for_a_supervisor(desk, keys):
    ticket = desk.arrive()
    desk.next(keys["agent"])
    desk.status(keys["agent"], ticket["ticket_id"], to="resolved", public_note="Done.")
    happy = {"ticket_id": ticket["ticket_id"], "reference": ticket["reference"], "score": 4,
             "comment": None, "channel": "web"}  # fmt: skip
    desk.feed("feedback.received", happy)
    assert desk.events("ticket.reopened") == []
    desk.feed("feedback.received", happy | {"score": 1, "comment": "not fixed at all"})
    [reopened] = desk.events("ticket.reopened")
    assert reopened["reason"] == "satisfaction score 1"
    view = desk.client.get(f"/v1/tickets/{ticket['ticket_id']}", headers=bearer(keys["agent"])).json
    assert view["status"] == "queued" and view["needs_supervisor"] is True
    assert view["resolution"] is None and view["resolved_at"] is None  # reopened: not resolved


def reply(desk, ticket, at=None):
    data = {"ticket_id": ticket["ticket_id"], "reference": ticket["reference"],
            "channel": "email", "message": "It is broken again.",
            "received_at": isoformat(at or datetime.now(UTC))}  # fmt: skip
    assert desk.feed("ticket.customer_replied", data) is Outcome.PROCESSED


def test_a_reply_while_waiting_on_the_customer_shows_the_status_it_led_to(desk, keys):
    ticket = desk.arrive()
    desk.next(keys["agent"])
    desk.status(keys["agent"], ticket["ticket_id"], to="waiting_on_customer", public_note="?")
    reply(desk, ticket)
    status = desk.track(ticket).json
    assert status["status"] == "in_progress"
    assert status["updates"][-1]["status"] == "in_progress"  # not "waiting_on_customer"


def test_a_reply_after_resolution_reopens_within_the_window_and_not_after(desk, keys):
    recent, old = desk.arrive(), desk.arrive()
    for ticket in (recent, old):
        desk.client.post(f"/v1/tickets/{ticket['ticket_id']}/claim", json={"reason": "test"},
                         headers=bearer(keys["agent"]))  # fmt: skip
        desk.status(keys["agent"], ticket["ticket_id"], to="resolved", public_note="Reset.")
    with transaction(desk.engine) as conn:
        storage.update_ticket(conn, old["ticket_id"],
                              resolved_at=datetime.now(UTC) - timedelta(days=15))  # fmt: skip
    reply(desk, recent)
    reply(desk, old)
    [reopened] = desk.events("ticket.reopened")
    assert reopened == {"ticket_id": recent["ticket_id"], "reference": recent["reference"],
                        "reason": "the customer replied"}  # fmt: skip
    agent = bearer(keys["agent"])
    view = desk.client.get(f"/v1/tickets/{recent['ticket_id']}", headers=agent).json
    assert (view["status"], view["resolution"], view["resolved_at"]) == ("queued", None, None)
    assert desk.track(recent).json["updates"][-1]["status"] == "queued"
    assert desk.client.get(f"/v1/tickets/{old['ticket_id']}", headers=agent).json["status"] == (
        "resolved"
    )


def test_a_resolved_problem_resolves_every_linked_ticket(desk, keys):
    linked = [desk.arrive(category="invoice_question") for _ in range(3)]
    unrelated = desk.arrive()
    ticket_ids = [t["ticket_id"] for t in linked] + ["unknown"]
    desk.feed(
        "problem.resolved",
        {
            "problem_id": "p-1",
            "ticket_ids": ticket_ids,
            "resolution": "The invoice template was corrected.",
        },
    )
    resolved = desk.events("ticket.resolved")
    assert sorted(r["ticket_id"] for r in resolved) == sorted(t["ticket_id"] for t in linked)
    assert desk.track(linked[0]).json["updates"][-1]["message"] == (
        "The invoice template was corrected."
    )
    assert desk.track(unrelated).json["status"] == "queued"


def test_notifications_enter_the_history_for_agents_only(desk, keys):
    ticket = desk.arrive()
    desk.feed("notification.sent", {"ticket_id": ticket["ticket_id"], "medium": "email",
                                    "recipient": "j***@example.org", "template": "confirmation",
                                    "attempt": 1})  # fmt: skip
    desk.feed("notification.failed", {"ticket_id": ticket["ticket_id"], "medium": "sms",
                                      "recipient": "+31******78", "template": "confirmation",
                                      "attempt": 5, "error": "gateway 503"})  # fmt: skip
    history = desk.client.get(f"/v1/tickets/{ticket['ticket_id']}",
                              headers=bearer(keys["agent"])).json["history"]  # fmt: skip
    kinds = [h["kind"] for h in history]
    assert kinds == ["created", "notification_sent", "notification_failed"]
    assert "gateway 503" in history[2]["internal_note"]
    assert len(desk.track(ticket).json["updates"]) == 1


def test_repeat_contacts_are_counted_and_shown_with_earlier_requests(desk, keys):
    requester = {"name": "Jan", "email": "Jan@Example.org", "language": "nl"}
    first = desk.arrive(category="laptop_broken", requester=requester, minutes_ago=60)
    counted = sample("loket_repeat_contacts_total", channel="phone", category="laptop_broken")
    again = desk.arrive("phone", category="laptop_broken",
                        requester=requester | {"email": "jan@example.org"})  # fmt: skip
    assert sample("loket_repeat_contacts_total", channel="phone",
                  category="laptop_broken") == counted + 1  # fmt: skip
    view = desk.client.get(f"/v1/tickets/{again['ticket_id']}", headers=bearer(keys["agent"])).json
    assert view["repeat_contact"] is True and view["repeat_of"] == first["ticket_id"]
    assert [r["reference"] for r in view["earlier_requests"]] == [first["reference"]]


def test_a_contact_solved_on_the_spot_is_stored_resolved_with_a_wait_of_zero(desk):
    zero_waits = sample("loket_wait_seconds_bucket", channel="walk_in", queue="frontoffice",
                        le="10.0")  # fmt: skip
    ticket = desk.arrive("walk_in", resolved_on_contact=True, resolution="Explained the invoice.",
                         submitted_by="counter-kiosk")  # fmt: skip
    shown = desk.track(ticket).json
    assert shown["status"] == "resolved" and shown["queue_position"] is None
    [resolved] = desk.events("ticket.resolved")
    # The counter solved it; a front-end's key is never reported as an agent.
    assert (resolved["agent"], resolved["resolution"]) == ("counter", "Explained the invoice.")
    assert desk.events("ticket.queued") == []
    assert sample("loket_wait_seconds_bucket", channel="walk_in", queue="frontoffice",
                  le="10.0") == zero_waits + 1  # fmt: skip


def test_a_new_desk_estimates_from_its_plan_and_every_view_shows_the_same(desk, keys):
    # config/loket.yaml plans agents and a handling time per queue: an answer from the
    # first ticket on, with a wide range while nothing is learned.
    waiting = [desk.arrive(minutes_ago=30 - i) for i in range(4)]
    shown = desk.track(waiting[-1]).json
    assert shown["queue_position"] == 4
    assert 0 <= shown["estimated_wait_low_seconds"] < shown["estimated_wait_seconds"]
    assert shown["estimated_wait_seconds"] < shown["estimated_wait_high_seconds"]
    overview = desk.client.get("/v1/queues", headers=bearer(keys["agent"])).json["queues"]
    front = next(q for q in overview if q["id"] == "frontoffice")
    assert front["waiting"]["web"] == 4 and front["total_waiting"] == 4
    assert front["claims_last_hour"] == 0
    assert front["estimated_wait_seconds"] >= shown["estimated_wait_seconds"]  # fifth in line
    assert front["oldest_wait_seconds"] >= 23 * 60
    public = desk.client.get("/v1/estimates").json["channels"]
    assert public["phone"]["estimated_wait_seconds"] == front["estimated_wait_seconds"]


def test_without_a_plan_the_queue_learns_handling_times_and_agents_at_work(desk, keys):
    config = desk.app.extensions["loket"].settings.desk
    unplanned = service.Desk.from_config(
        {**config, "queues": [{"id": q["id"], "name": q["name"]} for q in config["queues"]]}
    )
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    # A second apart: arrivals in the same instant are in fair order by id, at random.
    arrived = [desk.arrive(minutes_ago=(11 - n) / 60) for n in range(12)]

    def estimate(now):
        with desk.engine.connect() as conn:
            ticket = storage.ticket_by_id(conn, arrived[-1]["ticket_id"])
            position = storage.queue_position(conn, ticket)
            return position, service.ticket_estimate(conn, unplanned, ticket, position, now)

    assert estimate(start)[1] is None  # nothing to go on: "unknown", never a guess
    # Two agents each handle three tickets of ten minutes, then take one more each.
    now = start
    for _ in range(3):
        for agent in ("ann", "bob"):
            with unit_of_work(desk.engine, "queue", storage.outbox) as unit:
                claimed = service.claim_next(unit, "frontoffice", agent, now)
                service.change_status(unit, claimed.id, "resolved", "Done.", None, agent,
                                      now + timedelta(minutes=10))  # fmt: skip
        now += timedelta(minutes=10)
    for agent in ("ann", "bob"):
        with unit_of_work(desk.engine, "queue", storage.outbox) as unit:
            service.claim_next(unit, "frontoffice", agent, now)
    position, learned = estimate(now)
    # Two at work, ten minutes a ticket: a place every five minutes.
    assert position == 4 and learned.likely == 4 * 300
    assert learned.low < learned.likely < learned.high


def test_waiting_gauges_are_read_from_the_database_at_scrape_time(desk, keys):
    desk.arrive("chat", minutes_ago=12)
    desk.arrive("chat", minutes_ago=2)
    desk.arrive("phone", queue="it_backoffice")
    metrics = desk.client.get("/metrics").text
    assert 'loket_waiting_tickets{channel="chat",queue="frontoffice"} 2.0' in metrics
    assert 'loket_waiting_tickets{channel="phone",queue="it_backoffice"} 1.0' in metrics
    oldest = next(line for line in metrics.splitlines()
                  if line.startswith('loket_oldest_wait_seconds{channel="chat"'))  # fmt: skip
    assert 12 * 60 - 5 <= float(oldest.split()[-1]) <= 12 * 60 + 60
    # Why the wait is what it is: the estimate's inputs per queue.
    assert 'loket_estimate_arrivals_per_hour{queue="frontoffice"} 2.0' in metrics
    assert 'loket_estimate_handling_seconds{queue="it_backoffice"} 1800.0' in metrics  # plan

    def value(series: str) -> float:
        return float(
            next(line for line in metrics.splitlines() if line.startswith(series)).split()[-1]
        )

    on_duty = value('loket_estimate_agents_on_duty{queue="frontoffice"}')
    served = value('loket_estimate_served_per_hour{queue="frontoffice"}')
    # 480 s a ticket: every agent on duty serves 7.5 an hour.
    assert served == on_duty * 7.5


def test_listing_pages_through_tickets_in_fair_order(desk, keys):
    ids = [desk.arrive(minutes_ago=50 - i)["ticket_id"] for i in range(7)]
    seen, cursor = [], None
    while True:
        query = {"queue": "frontoffice", "status": "queued", "limit": 3}
        if cursor:
            query["cursor"] = cursor
        page = desk.client.get(
            "/v1/tickets", query_string=query, headers=bearer(keys["agent"])
        ).json
        seen += [t["id"] for t in page["tickets"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    bad = desk.client.get("/v1/tickets", query_string={"cursor": "nonsense"},
                          headers=bearer(keys["agent"]))  # fmt: skip
    assert bad.status_code == 422
    assert desk.client.get("/v1/tickets", query_string={"status": "lost"},
                           headers=bearer(keys["agent"])).status_code == 422  # fmt: skip


def test_the_open_list_leaves_out_finished_tickets_and_shows_who_asks_and_both_clocks(desk, keys):
    waiting, taken, done = (desk.arrive(minutes_ago=30 - i)["ticket_id"] for i in range(3))
    assert desk.next(keys["agent"]).json["id"] == waiting
    assert desk.next(keys["agent"]).json["id"] == taken
    assert desk.status(keys["agent"], taken, to="resolved", public_note="Done.").status_code == 200
    listed = desk.client.get(
        "/v1/tickets", query_string={"open": "true"}, headers=bearer(keys["agent"])
    ).json["tickets"]
    assert [t["id"] for t in listed] == [waiting, done]
    first = listed[0]
    assert first["requester_name"] and first["first_claimed_at"] is not None
    assert first["resolution_due_at"] > first["due_at"]
    assert listed[1]["first_claimed_at"] is None
    everything = desk.client.get("/v1/tickets", headers=bearer(keys["agent"])).json["tickets"]
    assert taken in {t["id"] for t in everything}


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/v1/queues"), ("post", "/v1/queues/frontoffice/next"), ("get", "/v1/tickets"),
     ("get", "/v1/tickets/x"), ("post", "/v1/tickets/x/status"), ("post", "/v1/tickets/x/claim"),
     ("post", "/v1/tickets/x/transfer"), ("post", "/v1/tickets/x/priority")],
)  # fmt: skip
def test_agent_apis_refuse_anonymous_callers_and_front_end_keys(desk, keys, method, path):
    anonymous = getattr(desk.client, method)(path)
    assert anonymous.status_code == 401
    front_end = getattr(desk.client, method)(path, headers=bearer(keys["portal"]))
    assert front_end.status_code == 403


def test_unknown_queues_and_tickets_are_404(desk, keys):
    assert desk.next(keys["agent"], "nowhere").status_code == 404
    assert desk.client.get("/v1/tickets/nope", headers=bearer(keys["agent"])).status_code == 404
    assert desk.status(keys["agent"], "nope", to="closed").status_code == 404


def test_the_portal_acts_for_a_signed_in_person_who_is_recorded(desk, keys):
    """`X-Loket-On-Behalf-Of` from the portal's key: the person's role is checked and the
    person, not the portal, holds the ticket and appears in its history."""
    arrived = desk.arrive(channel="phone")
    as_ann = on_behalf(keys["portal_app"], "ann")
    taken = desk.client.post("/v1/queues/frontoffice/next", headers=as_ann)
    assert taken.status_code == 200, taken.json
    assert taken.json["assigned_to"] == "ann"
    assert taken.json["history"][-1]["actor"] == "ann"
    # Found by the reference a customer quotes, and among "mine" for ann only.
    by_reference = desk.client.get(f"/v1/tickets/{arrived['reference']}", headers=as_ann)
    assert by_reference.status_code == 200 and by_reference.json["id"] == arrived["ticket_id"]
    lower = desk.client.get(f"/v1/tickets/{arrived['reference'].lower()}", headers=as_ann)
    assert lower.status_code == 200
    mine = desk.client.get("/v1/tickets", query_string={"mine": "true"}, headers=as_ann)
    assert [t["reference"] for t in mine.json["tickets"]] == [arrived["reference"]]
    as_bob = bearer(keys["supervisor"])
    assert desk.client.get("/v1/tickets?mine=true", headers=as_bob).json["tickets"] == []
    # Nobody else may speak for a person; a disabled person may not act.
    for headers in (on_behalf(keys["agent"], "ann"), on_behalf(keys["portal"], "ann"),
                    on_behalf(keys["portal_app"], "dora"),
                    on_behalf(keys["portal_app"], "nobody")):  # fmt: skip
        refused = desk.client.get("/v1/queues", headers=headers)
        assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    # The portal's key alone is no agent.
    assert desk.client.get("/v1/queues", headers=bearer(keys["portal_app"])).status_code == 403


def test_a_change_made_on_a_stale_view_is_refused_and_changes_nothing(desk, keys):
    """Two people, one ticket: each change may name the version it was made on (If-Match,
    from the ETag); a version since changed is 412 and nothing happens (issue 34)."""
    arrived = desk.arrive()
    alice = bearer(keys["agent"])
    url = f"/v1/tickets/{arrived['ticket_id']}"
    assert desk.next(keys["agent"]).status_code == 200
    before_reply = desk.client.get(url, headers=alice).headers["ETag"]
    # A customer's message is a change too, though the status stays.
    reply(desk, arrived)
    read = desk.client.get(url, headers=alice)
    assert read.json["status"] == "in_progress" and read.headers["ETag"] != before_reply
    seen = read.headers["ETag"]
    assert seen == f'"{read.json["version"]}"'
    # A colleague (a supervisor) writes a note meanwhile: the ticket has a new version.
    note = {"message": "Called the customer: the printer is fine now.", "public": False}
    bob = bearer(keys["supervisor"])
    assert [v["person"] for v in desk.client.get(url, headers=bob).json["viewers"]] == ["alice"]
    noted = desk.client.post(f"{url}/messages", json=note, headers=bob)
    assert noted.status_code == 200 and noted.headers["ETag"] != seen
    stale = desk.client.post(f"{url}/status", json={"to": "resolved", "public_note": "Done."},
                             headers={**alice, "If-Match": seen})  # fmt: skip
    assert stale.status_code == 412
    assert stale.json["error"]["code"] == "precondition_failed"
    assert stale.headers["ETag"] == noted.headers["ETag"]
    again = desk.client.get(url, headers=alice).json
    assert again["status"] == "in_progress"
    assert [v["person"] for v in again["viewers"]] == ["bob"]  # who else has it open
    # On the current version, or without If-Match, the change is made.
    fresh = desk.client.post(f"{url}/status", json={"to": "resolved", "public_note": "Done."},
                             headers={**alice, "If-Match": noted.headers["ETag"]})  # fmt: skip
    assert fresh.status_code == 200 and fresh.json["status"] == "resolved"


def test_an_agent_writes_to_the_customer_or_notes_without_changing_the_status(desk, keys):
    arrived = desk.arrive()
    alice, dave = bearer(keys["agent"]), bearer(keys["other_agent"])
    taken = desk.client.post("/v1/queues/frontoffice/next", headers=alice).json
    url = f"/v1/tickets/{taken['id']}/messages"
    written = desk.client.post(url, json={"message": "We ordered a part.", "public": True},
                               headers=alice)  # fmt: skip
    assert written.status_code == 200 and written.json["status"] == "in_progress"
    assert written.json["history"][-1]["public_message"] == "We ordered a part."
    [added] = desk.events("ticket.message_added")
    assert added == {"ticket_id": taken["id"], "reference": arrived["reference"],
                             "message": "We ordered a part.", "agent": "alice"}  # fmt: skip
    # A colleague may add a note, never write to the customer on alice's ticket.
    noted = desk.client.post(url, json={"message": "Supplier is slow.", "public": False},
                             headers=dave)  # fmt: skip
    assert noted.status_code == 200
    assert noted.json["history"][-1]["internal_note"] == "Supplier is slow."
    assert noted.json["history"][-1]["public_message"] is None
    refused = desk.client.post(url, json={"message": "Hi", "public": True}, headers=dave)
    assert refused.status_code == 403
    assert len(desk.events("ticket.message_added")) == 1  # a note is no event
    # The customer sees the message, never the note.
    status = desk.client.get(f"/v1/track/{arrived['reference']}",
                             query_string={"token": arrived["tracking_token"]}).json  # fmt: skip
    messages = [u["message"] for u in status["updates"]]
    assert "We ordered a part." in messages and "Supplier is slow." not in messages
    assert (
        desk.client.post(url, json={"message": "", "public": True}, headers=alice).status_code
        == 422
    )


def test_tickets_are_found_by_requester_and_by_words(desk, keys):
    alice = bearer(keys["agent"])
    mail = desk.arrive(requester={"name": "M", "email": "Mia@Example.org", "language": "en"},
                       subject="Printer jams on floor 2")  # fmt: skip
    phone = desk.arrive(channel="phone", requester={"name": "P", "phone": "+31 20 555 0101",
                                                    "language": "nl"})  # fmt: skip
    desk.arrive(subject="100% done_ish")

    def found(**query) -> list[str]:
        answer = desk.client.get("/v1/tickets", query_string=query, headers=alice)
        assert answer.status_code == 200, answer.json
        return [t["reference"] for t in answer.json["tickets"]]

    assert found(requester="mia@example.org") == [mail["reference"]]
    assert found(requester="020 555 0101") == [phone["reference"]]
    assert found(q="printer JAMS") == [mail["reference"]]
    assert len(found(q="0%")) == 1 and found(q="%%") == []  # a wildcard is just a character
    assert desk.client.get("/v1/tickets?q=x", headers=alice).status_code == 422


def test_the_agent_sees_what_came_attached(desk, keys):
    files = [{"id": "a1", "filename": "screenshot.png", "content_type": "image/png",
              "size": 48213}]  # fmt: skip
    arrived = desk.arrive(channel="email", attachments=files)
    view = desk.client.get(f"/v1/tickets/{arrived['reference']}", headers=bearer(keys["agent"]))
    assert view.json["attachments"] == files
    # A reply's files join the ticket's, once however often the event comes.
    later = [{"id": "a2", "filename": "log.txt", "content_type": "text/plain", "size": 7}]
    data = {"ticket_id": arrived["ticket_id"], "reference": arrived["reference"],
            "channel": "email", "message": "The log.", "attachments": later,
            "received_at": isoformat(datetime.now(UTC))}  # fmt: skip
    event = Event(type="ticket.customer_replied", data=data, source="test").to_json().encode()
    assert desk.processor.process(event) is Outcome.PROCESSED
    desk.processor.process(event)  # delivered again
    view = desk.client.get(f"/v1/tickets/{arrived['reference']}", headers=bearer(keys["agent"]))
    assert view.json["attachments"] == files + later
    plain = desk.arrive()
    assert desk.client.get(f"/v1/tickets/{plain['ticket_id']}",
                           headers=bearer(keys["agent"])).json["attachments"] is None  # fmt: skip


def test_a_supervisor_sees_the_days_waits_per_hour_and_channel(desk, keys):
    desk.arrive(channel="phone", contact_minutes_ago=6)
    alice, bob = bearer(keys["agent"]), bearer(keys["supervisor"])
    assert desk.client.post("/v1/queues/frontoffice/next", headers=alice).status_code == 200
    report = desk.client.get("/v1/reports/waits", headers=bob)
    assert report.status_code == 200, report.json
    assert report.json["timezone"] == "Europe/Amsterdam"
    [phone] = [h for h in report.json["hours"] if h["channel"] == "phone"]
    assert phone["count"] == 1 and 5 * 60 <= phone["mean_wait_seconds"] < 8 * 60
    assert desk.client.get("/v1/reports/waits", headers=alice).status_code == 403
    assert desk.client.get("/v1/reports/waits?date=2020-01-01",
                           headers=bob).json["hours"] == []  # fmt: skip
    assert desk.client.get("/v1/reports/waits?date=yesterday", headers=bob).status_code == 422
    # The last day of year 9999 overflowed its own end (a 500): the field is named instead.
    far = desk.client.get("/v1/reports/waits?date=9999-12-31", headers=bob)
    assert far.status_code == 422 and "date" in far.json["error"]["fields"]


def test_service_levels_count_each_promise_kept_broken_or_pending(desk, keys):
    alice, bob = bearer(keys["agent"]), bearer(keys["supervisor"])
    late = desk.arrive(channel="phone", priority=2, minutes_ago=90)  # due 30 minutes ago
    quick = desk.arrive(minutes_ago=10)
    desk.arrive("walk_in", resolved_on_contact=True, resolution="Explained.")
    waiting = desk.arrive(minutes_ago=5)
    jumped = desk.arrive(minutes_ago=1)
    assert desk.next(keys["agent"]).json["id"] == late["ticket_id"]
    desk.status(keys["agent"], late["ticket_id"], to="waiting_on_customer", public_note="Which?")
    desk.status(keys["agent"], late["ticket_id"], to="resolved", public_note="Done.")
    assert desk.next(keys["agent"]).json["id"] == quick["ticket_id"]
    desk.status(keys["agent"], quick["ticket_id"], to="resolved", public_note="Done.")
    url = f"/v1/tickets/{jumped['ticket_id']}"
    assert (
        desk.client.post(f"{url}/claim", json={"reason": "VIP"}, headers=alice).status_code == 200
    )
    moved = desk.client.post(f"{url}/transfer", json={"to_queue": "it_backoffice", "note": "n"},
                             headers=alice)  # fmt: skip
    assert moved.status_code == 200

    report = desk.client.get("/v1/reports/service-levels", headers=bob)
    assert report.status_code == 200, report.json
    total = report.json["total"]
    assert total["tickets"] == 5
    assert (total["first_response_met"], total["first_response_breached"],
            total["first_response_pending"]) == (3, 1, 1)  # fmt: skip
    assert total["first_response_compliance"] == 0.75
    assert (total["resolution_met"], total["resolution_breached"],
            total["resolution_pending"]) == (3, 0, 2)  # fmt: skip
    # The walk-in and the quick one were settled at once; the late one asked back.
    assert (total["resolved"], total["resolved_first_contact"]) == (3, 2)
    assert total["first_contact_resolution"] == 0.6667
    assert total["handled"] == 3 and total["mean_handling_seconds"] >= 0
    assert (total["transfers"], total["queue_jumps"]) == (1, 1)
    by_priority = {g["group"]: g["tickets"] for g in report.json["by_priority"]}
    assert by_priority == {"2": 1, "3": 4}
    by_channel = {g["group"]: g["first_response_breached"] for g in report.json["by_channel"]}
    assert by_channel == {"phone": 1, "walk_in": 0, "web": 0}
    assert [g["group"] for g in report.json["by_queue"]] == ["frontoffice", "it_backoffice"]
    assert waiting["ticket_id"] != jumped["ticket_id"]

    assert desk.client.get("/v1/reports/service-levels", headers=alice).status_code == 403
    empty = desk.client.get("/v1/reports/service-levels?since=2020-01-01&until=2020-01-08",
                            headers=bob).json  # fmt: skip
    assert empty["total"]["tickets"] == 0 and empty["total"]["first_response_compliance"] is None
    wrong = desk.client.get("/v1/reports/service-levels?since=2026-12-08&until=2026-12-01",
                            headers=bob)  # fmt: skip
    assert wrong.status_code == 422 and "since" in wrong.json["error"]["fields"]


def test_the_board_shows_tickets_about_to_break_a_target_and_who_works_what(desk, keys):
    alice, bob = bearer(keys["agent"]), bearer(keys["supervisor"])
    urgent = desk.arrive(priority=1, minutes_ago=10)  # first response due in 5 minutes
    desk.arrive(priority=4, minutes_ago=1)  # hours left
    held = desk.arrive(priority=4, minutes_ago=2)
    url = f"/v1/tickets/{held['ticket_id']}/claim"
    assert desk.client.post(url, json={"reason": "asked for me"}, headers=alice).status_code == 200

    board = desk.client.get("/v1/reports/board", headers=bob)
    assert board.status_code == 200, board.json
    [risky] = board.json["at_risk"]
    assert (risky["reference"], risky["target"]) == (urgent["reference"], "first_response")
    assert 200 < risky["seconds_left"] <= 300
    [agent] = board.json["agents"]
    [working] = agent["tickets"]
    assert working["reference"] == held["reference"] and working["since"] is not None
    assert working["status"] == "in_progress"
    assert desk.client.get("/v1/reports/board", headers=alice).status_code == 403


@pytest.fixture
def counter_desk(make_settings, tmp_path):
    """The desk with calls that count however soon they follow each other."""
    config = yaml.safe_load((REPO / "config" / "loket.yaml").read_text())
    config["counter"] = {"calls_before_no_show": 3, "seconds_between_calls": 0}
    (tmp_path / "desk.yaml").write_text(yaml.safe_dump(config))
    app = create_app(make_settings("queue", LOKET_CONFIG=str(tmp_path / "desk.yaml")))
    yield Desk(app)
    app.extensions["loket"].engine.dispose()


def call(desk, key, counter, queue="frontoffice"):
    url = f"/v1/counters/{counter}/call"
    return desk.client.post(url, json={"queue": queue}, headers=bearer(key))


def test_the_counter_calls_those_present_in_fair_order_and_the_display_shows_only_numbers(
    counter_desk, keys
):
    desk = counter_desk
    online = desk.arrive("web", minutes_ago=30)  # first in line, but not in the building
    first = desk.arrive("walk_in", minutes_ago=10, contact_minutes_ago=10, ticket_number="A-001")
    second = desk.arrive("walk_in", minutes_ago=5, contact_minutes_ago=5, ticket_number="A-002")
    elsewhere = desk.arrive("walk_in", queue="facilities", ticket_number="C-001")
    assert desk.client.get("/v1/display?queue=frontoffice").json["waiting"] == 2
    called = call(desk, keys["agent"], "3")
    assert called.status_code == 200
    assert (called.json["id"], called.json["counter"]) == (first["ticket_id"], "3")
    assert called.json["status"] == "queued" and called.json["counted_calls"] == 1
    assert call(desk, keys["agent"], "4").json["id"] == second["ticket_id"]
    assert call(desk, keys["agent"], "5").status_code == 204  # nobody else present
    # Taking next at a desk skips the people called to a counter.
    assert desk.next(keys["agent"]).json["id"] == online["ticket_id"]

    shown = desk.client.get("/v1/display", query_string={"queue": "frontoffice"})
    assert shown.status_code == 200 and "Authorization" not in shown.request.headers
    calls = [(c["ticket_number"], c["counter"]) for c in shown.json["called"]]
    assert calls == [("A-002", "4"), ("A-001", "3")]
    assert shown.json["waiting"] == 0 and "estimated_wait_seconds" in shown.json["expected_wait"]
    for private in (first["reference"], first["subject"], first["requester"]["email"], "A"):
        assert f'"{private}"' not in shown.text
    everyone = desk.client.get("/v1/display").json
    assert everyone["waiting"] == 1 and len(everyone["called"]) == 2
    # A new number's wait is its queue's: a screen of every queue names none.
    assert everyone["expected_wait"]["estimated_wait_seconds"] is None
    # A walk-in from before numbers were given is called without showing its reference.
    numberless = desk.arrive("walk_in", queue="it_backoffice")
    assert (
        call(desk, keys["agent"], "7", queue="it_backoffice").json["id"] == numberless["ticket_id"]
    )
    shown_it = desk.client.get("/v1/display?queue=it_backoffice")
    assert shown_it.json["called"][0]["ticket_number"] == "\N{EN DASH}"
    assert numberless["reference"] not in shown_it.text
    assert elsewhere["ticket_id"] not in json.dumps(everyone)
    assert desk.client.get("/v1/display?queue=nope").status_code == 404
    no_queue = desk.client.post("/v1/counters/3/call", json={}, headers=bearer(keys["agent"]))
    assert no_queue.status_code == 422
    assert call(desk, keys["agent"], "counter 3").status_code == 404
    assert desk.client.post("/v1/counters/3/call", json={"queue": "frontoffice"}).status_code == 401
    # The status page follows the number: it is called, and where to.
    track = desk.track(first).json
    assert track["ticket_number"] == "A-001"
    assert "counter 3" in track["updates"][-1]["message"]
    # Serving the person called is in fair order, not a jump.
    jumps = sample("loket_queue_jumps_total", channel="walk_in", queue="frontoffice")
    serve = f"/v1/tickets/{first['ticket_id']}/claim"
    served = desk.client.post(
        serve, json={"reason": "at the counter"}, headers=bearer(keys["agent"])
    )
    assert served.json["status"] == "in_progress"
    assert desk.events("ticket.assigned")[-1]["out_of_order"] is False
    assert sample("loket_queue_jumps_total", channel="walk_in", queue="frontoffice") == jumps


def test_a_no_show_after_three_calls_and_back_in_the_place_they_had(counter_desk, keys):
    desk = counter_desk
    late = desk.arrive("walk_in", minutes_ago=10, contact_minutes_ago=10, ticket_number="A-001")
    later = desk.arrive("walk_in", minutes_ago=5, contact_minutes_ago=5, ticket_number="A-002")
    agent = bearer(keys["agent"])
    assert desk.client.post("/v1/counters/3/recall", headers=agent).status_code == 404
    call(desk, keys["agent"], "3")
    no_show = f"/v1/tickets/{late['ticket_id']}/no-show"
    early = desk.client.post(no_show, headers=agent)
    assert early.status_code == 409 and early.json["error"]["code"] == "not_called_enough"
    for times in (2, 3):
        again = desk.client.post("/v1/counters/3/recall", headers=agent)
        assert again.json["id"] == late["ticket_id"] and again.json["counted_calls"] == times
    numbers = [c["ticket_number"] for c in desk.client.get("/v1/display").json["called"]]
    assert numbers == ["A-001"] * 3
    gone = desk.client.post(no_show, headers=agent)
    assert gone.status_code == 200 and gone.json["status"] == "cancelled"
    told = desk.track(late).json["updates"][-1]["message"]
    assert "called 3 times" in told and "place you had" in told
    assert desk.events("ticket.status_changed")[-1]["to"] == "cancelled"
    # The next call is the next person; the one who did not come is put back, first again.
    assert call(desk, keys["agent"], "3").json["id"] == later["ticket_id"]
    reactivate = f"/v1/tickets/{late['ticket_id']}/reactivate"
    assert desk.client.post(reactivate, json={}, headers=agent).status_code == 422
    jumps = sample("loket_queue_jumps_total", channel="walk_in", queue="frontoffice")
    back = desk.client.post(reactivate, json={"reason": "was in the restroom"}, headers=agent)
    assert back.status_code == 200 and back.json["status"] == "queued"
    assert back.json["due_at"] == gone.json["due_at"] and back.json["counted_calls"] == 0
    assert back.json["history"][-1]["internal_note"] == "was in the restroom"
    assert sample("loket_queue_jumps_total", channel="walk_in", queue="frontoffice") == jumps + 1
    assert desk.client.post(reactivate, json={"reason": "twice"}, headers=agent).status_code == 409
    assert call(desk, keys["agent"], "4").json["id"] == late["ticket_id"]


def test_an_appointment_is_called_once_it_checked_in_and_is_due_at_its_time(counter_desk, keys):
    desk = counter_desk
    start = datetime.now(UTC) + timedelta(minutes=5)
    slot = {"start": isoformat(start), "end": isoformat(start + timedelta(minutes=15))}
    booked = desk.arrive("walk_in", minutes_ago=60 * 24, appointment=slot)
    walk_in = desk.arrive("walk_in", minutes_ago=1, contact_minutes_ago=1, ticket_number="A-001")
    ticket = desk.client.get(f"/v1/tickets/{booked['ticket_id']}", headers=bearer(keys["agent"]))
    assert ticket.json["due_at"] == slot["start"]  # not a day old: due at its time
    # Booked but not in the building: not called, not counted as waiting, nobody's wait.
    assert desk.client.get("/v1/display?queue=frontoffice").json["waiting"] == 1
    overview = desk.client.get("/v1/queues", headers=bearer(keys["agent"])).json["queues"]
    [front] = [q for q in overview if q["id"] == "frontoffice"]
    assert front["waiting"]["walk_in"] == 1 and front["total_waiting"] == 1
    assert desk.track(walk_in).json["queue_position"] == 1
    assert desk.track(booked).json["queue_position"] is None
    assert call(desk, keys["agent"], "3").json["id"] == walk_in["ticket_id"]
    assert call(desk, keys["agent"], "4").status_code == 204
    later_slot = start + timedelta(minutes=30)
    moved = {
        "ticket_id": booked["ticket_id"],
        "reference": booked["reference"],
        "start": isoformat(later_slot),
        "end": isoformat(later_slot + timedelta(minutes=15)),
    }
    assert desk.feed("appointment.moved", moved) is Outcome.PROCESSED
    ticket = desk.client.get(f"/v1/tickets/{booked['ticket_id']}", headers=bearer(keys["agent"]))
    assert ticket.json["due_at"] == moved["start"] == ticket.json["appointment_start"]
    arrived = {
        "ticket_id": booked["ticket_id"],
        "reference": booked["reference"],
        "ticket_number": "A-002",
        "checked_in_at": isoformat(datetime.now(UTC)),
    }
    assert desk.feed("appointment.checked_in", arrived) is Outcome.PROCESSED
    called = call(desk, keys["agent"], "4").json
    assert called["id"] == booked["ticket_id"] and called["ticket_number"] == "A-002"
    assert called["checked_in_at"] is not None

    cancelled = desk.arrive("walk_in", appointment=slot)
    gone = {
        "ticket_id": cancelled["ticket_id"],
        "reference": cancelled["reference"],
        "cancelled_at": isoformat(datetime.now(UTC)),
    }
    assert desk.feed("appointment.cancelled", gone) is Outcome.PROCESSED
    assert desk.track(cancelled).json["status"] == "cancelled"
    assert "appointment is cancelled" in desk.track(cancelled).json["updates"][-1]["message"]


def test_an_appointment_not_checked_in_after_the_grace_time_lapses_and_the_customer_is_told(
    desk,
):
    now = datetime.now(UTC)

    def booked(minutes_from_now: float) -> dict:
        start = now + timedelta(minutes=minutes_from_now)
        slot = {"start": isoformat(start), "end": isoformat(start + timedelta(minutes=15))}
        return desk.arrive("walk_in", appointment=slot)

    missed, late_but_in_time, came = booked(-20), booked(-10), booked(-30)
    arrived = {
        "ticket_id": came["ticket_id"],
        "reference": came["reference"],
        "ticket_number": "A-001",
        "checked_in_at": isoformat(now),
    }
    assert desk.feed("appointment.checked_in", arrived) is Outcome.PROCESSED
    config = service.Desk.from_config(desk.app.extensions["loket"].settings.desk)
    for _ in range(2):  # a second look finds nothing more to do
        with unit_of_work(desk.engine, "queue", storage.outbox) as unit:
            service.check_missed_appointments(unit, config, now)
    status = {
        t["reference"]: desk.track(t).json["status"] for t in (missed, late_but_in_time, came)
    }
    assert status == {
        missed["reference"]: "cancelled",
        late_but_in_time["reference"]: "queued",
        came["reference"]: "queued",
    }
    told = desk.track(missed).json["updates"][-1]["message"]
    assert "did not check in" in told and "book another time" in told
    [lapsed] = desk.events("ticket.status_changed")
    assert lapsed["ticket_id"] == missed["ticket_id"] and lapsed["to"] == "cancelled"


def test_a_number_from_home_is_told_once_when_its_turn_nears_and_not_once_it_arrived(
    counter_desk, keys
):
    desk = counter_desk
    in_the_room = {"name": "Visitor", "language": "en", "preferred_contact": "none"}
    room = [
        desk.arrive("walk_in", minutes_ago=20 - n, requester=in_the_room, ticket_number=f"A-00{n}")
        for n in range(1, 7)
    ]
    home = {
        "name": "Ann",
        "email": "ann@example.org",
        "language": "en",
        "preferred_contact": "email",
    }
    away = desk.arrive("walk_in", minutes_ago=1, requester=home, ticket_number="A-007")
    came = desk.arrive("walk_in", minutes_ago=0.5, requester=home, ticket_number="A-008")
    arrived = {"ticket_id": came["ticket_id"], "reference": came["reference"],
               "ticket_number": "A-008", "checked_in_at": isoformat(datetime.now(UTC))}  # fmt: skip
    assert desk.feed("appointment.checked_in", arrived) is Outcome.PROCESSED
    # Its place is in the counter's line: six people ahead, nobody yet to tell.
    assert desk.track(away).json["queue_position"] == 7
    assert desk.events("ticket.turn_near") == []
    for _ in range(2):
        call(desk, keys["agent"], "3")
    assert desk.events("ticket.turn_near") == []  # four ahead still
    call(desk, keys["agent"], "3")  # three ahead: time to set out
    told = desk.events("ticket.turn_near")
    assert [(t["reference"], t["ticket_number"], t["ahead"]) for t in told] == [
        (away["reference"], "A-007", 3)
    ]
    assert "estimated_wait_seconds" in told[0]
    # Once: neither later calls nor the worker's look tell them again; the one who
    # checked in at the kiosk is in the building and is told nothing.
    config = service.Desk.from_config(desk.app.extensions["loket"].settings.desk)
    for _ in range(3):
        call(desk, keys["agent"], "3")
        with unit_of_work(desk.engine, "queue", storage.outbox) as unit:
            service.check_turns_near(unit, config, datetime.now(UTC))
    assert len(desk.events("ticket.turn_near")) == 1
    assert [desk.track(t).json["ticket_number"] for t in room] == [f"A-00{n}" for n in range(1, 7)]
    assert desk.track(came).json["queue_position"] == 2  # behind the number on its way


def test_a_call_back_not_reached_keeps_its_place_is_tried_again_later_and_then_asks_a_time(
    desk, keys
):
    def attempt(ticket, outcome, key="agent", note="No answer"):
        url = f"/v1/tickets/{ticket['ticket_id']}/callback-attempts"
        return desk.client.post(url, json={"outcome": outcome, "note": note},
                                headers=bearer(keys[key]))  # fmt: skip

    missed = desk.arrive("callback", minutes_ago=30, contact_minutes_ago=30)
    desk.arrive("web", minutes_ago=10)  # behind it in fair order
    assert desk.next(keys["agent"]).json["id"] == missed["ticket_id"]
    web = desk.arrive("web", minutes_ago=0)
    assert attempt(web, "reached").status_code == 409  # not a call-back in progress
    assert attempt(missed, "reached", key="other_agent").status_code == 403  # not theirs
    assert attempt(missed, "maybe").status_code == 422
    reached = attempt(missed, "reached", note="Spoke briefly; calls back with the serial")
    assert reached.status_code == 200 and reached.json["status"] == "in_progress"
    for n in (1, 2):
        gone = attempt(missed, "not_reached" if n == 1 else "voicemail")
        assert gone.status_code == 200, gone.text
        assert (gone.json["status"], gone.json["callback_attempts"]) == ("queued", n)
        # Back with its place, but not offered again before the retry time.
        assert desk.track(missed).json["queue_position"] == 1
        taken = desk.next(keys["agent"])  # the web requests behind it, first `later`
        assert taken.status_code == 200 and taken.json["id"] != missed["ticket_id"]
        config = service.Desk.from_config(desk.app.extensions["loket"].settings.desk)
        with unit_of_work(desk.engine, "queue", storage.outbox) as unit:
            after_retry = datetime.now(UTC) + config.callback.retry + timedelta(seconds=1)
            assert (
                service.claim_next(unit, "frontoffice", "alice", after_retry).id
                == (missed["ticket_id"])
            )
    asked = attempt(missed, "not_reached")
    assert (asked.json["status"], asked.json["callback_attempts"]) == ("waiting_on_customer", 3)
    told = desk.events("ticket.status_changed")[-1]
    assert told["to"] == "waiting_on_customer"
    assert "3 times but could not reach you" in told["public_note"]
    shown = desk.client.get(f"/v1/tickets/{missed['ticket_id']}", headers=bearer(keys["agent"]))
    kinds = [h["kind"] for h in shown.json["history"]]
    assert kinds.count("callback_not_reached") == 2 and "callback_voicemail" in kinds
    assert "callback_reached" in kinds
    assert sample("loket_callback_attempts_total", queue="frontoffice", outcome="voicemail") >= 1


def test_a_customer_the_desk_could_not_reach_chooses_another_time_and_keeps_their_place(desk, keys):
    missed = desk.arrive("callback", minutes_ago=30, contact_minutes_ago=30)
    assert desk.next(keys["agent"]).json["id"] == missed["ticket_id"]
    url = f"/v1/tickets/{missed['ticket_id']}/callback-attempts"
    config = service.Desk.from_config(desk.app.extensions["loket"].settings.desk)
    for _ in range(config.callback.max_attempts):
        if desk.track(missed).json["status"] == "queued":
            with unit_of_work(desk.engine, "queue", storage.outbox) as unit:
                later = datetime.now(UTC) + config.callback.retry + timedelta(seconds=1)
                service.claim_next(unit, "frontoffice", "alice", later)
        desk.client.post(url, json={"outcome": "not_reached"}, headers=bearer(keys["agent"]))
    asked = desk.events("ticket.status_changed")[-1]
    assert (asked["to"], asked["reason"]) == ("waiting_on_customer", "callback_not_reached")
    assert desk.track(missed).json["channel"] == "callback"

    def choose(starts_in_minutes, length_minutes=60, token=None):
        starts = datetime.now(UTC) + timedelta(minutes=starts_in_minutes)
        window = {"not_before": isoformat(starts),
                  "not_after": isoformat(starts + timedelta(minutes=length_minutes))}  # fmt: skip
        return desk.client.post(
            f"/v1/track/{missed['reference']}/callback-window",
            query_string={"token": missed["tracking_token"] if token is None else token},
            json=window,
        ), window

    assert choose(60, token="wrong-token-0000000")[0].status_code == 404
    assert choose(-120)[0].status_code == 422  # passed already
    assert choose(60, length_minutes=-5)[0].status_code == 422
    assert choose(60, length_minutes=25 * 60)[0].status_code == 422
    assert choose(60 * 24 * 31)[0].status_code == 422
    chosen, window = choose(60)
    assert chosen.status_code == 200, chosen.text
    assert chosen.json == {"reference": missed["reference"], "status": "queued",
                           "callback_not_before": window["not_before"],
                           "callback_not_after": window["not_after"]}  # fmt: skip
    told = desk.events("ticket.status_changed")[-1]
    assert (told["from"], told["to"], told["reason"]) == (
        "waiting_on_customer",
        "queued",
        "callback_window_chosen",
    )
    assert told["public_note"].startswith("Thank you: we will call you on ")
    shown = desk.client.get(f"/v1/tickets/{missed['ticket_id']}", headers=bearer(keys["agent"]))
    assert shown.json["callback_attempts"] == 0 and shown.json["assigned_to"] is None
    # Its place: due by the end of the new window, not pushed behind later arrivals.
    assert datetime.fromisoformat(shown.json["due_at"]) <= datetime.fromisoformat(
        window["not_after"]
    )
    later = desk.arrive("web", minutes_ago=0)
    with unit_of_work(desk.engine, "queue", storage.outbox) as unit:
        in_window = datetime.now(UTC) + timedelta(minutes=61)
        assert service.claim_next(unit, "frontoffice", "alice", in_window).id == missed["ticket_id"]
    assert desk.track(later).json["queue_position"] == 1
    # Chosen once: a second choice (another tab) finds it no longer waiting on them.
    again, _ = choose(90)
    assert again.status_code == 409
    assert again.json["error"]["code"] == "not_waiting_on_customer"


def test_a_call_back_for_no_particular_time_takes_one_while_in_line_and_only_once(desk, keys):
    missed = desk.arrive("callback", minutes_ago=5, contact_minutes_ago=5)
    starts = datetime.now(UTC) + timedelta(hours=2)
    window = {"not_before": isoformat(starts), "not_after": isoformat(starts + timedelta(hours=1))}
    url = f"/v1/track/{missed['reference']}/callback-window"
    token = {"token": missed["tracking_token"]}
    chosen = desk.client.post(url, query_string=token, json=window)
    assert chosen.status_code == 200, chosen.text
    told = desk.events("ticket.status_changed")[-1]
    assert (told["to"], told["reason"]) == ("queued", "callback_window_chosen")
    assert desk.track(missed).json["callback_not_after"] == window["not_after"]
    # A window chosen (here, or with the request) is kept: the customer does not move it.
    assert desk.client.post(url, query_string=token, json=window).status_code == 409
    booked = desk.arrive("callback", callback=window)
    again = desk.client.post(
        f"/v1/track/{booked['reference']}/callback-window",
        query_string={"token": booked["tracking_token"]},
        json=window,
    )
    assert again.status_code == 409
    # Nor while an agent is calling.
    held = desk.arrive("callback", minutes_ago=60, contact_minutes_ago=60)
    assert desk.next(keys["agent"]).json["id"] == held["ticket_id"]
    busy = desk.client.post(
        f"/v1/track/{held['reference']}/callback-window",
        query_string={"token": held["tracking_token"]},
        json=window,
    )
    assert busy.status_code == 409
