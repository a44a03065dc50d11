"""What the portal says, in Dutch and English, addressing the customer politely ("u")."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "desk": "Servicedesk",
        "skip": "Naar de inhoud",
        "language_switch": "English",
        "home_title": "Servicedesk",
        "home_body": "Kies hoe u ons bereikt. Met de link in onze e-mail ziet u daarna hoe "
        "het met uw verzoek staat.",
        "channel": "Kanaal",
        "open_now": "Nu open",
        "yes": "ja",
        "no": "nee",
        "opening_hours": "Openingstijden",
        "always_open": "altijd",
        "channels_unavailable": "We kunnen de kanalen nu niet laten zien; probeer het zo opnieuw.",
        "times_in": "Tijden in de tijdzone {zone}.",
        "track_title": "Uw verzoek {reference}",
        "status": "Status",
        "position": "Plaats in de rij",
        "wait": "Verwachte wachttijd",
        "wait_range": "tussen {low} en {high}",
        "wait_unknown": "nog onbekend",
        "updates": "Wat er is gebeurd",
        "not_found_title": "Verzoek niet gevonden",
        "not_found_body": "We kunnen dit verzoek niet vinden. Controleer of u de hele link "
        "uit onze e-mail gebruikt.",
        "unavailable_title": "Even niet beschikbaar",
        "unavailable_body": "We kunnen dit nu niet laten zien. Probeer het over een paar "
        "minuten opnieuw; er gaat niets verloren.",
        "survey_title": "Hoe tevreden bent u?",
        "survey_legend": "Hoe tevreden bent u over de afhandeling van uw verzoek {reference}?",
        "score_1": "1 — zeer ontevreden",
        "score_2": "2 — ontevreden",
        "score_3": "3 — neutraal",
        "score_4": "4 — tevreden",
        "score_5": "5 — zeer tevreden",
        "comment": "Toelichting (niet verplicht)",
        "send": "Versturen",
        "choose_score": "Kies een score van 1 tot 5.",
        "error_summary": "Er is een probleem",
        "thanks_title": "Bedankt",
        "thanks_body": "Bedankt voor uw antwoord; we gebruiken het om beter te worden.",
        "answered_body": "Deze vragenlijst is al ingevuld. Bedankt!",
        "form_expired": "Het formulier was verlopen; verstuur het opnieuw.",
        "reply_heading": "Reageren of iets toevoegen",
        "reply_label": "Uw bericht",
        "reply_hint": "Wij lezen het bij uw verzoek; u hoeft niets te herhalen.",
        "reply_send": "Bericht versturen",
        "reply_sent": "Uw bericht is bij uw verzoek gevoegd.",
        "write_message": "Schrijf een bericht.",
        "message_too_long": "Uw bericht is te lang (hoogstens 5000 tekens).",
        "minutes": "{n} minuten",
        "hours": "{n} uur",
    },
    "en": {
        "desk": "Service desk",
        "skip": "Skip to content",
        "language_switch": "Nederlands",
        "home_title": "Service desk",
        "home_body": "Choose how to reach us. The link in our e-mail then shows you where "
        "your request stands.",
        "channel": "Channel",
        "open_now": "Open now",
        "yes": "yes",
        "no": "no",
        "opening_hours": "Opening hours",
        "always_open": "always",
        "channels_unavailable": "We cannot show the channels right now; please try again shortly.",
        "times_in": "Times in the {zone} time zone.",
        "track_title": "Your request {reference}",
        "status": "Status",
        "position": "Place in line",
        "wait": "Expected wait",
        "wait_range": "between {low} and {high}",
        "wait_unknown": "not known yet",
        "updates": "What has happened",
        "not_found_title": "Request not found",
        "not_found_body": "We cannot find this request. Please check that you used the whole "
        "link from our e-mail.",
        "unavailable_title": "Briefly unavailable",
        "unavailable_body": "We cannot show this right now. Please try again in a few "
        "minutes; nothing is lost.",
        "survey_title": "How satisfied are you?",
        "survey_legend": "How satisfied are you with how we handled your request {reference}?",
        "score_1": "1 — very dissatisfied",
        "score_2": "2 — dissatisfied",
        "score_3": "3 — neutral",
        "score_4": "4 — satisfied",
        "score_5": "5 — very satisfied",
        "comment": "Comment (optional)",
        "send": "Send",
        "choose_score": "Choose a score from 1 to 5.",
        "error_summary": "There is a problem",
        "thanks_title": "Thank you",
        "thanks_body": "Thank you for your answer; we use it to get better.",
        "answered_body": "This survey has been answered already. Thank you!",
        "form_expired": "The form had expired; please send it again.",
        "reply_heading": "Reply or add information",
        "reply_label": "Your message",
        "reply_hint": "We read it with your request; you need not repeat anything.",
        "reply_send": "Send message",
        "reply_sent": "Your message was added to your request.",
        "write_message": "Write a message.",
        "message_too_long": "Your message is too long (at most 5000 characters).",
        "minutes": "{n} minutes",
        "hours": "{n} hours",
    },
}

# The status as a customer understands it.
STATUSES = {
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


def duration(seconds: float, language: str) -> str:
    """A wait in words: whole minutes up to two hours, then hours."""
    texts = TEXTS[language]
    minutes = max(1, round(seconds / 60))
    if minutes < 120:
        return texts["minutes"].format(n=minutes)
    return texts["hours"].format(n=round(minutes / 60))


DAY_NAMES = {
    "nl": {"mon": "ma", "tue": "di", "wed": "wo", "thu": "do", "fri": "vr", "sat": "za",
           "sun": "zo"},
    "en": {"mon": "Mon", "tue": "Tue", "wed": "Wed", "thu": "Thu", "fri": "Fri", "sat": "Sat",
           "sun": "Sun"},
}  # fmt: skip


def opening_hours(option: dict, language: str) -> list[str]:
    """`Mon-Fri 08:00-17:00` in the customer's language; "always" for an open channel."""
    hours = option.get("opening_hours")
    if not isinstance(hours, list):
        return [TEXTS[language]["always_open"]]
    names = DAY_NAMES[language]
    shown = []
    for period in hours:
        days = "-".join(names.get(d, d) for d in str(period.get("days", "")).split("-"))
        shown.append(f"{days} {period.get('opens')}-{period.get('closes')}")
    return shown
