"""Notify's decisions and templates, as plain functions."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from services.notify import domain
from services.notify.handlers import SCHEMAS
from services.notify.messages import TEMPLATES, Composer
from services.notify.settings import NotifySettings

ANN = {"name": "Ann", "email": "ann@example.org", "phone": "+31612345678", "language": "en"}


@pytest.mark.parametrize(
    ("preferred", "available", "expected"),
    [
        ("email", ("email", "sms"), ("email", "ann@example.org")),
        ("sms", ("email", "sms"), ("sms", "+31612345678")),
        ("sms", ("email",), ("email", "ann@example.org")),  # no gateway: e-mail instead
        ("phone", ("email", "sms"), ("email", "ann@example.org")),  # a call is not a message
        ("email", ("sms",), ("sms", "+31612345678")),
        ("none", ("email", "sms"), None),  # asked not to be messaged
        ("email", (), None),
    ],
)
def test_the_preferred_medium_else_email_else_sms(preferred, available, expected):
    contact = domain.Contact.from_requester({**ANN, "preferred_contact": preferred})
    assert domain.choose_medium(contact, available) == expected


def test_without_an_address_on_any_available_medium_nobody_is_messaged():
    contact = domain.Contact.from_requester({"name": "Bo", "phone": "+3161", "language": "xx"})
    assert domain.choose_medium(contact, ("email",)) is None
    assert contact.language == "nl"


@pytest.mark.parametrize(
    ("event_type", "data", "template"),
    [
        ("ticket.created", {}, "received"),
        ("ticket.created", {"callback": {"not_before": "x"}}, "callback"),
        ("ticket.created", {"channel": "callback"}, "callback_any_time"),
        ("ticket.created", {"channel": "callback", "callback": {"not_before": "x"}}, "callback"),
        ("ticket.created", {"resolved_on_contact": True}, None),
        ("ticket.queued", {}, None),
        ("ticket.assigned", {}, "in_progress"),
        ("ticket.status_changed", {"from": "in_progress", "to": "waiting_on_customer"},
         "waiting_on_customer"),
        ("ticket.status_changed", {"from": "in_progress", "to": "waiting_on_customer",
                                   "reason": "callback_not_reached"}, "callback_new_time"),
        ("ticket.status_changed", {"from": "waiting_on_customer", "to": "queued",
                                   "public_note": "We call you at 10:00",
                                   "reason": "callback_window_chosen"}, "update"),
        ("ticket.status_changed", {"from": "in_progress", "to": "waiting_on_third_party",
                                   "public_note": "Ordered a part"}, "update"),
        ("ticket.status_changed", {"from": "in_progress", "to": "waiting_on_third_party"}, None),
        ("ticket.status_changed", {"from": "in_progress", "to": "resolved", "public_note": "x"},
         None),
        ("ticket.status_changed", {"from": "resolved", "to": "in_progress"}, None),
        ("ticket.status_changed", {"from": "queued", "to": "cancelled"}, "cancelled"),
        ("ticket.transferred", {"note": "internal"}, "transferred"),
        ("ticket.resolved", {"created_at": "a", "resolved_at": "b"}, "resolved"),
        ("ticket.resolved", {"created_at": "a", "resolved_at": "a"}, None),
        ("ticket.reopened", {}, "reopened"),
        ("ticket.sla_breached", {}, None),
        ("ticket.customer_replied", {}, None),
        ("ticket.message_added", {"message": "We ordered a part."}, "update"),
        ("survey.requested", {}, "survey"),
        ("problem.detected", {}, None),
    ],
)  # fmt: skip
def test_which_events_are_news_to_the_customer(event_type, data, template):
    assert domain.customer_message(event_type, data) == template


def test_every_consumed_event_type_has_a_schema_and_a_subscribable_name():
    assert set(SCHEMAS) == set(domain.DELIVERABLE_TYPES)


@pytest.mark.parametrize(
    ("pattern", "known"),
    [("*", True), ("ticket.*", True), ("problem.detected", True), ("survey.*", True),
     ("tickets.*", False), ("ticket.exploded", False), ("feedback.received", False),
     ("ticket.#", False), ("", False), ("ticket", False)],
)  # fmt: skip
def test_subscription_patterns(pattern, known):
    assert domain.is_known_pattern(pattern) is known


def test_pattern_matching():
    assert domain.subscribed(["ticket.*"], "ticket.created")
    assert not domain.subscribed(["ticket.*"], "problem.detected")
    assert domain.subscribed(["problem.detected"], "problem.detected")
    assert domain.subscribed(["*"], "survey.requested")


def test_the_signature_is_what_a_receiver_computes():
    body = b'{"id":"1"}'
    header = domain.signature("secret", 1700000000, body)
    expected = hmac.new(b"secret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_webhooks_never_carry_the_customers_tokens():
    envelope = {
        "id": "1",
        "data": {"reference": "LKT-1", "tracking_token": "t", "survey_token": "s"},
    }
    assert domain.webhook_body(envelope) == {"id": "1", "data": {"reference": "LKT-1"}}
    assert envelope["data"]["tracking_token"] == "t"  # the original is left alone


@pytest.mark.parametrize(
    ("status", "verdict"),
    [(200, None), (204, None), (400, "permanent"), (404, "permanent"), (410, "permanent"),
     (408, "retryable"), (429, "retryable"), (500, "retryable"), (503, "retryable"),
     (302, "permanent")],
)  # fmt: skip
def test_which_answers_are_worth_retrying(status, verdict):
    assert domain.webhook_verdict(status) == verdict


def test_smtp_4xx_is_transient_and_5xx_final():
    assert domain.smtp_verdict(421) == "retryable"
    assert domain.smtp_verdict(550) == "permanent"


def test_backoff_doubles_and_stops_after_the_last_attempt():
    delays = NotifySettings(max_attempts=4, retry_base_seconds=30).retry_delays_ms
    assert delays == (30_000, 60_000, 120_000)
    assert [domain.next_delay_ms(delays, a) for a in (1, 2, 3, 4)] == [
        30_000,
        60_000,
        120_000,
        None,
    ]
    assert NotifySettings(max_attempts=1).retry_delays_ms == ()


def test_recipients_are_masked():
    assert domain.masked("email", "ann.smith@example.org") == "a***@example.org"
    # A quoted local part may hold an "@" of its own; only the last one starts the domain.
    assert domain.masked("email", '"evil6@attacker.test"@example.org') == '"***@example.org'
    assert "attacker" not in domain.scrub('bounced: "evil6@attacker.test"@example.org')
    assert domain.masked("sms", "+31 6 1234 5678") == "***78"
    assert domain.masked("webhook", "https://user@hooks.example.org:8443/a?b=c") == (
        "https://hooks.example.org"
    )
    assert "ann" not in domain.scrub("550 <ann@example.org> unknown; call +31 6 12345678")


def test_sms_texts_are_kept_short():
    shortened = domain.short_text("word " * 200)
    assert len(shortened) <= domain.SMS_MAX_CHARS and shortened.endswith("…")
    assert domain.short_text("a  b\n c") == "a b c"


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("language", ["nl", "en"])
def test_every_template_renders_in_both_languages(template, language):
    values = {"reference": "LKT-000042", "name": "Ann <script>", "subject": "Printer",
              "note": "Try <b>this</b>", "action_url": "https://desk/x?a=1&b=2",
              "window_start": "24-11-2026 09:00", "window_end": "24-11-2026 10:00"}  # fmt: skip
    rendered = Composer().render(template, language, values)
    assert rendered.subject.startswith("[LKT-000042] ")
    assert "LKT-000042" in rendered.text and "LKT-000042" in rendered.sms
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert len(rendered.sms) <= domain.SMS_MAX_CHARS
    assert f'lang="{language}"' in rendered.html


def test_the_languages_differ_and_unknown_ones_fall_back():
    values = {"reference": "LKT-1", "name": "Ann", "subject": "x", "action_url": "https://d/t"}
    dutch = Composer().render("received", "nl", values)
    assert "ontvangen" in dutch.subject
    assert "received" in Composer().render("received", "en", values).subject
    assert Composer().render("received", "de", values) == dutch
    assert "https://d/t" in dutch.text and 'href="https://d/t"' in dutch.html


def test_every_message_ends_with_the_desks_phone_number_and_hours():
    from services.common.config import load_settings
    from services.notify.messages import footers_for

    composer = Composer(footers_for(load_settings("notify", {}).desk))
    values = {"reference": "LKT-000001", "name": "", "subject": "", "action_url": "https://x"}
    english = composer.render("received", "en", values)
    footer = (
        "Service desk: phone +31 20 555 0100 (Mon-Fri 08:00-17:00), e-mail servicedesk@example.org."
    )
    assert english.text.endswith(f"\n-- \n{footer}\n") and footer in english.html
    dutch = composer.render("received", "nl", values).text
    assert "Servicedesk: telefoon +31 20 555 0100 (ma-vr 08:00-17:00)" in dutch
    assert "--" not in Composer().render("received", "en", values).text
