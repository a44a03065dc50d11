"""Turning a raw RFC 822 message into what intake needs; no Flask, no database."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

from services.common.failures import Invalid

REFERENCE_IN_SUBJECT = re.compile(r"\bLKT-(\d{6,})\b")
MAX_ATTACHMENTS_LISTED = 50
MAX_SUBJECT = 200
MAX_BODY = 20_000


class MalformedEmail(Invalid):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message, code="malformed_email")
        self.field = field


@dataclass(frozen=True)
class InboundEmail:
    message_id: str
    sender_name: str
    sender_address: str
    subject: str
    body: str
    language: str | None
    attachments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reference(self) -> str | None:
        found = REFERENCE_IN_SUBJECT.search(self.subject)
        return f"LKT-{found.group(1)}" if found else None


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "li", "tr"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _html_to_text(html: str) -> str:
    parser = _TextOfHtml()
    parser.feed(html)
    return re.sub(r"\n\s*\n+", "\n\n", "".join(parser.parts)).strip()


def _text_of(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace")
    if not isinstance(content, str):
        return ""
    return _html_to_text(content) if part.get_content_subtype() == "html" else content.strip()


def _sender(message: EmailMessage) -> Address:
    try:
        header = message["From"]
    except (ValueError, IndexError):
        header = None
    addresses = getattr(header, "addresses", ()) if header is not None else ()
    if not addresses or not addresses[0].username or not addresses[0].domain:
        raise MalformedEmail("from", "The message needs a sender address (From).")
    return addresses[0]


def parse(raw: bytes) -> InboundEmail:
    if not raw.strip():
        raise MalformedEmail("message", "The message is empty.")
    message = message_from_bytes(raw, policy=policy.default)
    if not isinstance(message, EmailMessage) or not message.keys():
        raise MalformedEmail("message", "This is not an RFC 822 message (no headers).")
    sender = _sender(message)
    message_id = str(message.get("Message-ID", "") or "").strip()
    if not message_id:
        # No Message-ID: the content itself identifies a resent copy.
        message_id = f"<{hashlib.sha256(raw).hexdigest()}@loket.invalid>"
    subject = " ".join(str(message.get("Subject", "") or "").split())[:MAX_SUBJECT]
    body_part = message.get_body(preferencelist=("plain", "html"))
    body = _text_of(body_part) if body_part is not None else ""
    attachments = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True) or b""
        attachments.append(
            {
                "filename": (part.get_filename() or "")[:255] or None,
                "content_type": part.get_content_type(),
                "size": len(payload),
            }
        )
    language = str(message.get("Content-Language", "") or "").strip().lower()[:2] or None
    return InboundEmail(
        message_id=message_id[:255],
        sender_name=(sender.display_name or sender.username)[:200],
        sender_address=sender.addr_spec.lower(),
        subject=subject,
        body=body[:MAX_BODY],
        language=language,
        attachments=attachments[:MAX_ATTACHMENTS_LISTED],
    )
