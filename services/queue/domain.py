"""Queue discipline (contract section 5), free of Flask, SQL and the broker: clocks and
targets, the status machine and what the customer is told (wait estimates: waits.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from services.common.events import to_utc
from services.common.hashing import secret_digest

OPEN_STATUSES = frozenset(
    {"queued", "in_progress", "waiting_on_customer", "waiting_on_third_party"}
)
# The targets of the SLA whose breach is reported: the first response (a claim) by
# `due_at`, the resolution by `resolution_due_at`.
SLA_TARGETS = ("first_response", "resolution")
# Which status may follow which. Reaching "queued" from work means "back to the queue"
# (released by the agent); the ticket keeps its place, its due time is unchanged.
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "queued": frozenset({"in_progress", "cancelled"}),
    "in_progress": frozenset(
        {"queued", "waiting_on_customer", "waiting_on_third_party", "resolved", "cancelled"}
    ),
    "waiting_on_customer": frozenset({"in_progress", "resolved", "cancelled"}),
    "waiting_on_third_party": frozenset({"in_progress", "resolved", "cancelled"}),
    "resolved": frozenset({"closed", "in_progress"}),
    "closed": frozenset(),
    "cancelled": frozenset(),
}
# Channels where a person was already waiting when the request was made: their clock
# starts at first contact, so leaving the hold line for a call-back keeps their place.
LIVE_CHANNELS = frozenset({"phone", "chat", "walk_in", "callback"})
TRANSFERS_BEFORE_FLAG = 2
REPEAT_WINDOW = timedelta(days=14)
LOW_SCORE = 2


class InvalidTransition(Exception):
    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(f"A ticket that is {current} cannot become {wanted}.")
        self.current, self.wanted = current, wanted


def check_transition(current: str, wanted: str) -> None:
    if wanted not in TRANSITIONS.get(current, frozenset()):
        raise InvalidTransition(current, wanted)


def clock_start(
    channel: str, created_at: datetime, contact_started_at: datetime | None
) -> datetime:
    if channel in LIVE_CHANNELS and contact_started_at is not None:
        return min(contact_started_at, created_at)
    return created_at


def _minutes(table: Mapping[Any, Any], priority: int) -> int | None:
    value = table.get(priority, table.get(str(priority)))
    return int(value) if value is not None else None


def first_response_target(priority: int, channel: str, sla: Mapping[str, Any]) -> timedelta:
    per_channel = (sla.get("channel_first_response_minutes") or {}).get(channel) or {}
    minutes = _minutes(per_channel, priority) or _minutes(sla["first_response_minutes"], priority)
    return timedelta(minutes=minutes)


# Medium impact and medium urgency: the priority most requests get, and so the one whose
# first-response target is a channel's waiting-time target on dashboards and in alerts.
USUAL_PRIORITY = 3


def wait_target(channel: str, sla: Mapping[str, Any]) -> timedelta:
    """How long a request of this channel may wait before someone takes it in hand."""
    return first_response_target(USUAL_PRIORITY, channel, sla)


def resolution_target(priority: int, sla: Mapping[str, Any]) -> timedelta:
    return timedelta(minutes=_minutes(sla["resolution_minutes"], priority))


def due_at(start: datetime, priority: int, channel: str, sla: Mapping[str, Any]) -> datetime:
    return start + first_response_target(priority, channel, sla)


def new_ticket(
    data: Mapping[str, Any],
    sla: Mapping[str, Any],
    queues: Sequence[str],
    requester_key: str | None,
    repeat_of: str | None,
) -> dict[str, Any]:
    """The ticket a `ticket.created` makes: in its category's queue (else the desk's
    first), its clocks and targets set; resolved at once when it was solved on contact."""
    created_at = to_utc(data["created_at"])
    contact = data.get("contact_started_at")
    start = clock_start(data["channel"], created_at, to_utc(contact) if contact else None)
    on_the_spot = bool(data.get("resolved_on_contact"))
    window = data.get("callback") or {}
    not_before = to_utc(window["not_before"]) if window.get("not_before") else None
    not_after = to_utc(window["not_after"]) if window.get("not_after") else None
    booked = data.get("appointment")
    due = callback_due(due_at(start, data["priority"], data["channel"], sla), not_before, not_after)
    return {
        "id": data["ticket_id"],
        "reference": data["reference"],
        "tracking_token_sha256": secret_digest(data["tracking_token"]),
        "channel": data["channel"],
        "category": data["category"],
        "queue": data["queue"] if data["queue"] in queues else queues[0],
        "priority": data["priority"],
        "status": "resolved" if on_the_spot else "queued",
        "subject": data["subject"],
        "description": data["description"],
        "fields": data["fields"],
        "requester": data["requester"],
        "requester_key": requester_key,
        "created_at": created_at,
        "contact_started_at": start,
        # An appointment is due at its time: the counter calls it then, in fair order.
        "due_at": to_utc(booked["start"]) if booked else due,
        "callback_not_before": not_before,
        "callback_not_after": not_after,
        "attachments": data.get("attachments") or None,
        "ticket_number": data.get("ticket_number"),
        "appointment_start": to_utc(booked["start"]) if booked else None,
        "appointment_end": to_utc(booked["end"]) if booked else None,
        "resolution_due_at": start + resolution_target(data["priority"], sla),
        "assigned_to": on_contact_desk(data["channel"]) if on_the_spot else None,
        "first_claimed_at": created_at if on_the_spot else None,
        "resolved_at": created_at if on_the_spot else None,
        "resolution": data.get("resolution") if on_the_spot else None,
        "transfer_count": 0,
        "needs_supervisor": False,
        "repeat_of": repeat_of,
        "first_response_breached": False,
        "resolution_breached": False,
        "updated_at": created_at,
    }


def takes_a_callback_window(channel: str, status: str, window_ends: datetime | None) -> bool:
    """Whether the customer may choose when to be called: a call-back the desk could not
    reach (waiting on them), or one in line for no particular time (a window's end is
    only ever set by a window)."""
    if channel != "callback":
        return False
    return status == "waiting_on_customer" or (status == "queued" and window_ends is None)


def requester_key(requester: Mapping[str, Any]) -> str | None:
    """Who the requester is, for repeat contacts: their e-mail, else their phone digits."""
    email = (requester.get("email") or "").strip().lower()
    if email:
        return f"email:{email}"
    digits = "".join(c for c in requester.get("phone") or "" if c.isdigit())
    return f"phone:{digits[-9:]}" if len(digits) >= 6 else None


# The desk addresses customers politely ("u" in Dutch), here as in every e-mail.
MESSAGES = {
    "en": {
        "queued": "We received your request; it is waiting for the next available agent.",
        "in_progress": "An agent is working on your request.",
        "waiting_on_customer": "We need something from you to continue; please reply.",
        "waiting_on_third_party": "We are waiting for another party; we will let you know.",
        "resolved": "Your request was resolved.",
        "closed": "Your request was closed.",
        "cancelled": "Your request was cancelled.",
        "customer_replied": "We received your message; it was added to your request.",
        "reopened_by_reply": "We received your message and reopened your request; it is "
        "waiting for the next available agent.",
        "transferred": "Your request was passed on to {team}, who can help you further. "
        "You keep your place and your reference.",
        "reopened": "We reopened your request; a supervisor will contact you.",
        "called": "Number {number} is called: please go to counter {counter}.",
        "no_show": "Your number was called {calls} times and you did not come to the "
        "counter. Ask at the counter: we put you back in the place you had.",
        "reactivated": "You are back in line, in the place you had.",
        "appointment_cancelled": "Your appointment is cancelled.",
        "appointment_booked": "Your appointment is booked. When you arrive, check in at the "
        "kiosk with your reference; the screen then calls your number.",
        "appointment_missed": "You did not check in for your appointment, so it has lapsed. "
        "You are welcome to book another time.",
        "from_home": "You have your number for the counter. We send you a message when your "
        "turn nears; then come to the waiting room and check in at the kiosk with your "
        "reference.",
        "arrived": "You are checked in at the kiosk: watch the screen for your number.",
        "callback_retry": "We called you but could not reach you; we will try again.",
        "callback_new_time": "We called you {n} times but could not reach you. Please tell "
        "us on your status page when we can call you, or call us.",
        "callback_window_chosen": "Thank you: we will call you on {day} between {start} and {end}.",
    },
    "nl": {
        "queued": "We hebben uw verzoek ontvangen; het wacht op de eerstvolgende medewerker.",
        "in_progress": "Een medewerker is met uw verzoek bezig.",
        "waiting_on_customer": "We hebben iets van u nodig om verder te gaan; wilt u reageren?",
        "waiting_on_third_party": "We wachten op een andere partij; we laten het u weten.",
        "resolved": "Uw verzoek is opgelost.",
        "closed": "Uw verzoek is gesloten.",
        "cancelled": "Uw verzoek is geannuleerd.",
        "customer_replied": "We hebben uw bericht ontvangen en bij uw verzoek gevoegd.",
        "reopened_by_reply": "We hebben uw bericht ontvangen en uw verzoek heropend; het "
        "wacht op de eerstvolgende medewerker.",
        "transferred": "Uw verzoek is doorgegeven aan {team}, die u verder kan helpen. "
        "U houdt uw plek en uw referentie.",
        "reopened": "We hebben uw verzoek heropend; een leidinggevende neemt contact met u op.",
        "called": "Nummer {number} wordt opgeroepen: ga naar balie {counter}.",
        "no_show": "Uw nummer is {calls} keer opgeroepen en u kwam niet naar de balie. "
        "Meld u bij de balie: dan krijgt u de plek terug die u had.",
        "reactivated": "U staat weer in de rij, op de plek die u had.",
        "appointment_cancelled": "Uw afspraak is geannuleerd.",
        "appointment_booked": "Uw afspraak staat. Meld u bij aankomst aan bij de zuil met uw "
        "kenmerk; het scherm roept daarna uw nummer op.",
        "appointment_missed": "U hebt zich niet gemeld voor uw afspraak; die is daarom "
        "vervallen. U kunt graag een nieuwe tijd boeken.",
        "from_home": "U hebt uw nummer voor de balie. We sturen u een bericht als u bijna "
        "aan de beurt bent; kom dan naar de wachtruimte en meld u bij de zuil aan met uw "
        "kenmerk.",
        "arrived": "U bent aangemeld bij de zuil: let op het scherm voor uw nummer.",
        "callback_retry": "We hebben u gebeld maar niet bereikt; we proberen het opnieuw.",
        "callback_new_time": "We hebben u {n} keer gebeld maar niet bereikt. Laat op uw "
        "statuspagina weten wanneer we u kunnen bellen, of bel ons.",
        "callback_window_chosen": "Dank u: we bellen u op {day} tussen {start} en {end}.",
    },
}


# Who resolved a contact on the spot, in reports: the desk where it happened, never the
# front-end's key (a key is not a person).
ON_CONTACT_DESKS = {"walk_in": "counter", "phone": "phone line", "chat": "chat",
                    "callback": "call-back", "web": "portal", "email": "e-mail"}  # fmt: skip


def on_contact_desk(channel: str) -> str:
    return ON_CONTACT_DESKS.get(channel, channel)


# Statuses in which a ticket is held by the agent it is assigned to.
HELD_STATUSES = frozenset({"in_progress", "waiting_on_customer", "waiting_on_third_party"})


def may_work_on(assigned_to: str | None, agent: str, lead: bool) -> bool:
    """A ticket nobody holds is anyone's; a held one its holder's, or a supervisor's."""
    return assigned_to is None or assigned_to == agent or lead


def callback_due(
    due: datetime, window_start: datetime | None, window_end: datetime | None
) -> datetime:
    """A call-back is due by the end of the window the customer was promised, at the
    latest: its place in line never makes the desk call after the promise ran out. Its
    place in line may not make it due before the window either: it is not offered then
    (`next`), so the window's end is its target."""
    if window_end is None:
        return due
    if window_start is not None and due < window_start:
        return window_end
    return min(due, window_end)


@dataclass(frozen=True)
class CounterRules:
    """How a counter calls people (the desk file's `counter`)."""

    calls_before_no_show: int = 3
    seconds_between_calls: int = 60
    # An appointment not checked in this long after its start did not come.
    appointment_grace: timedelta = timedelta(minutes=15)
    # A number taken from home is told its turn nears with this many people ahead, or
    # once its wait is below `turn_near_wait`, whichever comes first.
    notify_when_ahead: int = 3
    turn_near_wait: timedelta = timedelta(minutes=10)

    @classmethod
    def from_config(cls, counter: Mapping[str, Any] | None) -> CounterRules:
        counter = counter or {}
        return cls(
            counter.get("calls_before_no_show", cls.calls_before_no_show),
            counter.get("seconds_between_calls", cls.seconds_between_calls),
            timedelta(minutes=counter.get("appointment_grace_minutes", 15)),
            counter.get("notify_when_ahead", cls.notify_when_ahead),
        )

    def turn_near(self, ahead: int, likely_wait_seconds: int | None) -> bool:
        """Whether someone with `ahead` people before them should set out now."""
        if ahead <= self.notify_when_ahead:
            return True
        return likely_wait_seconds is not None and (
            likely_wait_seconds < self.turn_near_wait.total_seconds()
        )

    def counts(self, last_called: datetime | None, now: datetime) -> bool:
        """Whether a call counts towards a no-show: a call again sooner than the spacing
        shows the number once more but gives the person no more time than the last."""
        return last_called is None or (now - last_called).total_seconds() >= (
            self.seconds_between_calls
        )

    def no_show_refused(
        self, counted_calls: int, last_called: datetime | None, now: datetime
    ) -> str | None:
        """Why the person may not yet be recorded as not come, or None when they may: the
        number called often enough, and the spacing passed since the last call too."""
        if last_called is None:
            return "This number has not been called."
        if counted_calls < self.calls_before_no_show:
            return (
                f"Called {counted_calls} of {self.calls_before_no_show} times; "
                "call again before recording that the person did not come."
            )
        if not self.counts(last_called, now):
            return f"Give the person {self.seconds_between_calls} s after the last call."
        return None


@dataclass(frozen=True)
class CallbackRules:
    """How the desk calls people back (the desk file's `callback`)."""

    retry: timedelta = timedelta(minutes=20)
    max_attempts: int = 3

    @classmethod
    def from_config(cls, callback: Mapping[str, Any] | None) -> CallbackRules:
        callback = callback or {}
        return cls(
            timedelta(minutes=callback.get("retry_minutes", 20)),
            callback.get("max_attempts", cls.max_attempts),
        )

    def next_try(
        self, attempts: int, window_end: datetime | None, now: datetime
    ) -> datetime | None:
        """When to call again after `attempts` calls that did not reach the customer, or
        None when the desk should ask them for another time: the attempts used up, or no
        time left in the window they chose."""
        if attempts >= self.max_attempts:
            return None
        again = now + self.retry
        if window_end is not None and again >= window_end:
            return None
        return again


CALLBACK_OUTCOMES = ("reached", "not_reached", "voicemail")


def status_after_reply(
    status: str, resolved_at: datetime | None, at: datetime, reopen_window: timedelta
) -> str:
    """Where a customer's reply leaves a ticket: waiting on them, it goes back to work;
    resolved not longer ago than the reopen window, it is reopened (back in line)."""
    if status == "waiting_on_customer":
        return "in_progress"
    if status == "resolved" and resolved_at is not None and at - resolved_at <= reopen_window:
        return "queued"
    return status


def public_message(kind: str, language: str, **values: str) -> str | None:
    template = MESSAGES.get(language, MESSAGES["en"]).get(kind)
    return template.format(**values) if template else None


def waits_by_hour(
    claims: Iterable[tuple[str, datetime, datetime]], zone: tzinfo
) -> list[dict[str, Any]]:
    """How long customers waited for an agent, per hour of the day (in the desk's zone, by
    when they were taken) and channel: the count, the mean and the longest wait. `claims`
    are (channel, first contact, first claim)."""
    groups: dict[tuple[int, str], list[float]] = {}
    for channel, started, claimed in claims:
        hour = to_utc(claimed).astimezone(zone).hour
        wait = max(0.0, (to_utc(claimed) - to_utc(started)).total_seconds())
        groups.setdefault((hour, channel), []).append(wait)
    return [
        {"hour": hour, "channel": channel, "count": len(waits),
         "mean_wait_seconds": round(sum(waits) / len(waits), 1),
         "max_wait_seconds": round(max(waits), 1)}
        for (hour, channel), waits in sorted(groups.items())
    ]  # fmt: skip
