"""What the portal says, in Dutch and English, addressing the customer politely ("u")."""

from __future__ import annotations

from datetime import date

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
        "registering_title": "Uw verzoek wordt geregistreerd",
        "registering_body": "We hebben uw verzoek ontvangen en zetten het nu in de rij. Deze "
        "pagina laat zo meteen zien hoe het ervoor staat.",
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
        "follow_up": "Verzoek {old} was al afgesloten. Daarom hebben we uw bericht als nieuw "
        "verzoek {new} ontvangen; het verwijst naar {old}, zodat u niets hoeft te herhalen.",
        "write_message": "Schrijf een bericht.",
        "message_too_long": "Uw bericht is te lang (hoogstens 5000 tekens).",
        "ask_link": "Stel een vraag",
        "callback_link": "Laat u terugbellen",
        "ask_title": "Waar gaat uw vraag over?",
        "ask_intro": "Kies het onderwerp dat het beste past. Het formulier vraagt daarna "
        "alleen wat wij nodig hebben.",
        "q_subject": "Korte omschrijving",
        "q_description": "Wat is er aan de hand?",
        "q_description_hint": "Vertel wat u ziet en wat u al hebt geprobeerd.",
        "q_name": "Uw naam",
        "q_email": "Uw e-mailadres",
        "q_email_hint": "Hierheen sturen we de bevestiging en de link naar uw verzoek.",
        "q_phone": "Uw telefoonnummer",
        "optional": "(niet verplicht)",
        "at_most": "Hoogstens {n} tekens.",
        "between": "Tussen {min} en {max}.",
        "about_you": "Over u",
        "send_request": "Verzoek versturen",
        "send_anyway": "Toch versturen",
        "suggestions_title": "Misschien staat het antwoord hier al",
        "suggestions_body": "Deze artikelen lijken op uw vraag. Helpt er een? Dan hoeft u "
        "niets te versturen. Zo niet, verstuur dan uw verzoek; wat u typte staat er nog.",
        "read_article": "Lees het artikel",
        "err_required": "{label}: vul dit in.",
        "err_choose": "{label}: kies een antwoord.",
        "err_too_long": "{label}: te lang (hoogstens {n} tekens).",
        "err_email": "Vul een e-mailadres in zoals naam@voorbeeld.nl.",
        "err_phone": "Vul een telefoonnummer in zoals 020 123 4567.",
        "err_date": "{label}: vul een datum in.",
        "err_number": "{label}: vul een getal in.",
        "err_range": "{label}: vul een getal tussen {min} en {max} in.",
        "err_check": "{label}: controleer uw antwoord.",
        "err_slot": "Kies wanneer wij u mogen bellen.",
        "not_sent": "Uw verzoek is nog niet verstuurd: wij zijn even niet bereikbaar. Wat u "
        "typte staat er nog; probeer het zo opnieuw.",
        "form_problem": "Controleer het formulier.",
        "callback_title": "Laat u terugbellen",
        "callback_intro": "Kies een moment waarop wij u mogen bellen. Uw plaats in de rij "
        "telt vanaf nu.",
        "slot": "Wanneer mogen wij bellen?",
        "choose_time": "Kies een tijd",
        "no_slots": "Er zijn de komende dagen geen tijden om terug te bellen.",
        "received_title": "Bedankt, wij hebben uw verzoek ontvangen",
        "received_body": "Uw kenmerk is {reference}. U krijgt een bevestiging per e-mail met "
        "de link naar deze pagina. Hier ziet u waar uw verzoek staat en hoe lang het nog "
        "duurt, en kunt u reageren of iets toevoegen.",
        "article_back": "Terug naar uw vraag: gebruik de knop Vorige van uw browser.",
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
        "registering_title": "Your request is being registered",
        "registering_body": "We have received your request and are putting it in line. This "
        "page shows where it stands in a moment.",
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
        "follow_up": "Request {old} had been closed, so we received your message as a new "
        "request {new}; it refers to {old}, so you need not repeat anything.",
        "write_message": "Write a message.",
        "message_too_long": "Your message is too long (at most 5000 characters).",
        "ask_link": "Ask a question",
        "callback_link": "Ask to be called back",
        "ask_title": "What is your question about?",
        "ask_intro": "Choose the subject that fits best. The form then asks only what we need.",
        "q_subject": "Short description",
        "q_description": "What is the matter?",
        "q_description_hint": "Tell us what you see and what you have tried already.",
        "q_name": "Your name",
        "q_email": "Your e-mail address",
        "q_email_hint": "We send the confirmation and the link to your request here.",
        "q_phone": "Your phone number",
        "optional": "(optional)",
        "at_most": "At most {n} characters.",
        "between": "Between {min} and {max}.",
        "about_you": "About you",
        "send_request": "Send request",
        "send_anyway": "Send anyway",
        "suggestions_title": "The answer may be here already",
        "suggestions_body": "These articles look like your question. Does one help? Then "
        "you need not send anything. If not, send your request; what you typed is still "
        "there.",
        "read_article": "Read the article",
        "err_required": "{label}: enter an answer.",
        "err_choose": "{label}: choose an answer.",
        "err_too_long": "{label}: too long (at most {n} characters).",
        "err_email": "Enter an e-mail address like name@example.com.",
        "err_phone": "Enter a phone number like +31 20 123 4567.",
        "err_date": "{label}: enter a date.",
        "err_number": "{label}: enter a number.",
        "err_range": "{label}: enter a number between {min} and {max}.",
        "err_check": "{label}: check your answer.",
        "err_slot": "Choose when we may call you.",
        "not_sent": "Your request has not been sent yet: we cannot be reached right now. "
        "What you typed is still here; please try again shortly.",
        "form_problem": "Check the form.",
        "callback_title": "Ask to be called back",
        "callback_intro": "Choose a time when we may call you. Your place in line counts from now.",
        "slot": "When may we call you?",
        "choose_time": "Choose a time",
        "no_slots": "There are no call-back times in the coming days.",
        "received_title": "Thank you, we have received your request",
        "received_body": "Your reference is {reference}. You will get a confirmation by "
        "e-mail with the link to this page. Here you see where your request stands and how "
        "long it will still take, and you can reply or add information.",
        "article_back": "Back to your question: use your browser's Back button.",
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


MONTHS = {
    "nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
           "september", "oktober", "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}  # fmt: skip
WEEKDAYS = {
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}


def day_name(day: date, language: str) -> str:
    """`woensdag 2 december` / `Wednesday 2 December`."""
    return f"{WEEKDAYS[language][day.weekday()]} {day.day} {MONTHS[language][day.month - 1]}"


# The console (agents, supervisors, admins): English for now.
DESK_TEXTS: dict[str, str] = {
    "console": "Service desk console",
    "sign_in": "Sign in",
    "sign_out": "Sign out",
    "name": "Name",
    "password": "Password",
    "wrong": "The name or the password is not right.",
    "locked": "Too many wrong passwords: signing in is locked for a while. Try again in "
    "a quarter of an hour, or ask an admin.",
    "queues": "Queues",
    "queue": "Queue",
    "waiting": "Waiting",
    "oldest_wait": "Oldest wait",
    "estimate": "Expected wait",
    "flagged": "For a supervisor",
    "take_next": "Take next",
    "nobody_waiting": "Nobody is waiting in {queue}.",
    "mine": "My tickets",
    "none_mine": "You hold no open tickets.",
    "find": "Find a request",
    "find_label": "Reference, requester or words",
    "find_hint": "A reference like LKT-000123, the requester's e-mail address or phone "
    "number, or words from the subject or description.",
    "nothing_found": "No ticket matches.",
    "any": "any",
    "only_mine": "Only mine",
    "find_button": "Find",
    "forbidden_title": "Not for your role",
    "forbidden_body": "This page is for supervisors and admins.",
    "not_found_title": "Not found",
    "not_found_body": "There is no such ticket.",
    "unavailable_title": "Briefly unavailable",
    "unavailable_body": "The queue service does not answer right now; nothing is lost. "
    "Try again in a moment.",
    "expired_title": "The form had expired",
    "expired_body": "Nothing was changed. Go back, reload the page and try again.",
    "reference": "Reference",
    "subject": "Subject",
    "status": "Status",
    "priority": "Priority",
    "channel": "Channel",
    "held_by": "Held by",
    "nobody": "nobody",
    "waited": "Waiting since first contact",
    "due": "Due",
    "callback": "Call back between",
    "answers": "The customer's answers",
    "requester": "Requester",
    "history": "History",
    "attachments": "Attachments (kept by the mail system)",
    "unnamed": "(no name)",
    "internal": "internal",
    "earlier": "Earlier requests",
    "repeat": "Repeat contact",
    "transfers": "Transfers",
    "claim": "Take this ticket",
    "claim_reason": "Why out of order (recorded)",
    "write": "Write",
    "write_to": "To whom",
    "to_customer": "To the customer (sent, and shown on their status page)",
    "to_note": "Internal note (never shown or sent to the customer)",
    "message": "Message",
    "send": "Send",
    "done_messages": "Added to the history.",
    "change_status": "Change status",
    "to": "New status",
    "public_note": "Message to the customer (sent and shown on their status page)",
    "internal_note": "Internal note (never shown to the customer)",
    "change_priority": "Change priority",
    "reason": "Reason",
    "transfer": "Transfer",
    "to_queue": "To queue",
    "note": "Note for the team (the customer is told only which team has it)",
    "save": "Save",
    "done_claim": "You hold this ticket now.",
    "done_status": "Status changed.",
    "done_priority": "Priority changed.",
    "done_transfer": "Transferred.",
    "times_in": "Times in {zone}.",
    "reports": "Reports",
    "waits_title": "Waits over the day",
    "waits_intro": "How long customers waited for an agent on {date}, by the hour they were "
    "taken ({zone}): the mean per channel. The table gives the mean and the longest wait, "
    "and how many were taken.",
    "waits_table": "Mean / longest wait (taken)",
    "hour": "Hour",
    "knowledge": "Knowledge articles",
    "knowledge_intro": "One knowledge base: customers find these articles before they ask, "
    "agents while they help.",
    "new_article": "Write an article",
    "title": "Title",
    "language": "Language",
    "category": "Category",
    "updated": "Updated",
    "no_articles": "No articles yet.",
    "article_body": "Text (a blank line starts a paragraph)",
    "tags": "Tags",
    "tags_hint": "Separated by commas.",
    "category_hint": "A category of the catalogue, or empty.",
    "remove_article": "Remove this article",
    "done_article_saved": "Article saved.",
    "done_article_removed": "Article removed.",
    "link_problem": "Link to a problem",
    "problem": "Problem",
    "new_problem": "A new problem",
    "new_problem_title": "Title of a new problem",
    "link": "Link",
    "done_problem_link": "Linked to the problem.",
    "period": "Period",
    "last_days": "last {n} days",
    "csat": "Satisfaction",
    "by": "by {group}",
    "answers_n": "Answers",
    "average": "Average (1 to 5)",
    "satisfied": "Satisfied (4 or 5)",
    "reasons": "Contact reasons",
    "count": "Contacts",
    "share": "Share",
    "trend": "Change from the period before",
    "problems": "Open problems",
    "no_problems": "No open problems.",
    "tickets_linked": "linked tickets",
    "resolution": "Resolution (sent to every linked customer)",
    "resolve": "Resolve",
    "flagged_tickets": "Tickets flagged for a supervisor (transferred back and forth)",
    "none_flagged": "None.",
    "nothing_yet": "Nothing in this period yet.",
    "done_problem": "Problem resolved; every linked customer is told.",
    "problem_title": "Not resolved",
    "problem_body": "Write a resolution of at least three characters; it goes to every "
    "linked customer.",
    "back": "Back to the queues",
}
