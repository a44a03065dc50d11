"""What the portal says to customers and the console to agents, in every language its
catalogues hold.

Each message has a key, which the code and the templates use, and its English text: the
catalogues' source language, marked with `N_` for extraction. The translations are gettext
catalogues beside this file: `translations/messages.pot`, extracted from the code by Babel
(`make messages`), and a `.po` per language (`translations/nl/LC_MESSAGES/messages.po`). A
translator adds a language with ordinary tools (`pybabel init`, Poedit, Weblate);
`tests/unit/test_catalogues.py` fails on a message missing from a catalogue."""

from __future__ import annotations

from datetime import date

from babel.dates import format_date

from services.common.vocabulary import DAY_NAMES
from services.portal.catalogues import N_, translated_tables

# The customer's pages, addressing the customer politely.
PORTAL_MESSAGES: dict[str, str] = {
    "desk": N_("Service desk"),
    "skip": N_("Skip to content"),
    "home_title": N_("Service desk"),
    "home_body": N_(
        "Choose how to reach us. The link in our e-mail then shows you where your request stands."
    ),
    "channel": N_("Channel"),
    "open_now": N_("Open now"),
    "yes": N_("yes"),
    "no": N_("no"),
    "opening_hours": N_("Opening hours"),
    "always_open": N_("always"),
    "channels_unavailable": N_("We cannot show the channels right now; please try again shortly."),
    "times_in": N_("Times in the {zone} time zone."),
    "track_title": N_("Your request {reference}"),
    "display_title": N_("Waiting room"),
    "kiosk_title": N_("Take a number"),
    "kiosk_lead": N_(
        "Choose what your question is about. You get a number; the screen shows when it is "
        "your turn and at which counter."
    ),
    "kiosk_name": N_("Your name (if you like)"),
    "kiosk_name_hint": N_(
        "The counter's staff then greet you by name. Leave it empty if you prefer."
    ),
    "kiosk_about": N_("What is your question about?"),
    "kiosk_something_else": N_("Something else"),
    "kiosk_choose": N_("Choose what your question is about."),
    "kiosk_failed": N_(
        "Your number could not be made just now. Please try again, or ask at the counter."
    ),
    "kiosk_description": N_("Taken a number at the kiosk."),
    "kiosk_visitor": N_("Visitor"),
    "kiosk_number_title": N_("Your number"),
    "kiosk_your_number": N_("Your number is {number}"),
    "kiosk_wait": N_("Expected wait: {wait}."),
    "kiosk_wait_unknown": N_("We cannot yet say how long the wait is."),
    "kiosk_watch": N_("Keep an eye on the screen: it shows your number and the counter to go to."),
    "kiosk_follow": N_("Scan to follow your request {reference} on your phone."),
    "kiosk_qr": N_("A code to scan: the page of your request"),
    "kiosk_done": N_("Done"),
    "kiosk_appointment": N_("Do you have an appointment or a number from home?"),
    "kiosk_reference": N_("The reference in your confirmation"),
    "kiosk_reference_hint": N_("It is in your confirmation, such as LKT-000123."),
    "kiosk_check_in": N_("Check in"),
    "kiosk_checked_in": N_("You are checked in for {at}"),
    "kiosk_not_found": N_(
        "We cannot find that appointment or number. Check the reference in your confirmation."
    ),
    "kiosk_arrived": N_("Welcome: you are checked in"),
    "kiosk_number_expired": N_("This number was for an earlier day. Please take a new one."),
    "kiosk_not_waiting": N_(
        "This request no longer waits for the counter. Please take a number if you need one."
    ),
    "kiosk_too_early": N_("You are early: you can check in from an hour before your time."),
    "kiosk_not_booked": N_("This appointment was cancelled. Please take a number instead."),
    "kiosk_returns": N_("For the next visitor, this screen goes back to the start in {seconds} s."),
    "kiosk_stay": N_("Keep it open"),
    "kiosk_off_title": N_("This kiosk is not set up"),
    "kiosk_off_body": N_("Please ask at the counter; we help you there."),
    "kiosk_away_title": N_("Numbers are taken in the waiting room"),
    "kiosk_away_body": N_(
        "This page gives a number for the counter to people in our building. From elsewhere, "
        "you can send us your question or ask us to call you back."
    ),
    "display_counter": N_("counter {counter}"),
    "display_earlier": N_("Called before"),
    "display_none": N_("No number called yet"),
    "display_waiting": N_("Waiting: {n}"),
    "display_wait": N_("a new number waits {wait}"),
    "display_wait_unknown": N_("we cannot yet say how long a new number waits"),
    "display_offline": N_("This screen cannot reach the desk right now; it tries again by itself."),
    "display_say": N_("Number {number}, counter {counter}"),
    "sound_on": N_("Turn sound on"),
    "sound_off": N_("Turn sound off"),
    "status": N_("Status"),
    "your_number": N_("Your number"),
    "position": N_("Place in line"),
    "wait": N_("Expected wait"),
    "wait_range": N_("between {low} and {high}"),
    "wait_unknown": N_("not known yet"),
    "updates": N_("What has happened"),
    "not_found_title": N_("Request not found"),
    "not_found_body": N_(
        "We cannot find this request. Please check that you used the whole link from our e-mail."
    ),
    "too_large_title": N_("Too much text"),
    "too_large_body": N_(
        "What you sent is too large to receive. Go back, make it shorter and send it again."
    ),
    "registering_title": N_("Your request is being registered"),
    "registering_body": N_(
        "We have received your request and are putting it in line. This page shows where it "
        "stands in a moment."
    ),
    "unavailable_title": N_("Briefly unavailable"),
    "unavailable_body": N_(
        "We cannot show this right now. Please try again in a few minutes; nothing is lost."
    ),
    "survey_title": N_("How satisfied are you?"),
    "survey_legend": N_("How satisfied are you with how we handled your request {reference}?"),
    "score_1": N_("1 — very dissatisfied"),
    "score_2": N_("2 — dissatisfied"),
    "score_3": N_("3 — neutral"),
    "score_4": N_("4 — satisfied"),
    "score_5": N_("5 — very satisfied"),
    "comment": N_("Comment (optional)"),
    "send": N_("Send"),
    "choose_score": N_("Choose a score from 1 to 5."),
    "error_summary": N_("There is a problem"),
    "thanks_title": N_("Thank you"),
    "thanks_body": N_("Thank you for your answer; we use it to get better."),
    "answered_body": N_("This survey has been answered already. Thank you!"),
    "form_expired": N_("The form had expired; please send it again."),
    "reply_heading": N_("Reply or add information"),
    "reply_label": N_("Your message"),
    "reply_hint": N_("We read it with your request; you need not repeat anything."),
    "reply_send": N_("Send message"),
    "reply_sent": N_("Your message was added to your request."),
    "follow_up": N_(
        "Request {old} had been closed, so we received your message as a new request {new}; "
        "it refers to {old}, so you need not repeat anything."
    ),
    "write_message": N_("Write a message."),
    "message_too_long": N_("Your message is too long (at most 5000 characters)."),
    "too_many_replies": N_(
        "You have sent ten messages in the last minute. Wait a minute, then send this one "
        "again: your text is still here."
    ),
    "ask_link": N_("Ask a question"),
    "callback_link": N_("Ask to be called back"),
    "ask_title": N_("What is your question about?"),
    "ask_intro": N_("Choose the subject that fits best. The form then asks only what we need."),
    "q_subject": N_("Short description"),
    "q_description": N_("What is the matter?"),
    "q_description_hint": N_("Tell us what you see and what you have tried already."),
    "q_name": N_("Your name"),
    "q_email": N_("Your e-mail address"),
    "q_email_hint": N_("We send the confirmation and the link to your request here."),
    "q_phone": N_("Your phone number"),
    "optional": N_("(optional)"),
    "at_most": N_("At most {n} characters."),
    "between": N_("Between {min} and {max}."),
    "about_you": N_("About you"),
    "send_request": N_("Send request"),
    "send_anyway": N_("Send anyway"),
    "suggestions_title": N_("The answer may be here already"),
    "suggestions_body": N_(
        "These articles look like your question. Does one help? Then you need not send "
        "anything. If not, send your request; what you typed is still there."
    ),
    "read_article": N_("Read the article"),
    "err_required": N_("{label}: enter an answer."),
    "err_choose": N_("{label}: choose an answer."),
    "err_too_long": N_("{label}: too long (at most {n} characters)."),
    "err_email": N_("Enter an e-mail address like name@example.com."),
    "err_phone": N_("Enter a phone number like +31 20 123 4567."),
    "err_date": N_("{label}: enter a date."),
    "err_number": N_("{label}: enter a number."),
    "err_range": N_("{label}: enter a number between {min} and {max}."),
    "err_check": N_("{label}: check your answer."),
    "err_slot": N_("Choose when we may call you."),
    "not_sent": N_(
        "Your request has not been sent yet: we cannot be reached right now. What you typed "
        "is still here; please try again shortly."
    ),
    "too_many_requests": N_(
        "Your request has not been sent yet: many requests came from this address in the "
        "last hour. What you typed is still here; please try again later or call us."
    ),
    "form_problem": N_("Check the form."),
    "callback_title": N_("Ask to be called back"),
    "appointment_title": N_("Book a time at the counter"),
    "appointment_intro": N_(
        "Choose what your question is about; then a time to come to the counter. We send "
        "you a confirmation by e-mail."
    ),
    "appointment_link": N_("Book a time at the counter"),
    "from_home_link": N_("Take a number from home"),
    "from_home_title": N_("Take a number for the counter"),
    "from_home_intro": N_(
        "Take your place in line before you leave home. We tell you by e-mail or text "
        "message when your turn nears; then come to the waiting room and check in at the "
        "kiosk with your reference."
    ),
    "from_home_closed_title": N_("The counter is closed now"),
    "from_home_closed_body": N_(
        "A number from home is for today's line, so you can take one while the counter is "
        "open. You can also book a time, or send us your question."
    ),
    "from_home_button": N_("Take a number"),
    "from_home_description": N_("Taken a number from home."),
    "q_from_home_about": N_("What would you like to ask at the counter?"),
    "q_tell_by": N_("How shall we tell you that your turn nears?"),
    "tell_by_email": N_("By e-mail"),
    "tell_by_sms": N_("By text message"),
    "q_mobile": N_("Your mobile number"),
    "q_email_for_turn": N_("If you chose e-mail."),
    "q_mobile_for_turn": N_("If you chose text message."),
    "appointment_slot": N_("When do you come?"),
    "appointment_hint": N_("Each time is {minutes} minutes at the counter."),
    "appointment_no_slots": N_("There are no free times at the counter in the coming two weeks."),
    "err_appointment": N_("Choose a time to come."),
    "err_slot_full": N_("Someone booked that time a moment ago. Please choose another."),
    "book": N_("Book this time"),
    "your_appointment": N_("Your appointment"),
    "appointment_booked": N_("Booked: check in at the kiosk when you arrive"),
    "move_link": N_("Another time"),
    "move_title": N_("Another time for your appointment"),
    "move_now": N_("Your appointment {reference} is now on {when}."),
    "move_to": N_("When do you come instead?"),
    "move_button": N_("Move to this time"),
    "move_keep": N_("Keep the time I have"),
    "appointment_moved": N_("Your appointment is moved; we sent you the new time by e-mail."),
    "cancel_appointment": N_("Cancel this appointment"),
    "appointment_cancelled": N_(
        "Your appointment is cancelled; the time is free for someone else."
    ),
    "callback_intro": N_("Choose a time when we may call you. Your place in line counts from now."),
    "slot": N_("When may we call you?"),
    "choose_time": N_("Choose a time"),
    "no_slots": N_("There are no call-back times in the coming days."),
    "callback_again_title": N_("We could not reach you by phone"),
    "callback_again_body": N_(
        "We tried to call you about {reference} but could not reach you. Choose a time that "
        "suits you: you keep your place in line, and we call you in that time."
    ),
    "callback_any_time_title": N_("Choose a time for us to call you"),
    "callback_any_time_body": N_(
        "We call you about {reference} as soon as it is your turn. Would a particular time "
        "suit you better? Choose it: you keep your place in line, and we call you in that time."
    ),
    "callback_again_button": N_("Call me at this time"),
    "callback_again_link": N_("Choose a time for us to call you"),
    "callback_again_or": N_("Or call us yourself; keep your reference {reference} at hand."),
    "callback_again_back": N_("Back to my request"),
    "your_callback": N_("We call you"),
    "callback_chosen": N_("Thank you: we will call you in the time you chose."),
    "received_title": N_("Thank you, we have received your request"),
    "received_body": N_(
        "Your reference is {reference}. You will get a confirmation by e-mail with the link "
        "to this page. Here you see where your request stands and how long it will still "
        "take, and you can reply or add information."
    ),
    "article_back": N_("Back to your question: use your browser's Back button."),
    "minute": N_("1 minute"),
    "minutes": N_("{n} minutes"),
    "hours": N_("{n} hours"),
    "days": N_("{n} days"),
}

# The console: agents, supervisors, admins.
CONSOLE_MESSAGES: dict[str, str] = {
    "console": N_("Service desk console"),
    "skip": N_("Skip to content"),
    "error_summary": N_("There is a problem"),
    "refreshed": N_("Refreshed every 10 seconds while this page is open."),
    "navigation": N_("Workspace"),
    "changed_since": N_(
        "This ticket changed since you opened it: the conversation below is as it is now. "
        "Reload the page before you change the ticket."
    ),
    "shortcuts": N_("Keyboard shortcuts"),
    "or": N_("or"),
    "key_next": N_("take the next ticket (of this queue)"),
    "key_reply": N_("write to the customer"),
    "key_note": N_("write an internal note"),
    "key_send": N_("send what you wrote"),
    "key_resolve": N_("go to Send and resolve"),
    "key_find": N_("find a request"),
    "key_help": N_("show or hide this list"),
    "key_escape": N_("leave the field, close this list"),
    "prepared_answers": N_("Prepared answers"),
    "prepared_answer": N_("Prepared answer"),
    "knowledge_article": N_("Knowledge article"),
    "insert": N_("Insert"),
    "insert_link": N_("Insert its link"),
    "answers_intro": N_(
        "The desk's own replies to common requests, so every colleague gives the same "
        "answer. Agents insert them in the reply box, filled in for the ticket."
    ),
    "new_answer": N_("Write a prepared answer"),
    "no_answers": N_("No prepared answers yet."),
    "answer_title": N_("Title (what agents choose it by)"),
    "every_queue": N_("every queue"),
    "every_category": N_("every category"),
    "languages": N_("Languages"),
    "text_in": N_("Text in {language}"),
    "placeholders_hint": N_(
        "{name} becomes the requester's name, {reference} the request's reference, {agent} "
        "the name of the agent who sends it. Write the text in one language or both; the "
        "customer gets theirs."
    ),
    "remove_answer": N_("Remove this answer"),
    "done_answer_saved": N_("Answer saved."),
    "done_answer_removed": N_("Answer removed."),
    "answer_placeholder": N_(
        "The text has {{{typed}}}, which is not a placeholder: use {{name}}, {{reference}} "
        "or {{agent}}."
    ),
    "answer_title_refused": N_("Give the answer a title of 3 to 120 characters."),
    "answer_text_nl_refused": N_("Write the answer in at least one language."),
    "answer_refused": N_("This was not saved; check the fields."),
    "views": N_("Views"),
    "supervision": N_("Supervision"),
    "tickets": N_("Tickets"),
    "filters": N_("Filters"),
    "all_open": N_("All open tickets"),
    "all_waiting": N_("Waiting in a queue"),
    "callbacks_waiting": N_("Call-backs waiting"),
    "surge_about": N_("Many contacts about {category}"),
    "counter": N_("Counter"),
    "counter_choose": N_("Which counter are you at?"),
    "counter_number": N_("Counter"),
    "counter_number_hint": N_("As the waiting room's screen shows it, such as 3 or B2."),
    "counter_queue": N_("For the queue"),
    "counter_start": N_("Start at this counter"),
    "counter_wrong": N_("Give the counter in letters, digits and hyphens, and choose a queue."),
    "counter_heading": N_("Counter {counter} · {queue}"),
    "counter_change": N_("Another counter or queue"),
    "counter_called_here": N_("Called to your counter"),
    "counter_nobody_called": N_("Nobody is called to your counter."),
    "counter_called_times": N_("calls: {n} · last at {at}"),
    "counter_serve": N_("Start serving"),
    "counter_recall": N_("Call again"),
    "counter_no_show": N_("Did not come"),
    "counter_call": N_("Call next"),
    "counter_present": N_("Present and waiting"),
    "counter_nobody_present": N_("Nobody waits at the counter."),
    "counter_ticket_number": N_("Number"),
    "counter_waiting_since": N_("Waiting since"),
    "counter_appointment": N_("appointment at {at}"),
    "counter_on_the_way": N_("taken from home, not checked in yet"),
    "counter_elsewhere": N_("Called to another counter"),
    "counter_at": N_("counter {counter}"),
    "counter_no_shows": N_("Did not come in the last hours"),
    "counter_put_back_reason": N_("Why back in line (recorded)"),
    "counter_put_back": N_("Put back in their place"),
    "counter_done_call": N_("The next number is called."),
    "counter_done_nobody": N_("Nobody waits for this queue."),
    "counter_done_recall": N_("The number is called again."),
    "counter_done_no-show": N_(
        "Recorded as not come; the customer is told how to get their place back."
    ),
    "counter_done_reactivate": N_("Back in line, in the place they had."),
    "counter_refused_no_show": N_(
        "Not yet: a number is called {calls} times, at least {seconds} seconds apart, "
        "before it is recorded as not come."
    ),
    "counter_refused_put_back_reason": N_("Say why they are put back (at least 3 characters)."),
    "nobody_named": N_("no name given"),
    "chats_waiting": N_("Chats waiting"),
    "nav_unavailable": N_("The queues cannot be shown right now."),
    "nobody_waits": N_("nobody waits"),
    "oldest_short": N_("longest {minutes} min"),
    "find_placeholder": N_("LKT-000123, e-mail, phone or words"),
    "in_fair_order": N_("In fair order: the next to take comes first."),
    "sorted_by": N_("Sorted by {column}."),
    "first_n": N_("The first {n} are shown; narrow the filters to see others."),
    "column_reference": N_("Reference"),
    "column_subject": N_("Subject"),
    "column_requester": N_("Requester"),
    "column_channel": N_("Channel"),
    "column_status": N_("Status"),
    "column_priority": N_("Priority"),
    "column_due": N_("Time left"),
    "column_holder": N_("Held by"),
    "left": N_("{span} left"),
    "overdue": N_("{span} overdue"),
    "met_at": N_("met at {at}"),
    "clocks": N_("Targets"),
    "first_response": N_("First response by"),
    "resolution_due": N_("Resolved by"),
    "conversation": N_("Conversation"),
    "customer": N_("the customer"),
    "desk": N_("the desk"),
    "thread_customer": N_("wrote"),
    "thread_reply": N_("replied to the customer"),
    "thread_note": N_("internal note"),
    "event_status": N_("Status: {status}"),
    "event_priority": N_("Priority {old} to {new}"),
    "event_taken_over": N_("Taken over from {holder}"),
    "actor_customer": N_("the customer"),
    "actor_feedback": N_("after the customer's rating"),
    "actor_problem_management": N_("problem resolved"),
    "delivered": N_("{medium} delivered to {to}"),
    "not_delivered": N_("{medium} to {to} not delivered"),
    "attempt": N_("attempt {n}"),
    "medium_email": N_("E-mail"),
    "medium_sms": N_("Text message"),
    "medium_webhook": N_("Webhook"),
    "send_and_wait": N_("Send and wait for the customer"),
    "send_and_resolve": N_("Send and resolve"),
    "done_reply": N_("Added to the conversation."),
    "done_reply_waiting_on_customer": N_("Sent; the ticket now waits on the customer."),
    "done_reply_resolved": N_("Sent, and the ticket is resolved."),
    "details": N_("Details"),
    "repeat_contact": N_("Repeat contact"),
    "earlier_n": N_("{n} earlier requests"),
    "first_request": N_("No earlier requests."),
    "transfers_n": N_("transferred {n} times"),
    "no_category": N_("No category"),
    "role_agent": N_("agent"),
    "role_supervisor": N_("supervisor"),
    "role_admin": N_("admin"),
    "language_nl": N_("Dutch"),
    "language_en": N_("English"),
    "csat_by_channel": N_("Satisfaction by channel"),
    "csat_by_queue": N_("Satisfaction by queue"),
    "csat_by_agent": N_("Satisfaction by agent"),
    "board": N_("Wallboard"),
    "waiting_now": N_("waiting"),
    "longest_wait": N_("Longest wait {minutes} min"),
    "expected_wait": N_("Expected wait {minutes} min"),
    "no_estimate": N_("No estimate yet"),
    "taken_last_hour": N_("{n} taken in the last hour"),
    "waiting_by_channel": N_("Waiting per queue and channel"),
    "nobody_waits_anywhere": N_("Nobody is waiting."),
    "at_risk": N_("About to miss their target"),
    "target": N_("Target"),
    "target_first_response": N_("First response"),
    "target_resolution": N_("Resolution"),
    "minutes_over": N_("{n} min over"),
    "minutes_left": N_("{n} min left"),
    "none_at_risk": N_("No request is within 30 minutes of its target."),
    "who_works_what": N_("Who works on what"),
    "nobody_at_work": N_("Nobody holds a request."),
    "csat_by_day": N_("Satisfaction per day (the trend)"),
    "group_priority": N_("Priority"),
    "group_day": N_("Day"),
    "service_levels": N_("Service levels"),
    "service_levels_intro": N_(
        "For the requests that arrived in the period: the share of first responses and "
        "resolutions within their target (of those past or met), resolved at the first "
        "contact, the mean time an agent worked on one, transfers and claims out of order."
    ),
    "sl_by_priority": N_("Service levels by priority"),
    "sl_by_queue": N_("Service levels by queue"),
    "sl_by_channel": N_("Service levels by channel"),
    "sl_tickets": N_("Requests"),
    "sl_first_response": N_("First response in time"),
    "sl_resolution": N_("Resolved in time"),
    "sl_first_contact": N_("Resolved at first contact"),
    "sl_handling": N_("Mean handling time"),
    "sl_transfers": N_("Transfers"),
    "sl_jumps": N_("Out of order"),
    "sl_met_of": N_("{share} ({met} of {of})"),
    "sl_total": N_("All"),
    "n_min": N_("{n} min"),
    "download_csv": N_("Download as CSV"),
    "reasons_by_category": N_("Contact reasons by category"),
    "reasons_by_channel": N_("Contact reasons by channel"),
    "group_channel": N_("Channel"),
    "group_queue": N_("Queue"),
    "group_agent": N_("Agent"),
    "group_category": N_("Category"),
    "refused_fields": N_("Not saved: check {fields}."),
    "refused_not_holder": N_(
        "Only the person who holds this ticket, or a supervisor, may do this."
    ),
    "refused_claim": N_(
        "This ticket cannot be taken now: it is not waiting, or someone else holds it."
    ),
    "refused_reply": N_("Not sent: this ticket cannot take that status from the one it has."),
    "refused_status": N_("Not saved: this ticket cannot take that status from the one it has."),
    "refused_priority": N_("A finished ticket has no priority to change."),
    "refused_transfer": N_(
        "This ticket cannot be transferred: it is finished, or already in that queue."
    ),
    "field_message": N_("the message"),
    "field_reason": N_("the reason (at least 3 characters)"),
    "field_note": N_("the note for the team"),
    "field_public_note": N_("the message to the customer"),
    "field_internal_note": N_("the internal note"),
    "field_to": N_("the new status"),
    "field_to_queue": N_("the queue"),
    "field_priority": N_("the priority"),
    "field_other": N_("what you typed"),
    "also_open": N_("Also open by"),
    "since": N_("since"),
    "changed_meanwhile": N_(
        "Someone changed this ticket after you opened it: this is how it stands now. Nothing "
        "was sent or changed; what you typed is still here, so send it again if it still "
        "applies."
    ),
    "unknown": N_("unknown"),
    "show": N_("Show"),
    "sign_in": N_("Sign in"),
    "sign_out": N_("Sign out"),
    "name": N_("Name"),
    "password": N_("Password"),
    "wrong": N_("The name or the password is not right."),
    "locked": N_(
        "Too many wrong passwords: signing in is locked for a while. Try again in a quarter "
        "of an hour, or ask an admin."
    ),
    "queues": N_("Queues"),
    "queue": N_("Queue"),
    "waiting": N_("Waiting"),
    "oldest_wait": N_("Oldest wait"),
    "estimate": N_("Expected wait"),
    "flagged": N_("For a supervisor"),
    "take_next": N_("Take next"),
    "nobody_waiting": N_("Nobody is waiting in {queue}."),
    "mine": N_("My tickets"),
    "none_mine": N_("You hold no open tickets."),
    "find": N_("Find a request"),
    "find_label": N_("Reference, requester or words"),
    "find_hint": N_(
        "A reference like LKT-000123, the requester's e-mail address or phone number, or "
        "words from their name, the subject or the description."
    ),
    "nothing_found": N_("No ticket matches."),
    "any": N_("any"),
    "only_mine": N_("Only mine"),
    "find_button": N_("Find"),
    "forbidden_title": N_("Not for your role"),
    "forbidden_body": N_("This page is for supervisors and admins."),
    "not_found_title": N_("Not found"),
    "not_found_body": N_("There is no such ticket."),
    "unavailable_title": N_("Briefly unavailable"),
    "unavailable_body": N_(
        "The queue service does not answer right now; nothing is lost. Try again in a moment."
    ),
    "expired_title": N_("The form had expired"),
    "expired_body": N_("Nothing was changed. Go back, reload the page and try again."),
    "reference": N_("Reference"),
    "subject": N_("Subject"),
    "status": N_("Status"),
    "priority": N_("Priority"),
    "channel": N_("Channel"),
    "held_by": N_("Held by"),
    "nobody": N_("nobody"),
    "waited": N_("Waiting since first contact"),
    "due": N_("Due"),
    "callback": N_("Call back between"),
    "answers": N_("The customer's answers"),
    "requester": N_("Requester"),
    "history": N_("History"),
    "attachments": N_("Attachments"),
    "attachment_elsewhere": N_("kept by the mail system only"),
    "unnamed": N_("(no name)"),
    "internal": N_("internal"),
    "earlier": N_("Earlier requests"),
    "repeat": N_("Repeat contact"),
    "transfers": N_("Transfers"),
    "claim": N_("Take this ticket"),
    "claim_reason": N_("Why out of order (recorded)"),
    "write": N_("Write"),
    "write_to": N_("To whom"),
    "to_customer": N_("To the customer (sent, and shown on their status page)"),
    "to_note": N_("Internal note (never shown or sent to the customer)"),
    "message": N_("Message"),
    "send": N_("Send"),
    "done_messages": N_("Added to the history."),
    "change_status": N_("Change status"),
    "to": N_("New status"),
    "public_note": N_("Message to the customer (sent and shown on their status page)"),
    "internal_note": N_("Internal note (never shown to the customer)"),
    "change_priority": N_("Change priority"),
    "reason": N_("Reason"),
    "transfer": N_("Transfer"),
    "to_queue": N_("To queue"),
    "note": N_("Note for the team (the customer is told only which team has it)"),
    "save": N_("Save"),
    "done_claim": N_("You hold this ticket now."),
    "done_status": N_("Status changed."),
    "done_priority": N_("Priority changed."),
    "done_transfer": N_("Transferred."),
    "done_callback": N_("The call is recorded."),
    "refused_callback": N_("Only a call-back you are working on records a call."),
    "field_outcome": N_("how the call went"),
    "callback_call": N_("Call back"),
    "callback_dial": N_("Call {number}"),
    "callback_tried": N_("Called {n} times without reaching the customer."),
    "callback_outcome": N_("How did the call go?"),
    "callback_reached": N_("Reached the customer"),
    "callback_not_reached": N_("Not reached: try again later"),
    "callback_voicemail": N_("Left a voicemail: try again later"),
    "callback_record": N_("Record the call"),
    "callback_again": N_("Call again from"),
    "callback_tried_short": N_("tried {n}x"),
    "times_in": N_("Times in {zone}."),
    "reports": N_("Reports"),
    "waits_title": N_("Waits over the day"),
    "waits_intro": N_(
        "How long customers waited for an agent on {date}, by the hour they were taken "
        "({zone}): the mean per channel. The table gives the mean and the longest wait, and "
        "how many were taken."
    ),
    "waits_table": N_("Mean / longest wait (taken)"),
    "hour": N_("Hour"),
    "knowledge": N_("Knowledge articles"),
    "knowledge_intro": N_(
        "One knowledge base: customers find these articles before they ask, agents while they help."
    ),
    "new_article": N_("Write an article"),
    "title": N_("Title"),
    "language": N_("Language"),
    "category": N_("Category"),
    "updated": N_("Updated"),
    "no_articles": N_("No articles yet."),
    "article_body": N_("Text (a blank line starts a paragraph)"),
    "tags": N_("Tags"),
    "tags_hint": N_("Separated by commas."),
    "category_hint": N_("A category of the catalogue, or empty."),
    "remove_article": N_("Remove this article"),
    "done_article_saved": N_("Article saved."),
    "done_article_removed": N_("Article removed."),
    "link_problem": N_("Link to a problem"),
    "problem": N_("Problem"),
    "new_problem": N_("A new problem"),
    "new_problem_title": N_("Title of a new problem"),
    "link": N_("Link"),
    "done_problem_link": N_("Linked to the problem."),
    "period": N_("Period"),
    "last_days": N_("last {n} days"),
    "csat": N_("Satisfaction"),
    "by": N_("by {group}"),
    "answers_n": N_("Answers"),
    "average": N_("Average (1 to 5)"),
    "satisfied": N_("Satisfied (4 or 5)"),
    "reasons": N_("Contact reasons"),
    "count": N_("Contacts"),
    "share": N_("Share"),
    "trend": N_("Change from the period before"),
    "problems": N_("Open problems"),
    "no_problems": N_("No open problems."),
    "tickets_linked": N_("linked tickets"),
    "resolution": N_("Resolution (sent to every linked customer)"),
    "resolve": N_("Resolve"),
    "flagged_tickets": N_("Tickets flagged for a supervisor (transferred back and forth)"),
    "none_flagged": N_("None."),
    "nothing_yet": N_("Nothing in this period yet."),
    "done_problem": N_("Problem resolved; every linked customer is told."),
    "problem_title": N_("Not resolved"),
    "problem_body": N_(
        "Write a resolution of at least three characters; it goes to every linked customer."
    ),
    "phone_report": N_("The phone"),
    "phone_report_intro": N_(
        "Calls that came in, per day: how many an agent answered within the service "
        "level's seconds, how many callers hung up before anyone answered (each gets a "
        "call-back that keeps their place) and how long answering took on average."
    ),
    "calls_by_day": N_("Calls per day"),
    "calls_offered": N_("Calls"),
    "calls_answered": N_("Answered"),
    "calls_in_time": N_("Answered within {n} s"),
    "calls_abandoned": N_("Hung up before an answer"),
    "calls_callbacks": N_("Call-backs for them"),
    "calls_answer_time": N_("Mean time to answer"),
    "n_s": N_("{n} s"),
    "on_the_phone": N_("On the phone"),
    "probably": N_("Probably {name}"),
    "unknown_caller": N_("A number the desk does not know yet"),
    "record_this_call": N_("Record this call"),
    "record_contact": N_("Record a contact"),
    "record_contact_intro": N_(
        "A call or a visit at the counter, recorded as it happens: solved during the "
        "contact, or a ticket in line that keeps the wait the customer already had."
    ),
    "contact_by": N_("How did the customer reach you?"),
    "find_customer": N_("Find the customer"),
    "find_by": N_("Phone number, e-mail address or name"),
    "look_up": N_("Look up"),
    "found_nobody": N_("No requests of this customer yet: fill in their details below."),
    "use_details": N_("Use these details"),
    "their_requests": N_("Their requests"),
    "what_about": N_("What is it about?"),
    "choose_category": N_("Choose"),
    "q_subject": N_("Short description"),
    "q_description": N_("What is the matter?"),
    "q_description_hint": N_("What the customer tells you and what was tried already."),
    "q_name": N_("Name"),
    "q_email": N_("E-mail address"),
    "q_email_hint": N_("The confirmation, the link to the request and the survey go here."),
    "q_phone": N_("Phone number"),
    "optional": N_("(optional)"),
    "at_most": N_("At most {n} characters."),
    "between": N_("Between {min} and {max}."),
    "err_required": N_("{label}: enter an answer."),
    "err_choose": N_("{label}: choose an answer."),
    "err_too_long": N_("{label}: too long (at most {n} characters)."),
    "err_email": N_("Enter an e-mail address like name@example.com."),
    "err_phone": N_("Enter a phone number like +31 20 123 4567."),
    "err_date": N_("{label}: enter a date."),
    "err_number": N_("{label}: enter a number."),
    "err_range": N_("{label}: enter a number between {min} and {max}."),
    "err_check": N_("{label}: check your answer."),
    "outcome": N_("Outcome"),
    "solved_now": N_("Solved during the contact"),
    "ticket_in_line": N_("A ticket in line, for whoever is next to follow it up"),
    "contact_resolution": N_("What solved it"),
    "contact_resolution_hint": N_("Kept with the request; the customer is asked how it went."),
    "err_outcome": N_("Choose the outcome."),
    "err_resolution": N_("What solved it: enter an answer."),
    "waited_minutes": N_("Waited before you answered (minutes)"),
    "waited_from_call": N_("The phone system says: {wait}."),
    "err_waited": N_("Waited: enter a number of minutes between 0 and 1440."),
    "err_refused": N_("Not recorded: the desk refused the answers. Check them and try again."),
    "record": N_("Record"),
    "recorded_solved": N_("Recorded and resolved: {reference}."),
    "recorded_in_line": N_(
        "Recorded: {reference} waits in line, counting the time the customer already waited."
    ),
    "not_recorded": N_(
        "Not recorded yet: the desk's services do not answer. What you typed is still "
        "here; try again shortly."
    ),
    "back": N_("Back to the queues"),
}

TEXTS = translated_tables(PORTAL_MESSAGES)
DESK_TEXTS = translated_tables(CONSOLE_MESSAGES)


def duration(seconds: float, language: str) -> str:
    """A wait in words: whole minutes up to two hours, then hours up to two days (a
    request sent on Saturday waits for Monday), then days."""
    texts = TEXTS[language]
    minutes = max(1, round(seconds / 60))
    if minutes == 1:
        return texts["minute"]
    if minutes < 120:
        return texts["minutes"].format(n=minutes)
    if minutes < 48 * 60:
        return texts["hours"].format(n=round(minutes / 60))
    return texts["days"].format(n=round(minutes / (24 * 60)))


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


def day_name(day: date, language: str) -> str:
    """`woensdag 2 december` / `Wednesday 2 December`, in the language's own words."""
    return format_date(day, "EEEE d MMMM", locale=language)
