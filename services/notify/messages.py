"""Customer messages from Jinja2 templates, in the requester's language.

Each template (`templates/<language>/<name>.j2`) has a subject, a body of plain-text
paragraphs, optionally an action (the label of the one link the message offers) and a
short SMS text. The HTML part of an e-mail is the same paragraphs in one shared layout, so
the two parts never tell different stories.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, Template

from services.common.desk import channel_contact
from services.common.vocabulary import DAY_NAMES
from services.notify.domain import LANGUAGES, short_text

TEMPLATES = (
    "received",
    "callback",
    "in_progress",
    "waiting_on_customer",
    "update",
    "transferred",
    "resolved",
    "reopened",
    "cancelled",
    "survey",
    "appointment",
    "appointment_cancelled",
    "appointment_reminder",
    "appointment_moved",
    "turn_near",
    "callback_new_time",
    "callback_any_time",
)
CONTEXT_KEYS = (
    "reference",
    "name",
    "subject",
    "note",
    "action_url",
    "window_start",
    "window_end",
    "team",
    "appointment_when",
    "counter_place",
    "ticket_number",
    "ahead",
    "wait_minutes",
)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    sms: str


class Composer:
    def __init__(self, footers: Mapping[str, str] | None = None) -> None:
        # The desk's own words under every message: how to reach it (`footers_for`).
        self.footers = dict(footers or {})
        loader = PackageLoader("services.notify", "templates")
        options = {"undefined": StrictUndefined, "trim_blocks": True, "lstrip_blocks": True}
        self._text = Environment(loader=loader, autoescape=False, **options)  # noqa: S701 (plain text)
        self._html = Environment(loader=loader, autoescape=True, **options)

    def render(self, template: str, language: str, values: Mapping[str, Any]) -> Rendered:
        if template not in TEMPLATES:
            raise ValueError(f"no template {template!r}")
        if language not in LANGUAGES:
            language = LANGUAGES[0]
        context = {key: values.get(key) for key in CONTEXT_KEYS}
        source = self._text.get_template(f"{language}/{template}.j2")
        subject = " ".join(_block(source, "subject", context).split())
        paragraphs = [
            " ".join(p.split())
            for p in re.split(r"\n\s*\n", _block(source, "body", context))
            if p.strip()
        ]
        action_label = _block(source, "action", context) if "action" in source.blocks else None
        action_url = context["action_url"] if action_label else None
        text = "\n\n".join(paragraphs)
        if action_url:
            text += f"\n\n{action_label}:\n{action_url}"
        footer = self.footers.get(language)
        if footer:
            text += f"\n\n-- \n{footer}"
        html = self._html.get_template("layout.html.j2").render(
            language=language,
            subject=subject,
            paragraphs=paragraphs,
            action_url=action_url,
            action_label=action_label,
            reference=context["reference"],
            footer=footer,
        )
        sms = short_text(_block(source, "sms", context))
        return Rendered(subject=subject, text=text + "\n", html=html, sms=sms)


def _block(template: Template, name: str, context: Mapping[str, Any]) -> str:
    return "".join(template.blocks[name](template.new_context(dict(context)))).strip()


FOOTER_WORDS = {
    "nl": {"desk": "Servicedesk", "phone": "telefoon", "email": "e-mail"},
    "en": {"desk": "Service desk", "phone": "phone", "email": "e-mail"},
}


def footers_for(desk: Mapping[str, Any]) -> dict[str, str]:
    """Per language, the line under every message ("Service desk: phone +31 20 555 0100
    (Mon-Fri 08:00-17:00), e-mail ..."), from the desk file's `contact` and the phone's
    opening hours; nothing when the file names neither."""
    hours = (desk.get("opening_hours") or {}).get("phone", "always")
    footers = {}
    for language in LANGUAGES:
        words = FOOTER_WORDS[language]
        parts = []
        if phone := channel_contact(desk, "phone", language):
            when = ""
            if isinstance(hours, Mapping):
                names = DAY_NAMES[language]
                when = ", ".join(
                    f"{'-'.join(names.get(d, d) for d in days.split('-'))} {period}"
                    for days, period in hours.items()
                )
                when = f" ({when})"
            parts.append(f"{words['phone']} {phone['phone']}{when}")
        if email := channel_contact(desk, "email", language):
            parts.append(f"{words['email']} {email['email']}")
        if parts:
            footers[language] = f"{words['desk']}: {', '.join(parts)}."
    return footers
