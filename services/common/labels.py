"""People's words for the contract's keys, in Dutch and English: one source for the portal,
the console and notify, so a status, channel or queue reads the same on every page and in
every message.

The product's own words (statuses for customers and for agents, channels, priorities)
are here; the desk's words (its queues, categories, their fields and choices, the
priority questions) come from its desk file, and a key the file does not name is shown
as the file's nearest words, never as a bare key where a label exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.common.vocabulary import LANGUAGES

# A ticket's status as the agent reads it in the console.
DESK_STATUSES = {
    "nl": {
        "queued": "Wacht in de rij",
        "in_progress": "In behandeling",
        "waiting_on_customer": "Wacht op de klant",
        "waiting_on_third_party": "Wacht op een derde",
        "resolved": "Opgelost",
        "closed": "Gesloten",
        "cancelled": "Geannuleerd",
    },
    "en": {
        "queued": "In the queue",
        "in_progress": "In progress",
        "waiting_on_customer": "Waiting on the customer",
        "waiting_on_third_party": "Waiting on a third party",
        "resolved": "Resolved",
        "closed": "Closed",
        "cancelled": "Cancelled",
    },
}
# The same status as a customer understands it (status page, messages).
CUSTOMER_STATUSES = {
    "nl": {
        "queued": "Wacht op een medewerker",
        "in_progress": "Een medewerker is ermee bezig",
        "waiting_on_customer": "Wij wachten op uw reactie",
        "waiting_on_third_party": "Wij wachten op een andere partij",
        "resolved": "Opgelost",
        "closed": "Afgesloten",
        "cancelled": "Geannuleerd",
    },
    "en": {
        "queued": "Waiting for an agent",
        "in_progress": "An agent is working on it",
        "waiting_on_customer": "We are waiting for your reply",
        "waiting_on_third_party": "We are waiting for another party",
        "resolved": "Resolved",
        "closed": "Closed",
        "cancelled": "Cancelled",
    },
}
CHANNEL_NAMES = {
    "nl": {
        "web": "Selfserviceportaal",
        "email": "E-mail",
        "phone": "Telefoon",
        "chat": "Chat",
        "walk_in": "Balie",
        "callback": "Terugbelverzoek",
    },
    "en": {
        "web": "Self-service portal",
        "email": "E-mail",
        "phone": "Phone",
        "chat": "Chat",
        "walk_in": "Walk-in counter",
        "callback": "Call-back request",
    },
}
PRIORITY_NAMES = {
    "nl": {1: "kritiek", 2: "hoog", 3: "normaal", 4: "laag"},
    "en": {1: "critical", 2: "high", 3: "normal", 4: "low"},
}
PRIORITY_MEANING = {
    "nl": "eerste reactie binnen {first}, opgelost binnen {resolved}",
    "en": "first response within {first}, resolved within {resolved}",
}
# What happened to a ticket, as the console's thread tells it.
HISTORY_KINDS = {
    "nl": {
        "created": "Aangemaakt",
        "queued": "In de rij gezet",
        "assigned": "Genomen",
        "taken_over": "Overgenomen",
        "status": "Status gewijzigd",
        "in_progress": "In behandeling genomen",
        "message": "Bericht",
        "note": "Notitie",
        "priority": "Prioriteit gewijzigd",
        "transferred": "Overgedragen",
        "resolved": "Opgelost",
        "resolved_on_contact": "Opgelost bij het eerste contact",
        "reopened": "Heropend",
        "reopened_by_reply": "Heropend door een reactie van de klant",
        "customer_replied": "Reactie van de klant",
        "feedback": "Beoordeling van de klant",
        "sla_breached": "Termijn overschreden",
        "called": "Opgeroepen naar de balie",
        "reactivated": "Teruggezet in de rij",
        "checked_in": "Aangemeld bij de zuil",
        "callback_reached": "Teruggebeld: bereikt",
        "callback_not_reached": "Teruggebeld: niet bereikt",
        "callback_voicemail": "Teruggebeld: voicemail ingesproken",
    },
    "en": {
        "created": "Created",
        "queued": "Queued",
        "assigned": "Taken",
        "taken_over": "Taken over",
        "status": "Status changed",
        "in_progress": "Taken in progress",
        "message": "Message",
        "note": "Note",
        "priority": "Priority changed",
        "transferred": "Transferred",
        "resolved": "Resolved",
        "resolved_on_contact": "Resolved on first contact",
        "reopened": "Reopened",
        "reopened_by_reply": "Reopened by the customer's reply",
        "customer_replied": "Customer's reply",
        "feedback": "Customer's rating",
        "sla_breached": "Target missed",
        "called": "Called to the counter",
        "reactivated": "Put back in line",
        "checked_in": "Checked in at the kiosk",
        "callback_reached": "Called back: reached",
        "callback_not_reached": "Called back: not reached",
        "callback_voicemail": "Called back: voicemail left",
    },
}


def _minutes_in_words(minutes: int, language: str) -> str:
    if minutes % (24 * 60) == 0 and minutes >= 24 * 60:
        days = minutes // (24 * 60)
        if language == "nl":
            return f"{days} {'dag' if days == 1 else 'dagen'}"
        return f"{days} day{'s' if days != 1 else ''}"
    if minutes % 60 == 0:
        return f"{minutes // 60} {'uur' if language == 'nl' else 'h'}"
    return f"{minutes} min"


def _words(names: Any, language: str) -> str | None:
    """A desk file's `{nl: ..., en: ...}` in one language, or its first language."""
    if isinstance(names, Mapping):
        return names.get(language) or next((str(v) for v in names.values() if v), None)
    return str(names) if names else None


@dataclass(frozen=True)
class Labels:
    """Every label of one desk: built once from its desk file (`Labels.of(desk)`)."""

    queues: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    categories: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # (category, field) -> label per language; (category, field, value) -> the choice's.
    fields: Mapping[tuple[str, str], Mapping[str, str]] = field(default_factory=dict)
    choices: Mapping[tuple[str, str, str], Mapping[str, str]] = field(default_factory=dict)
    first_response: Mapping[int, int] = field(default_factory=dict)
    resolution: Mapping[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, desk: Mapping[str, Any]) -> Labels:
        questions = desk.get("questions") or {}
        fields_: dict[tuple[str, str], Mapping[str, str]] = {}
        choices: dict[tuple[str, str, str], Mapping[str, str]] = {}
        for category in desk.get("catalogue") or []:
            priority_questions = ({"name": n, **q} for n, q in questions.items())
            asked = [*(category.get("fields") or []), *priority_questions]
            for form_field in asked:
                fields_[(category["id"], form_field["name"])] = form_field.get("label") or {}
                for option in form_field.get("options") or []:
                    key = (category["id"], form_field["name"], str(option["value"]))
                    choices[key] = option.get("label") or {}
        sla = desk.get("sla") or {}
        return cls(
            queues={q["id"]: q.get("name") or {} for q in desk.get("queues") or []},
            categories={c["id"]: c.get("name") or {} for c in desk.get("catalogue") or []},
            fields=fields_,
            choices=choices,
            first_response=_targets(sla, "first_response_minutes"),
            resolution=_targets(sla, "resolution_minutes"),
        )

    def status(self, key: str | None, language: str) -> str:
        return DESK_STATUSES[_lang(language)].get(key or "", key or "")

    def customer_status(self, key: str | None, language: str) -> str:
        return CUSTOMER_STATUSES[_lang(language)].get(key or "", key or "")

    def channel(self, key: str | None, language: str) -> str:
        return CHANNEL_NAMES[_lang(language)].get(key or "", key or "")

    def queue(self, key: str | None, language: str) -> str:
        return _words(self.queues.get(key or ""), _lang(language)) or (key or "")

    def category(self, key: str | None, language: str) -> str:
        return _words(self.categories.get(key or ""), _lang(language)) or (key or "")

    def field(self, category: str | None, name: str, language: str) -> str:
        found = _words(self.fields.get((category or "", name)), _lang(language))
        return found or self._any_field(name, language) or name.replace("_", " ").capitalize()

    def _any_field(self, name: str, language: str) -> str | None:
        """A field kept from a category since renamed: the label another category gives it."""
        for (_, field_name), names in self.fields.items():
            if field_name == name:
                return _words(names, _lang(language))
        return None

    def value(self, category: str | None, name: str, value: Any, language: str) -> str:
        """A field's value as the customer chose it: the choice's label, a yes/no, or the
        value as typed."""
        if isinstance(value, bool):
            return {"nl": ("nee", "ja"), "en": ("no", "yes")}[_lang(language)][value]
        found = self.choices.get((category or "", name, str(value)))
        return _words(found, _lang(language)) or str(value)

    def priority(self, number: int | None, language: str) -> str:
        """`2 (high)`."""
        if number is None:
            return ""
        name = PRIORITY_NAMES[_lang(language)].get(int(number))
        return f"{number} ({name})" if name else str(number)

    def priority_meaning(self, number: int, language: str) -> str:
        """What the priority promises, from the desk's targets."""
        lang = _lang(language)
        first, resolved = self.first_response.get(number), self.resolution.get(number)
        if first is None or resolved is None:
            return ""
        return PRIORITY_MEANING[lang].format(
            first=_minutes_in_words(first, lang), resolved=_minutes_in_words(resolved, lang)
        )

    def history(self, kind: str, language: str) -> str:
        return HISTORY_KINDS[_lang(language)].get(kind, kind.replace("_", " ").capitalize())


def _targets(sla: Mapping[str, Any], name: str) -> dict[int, int]:
    return {int(k): int(v) for k, v in (sla.get(name) or {}).items()}


def _lang(language: str) -> str:
    return language if language in LANGUAGES else LANGUAGES[0]
