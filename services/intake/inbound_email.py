"""Turning a raw RFC 822 message into what intake needs; no Flask, no database."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import message_from_bytes
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from html.parser import HTMLParser
from typing import Any

from services.common.failures import Invalid

REFERENCE_IN_SUBJECT = re.compile(r"\bLKT-(\d{6,})\b")
MAX_ATTACHMENTS_LISTED = 50
MAX_SUBJECT = 200
MAX_BODY = 20_000
# Parsing costs time per part and recursion per level: 40,000 one-byte attachments once
# held a web worker for 8 s, and 3,000 nested multiparts exhausted its recursion. Both
# are counted on the raw bytes before anything is parsed.
MAX_PARTS = 200
MAX_MULTIPARTS = 20
_DELIMITER_LINE = re.compile(rb"^--", re.MULTILINE)
_BOUNDARY = re.compile(rb"boundary\s*=", re.IGNORECASE)


# Raw 8-bit header bytes are UTF-8 under RFC 6532; older mailers send their local charset.
HEADER_CHARSETS = ("utf-8", "windows-1252")
_UNREADABLE = re.compile(r"[\x00\ud800-\udfff]")


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
    # Each attachment's bytes, in the order of `attachments`: kept for agents to download.
    contents: list[bytes] = field(default_factory=list, repr=False)
    # Where it was sent (To, Cc, Delivered-To, X-Original-To): a reply's token is there.
    recipients: list[str] = field(default_factory=list)
    # What the inbound gateway says of the sender (DKIM, SPF, DMARC), as it wrote it.
    authentication_results: list[str] = field(default_factory=list)

    @property
    def reference(self) -> str | None:
        found = REFERENCE_IN_SUBJECT.search(self.subject)
        return f"LKT-{found.group(1)}" if found else None


def _decoded(raw: bytes, declared: str | None = None) -> str:
    """Bytes as text: the declared charset, then UTF-8, then Windows-1252, then Latin-1
    (which reads any byte, so nothing is refused for its charset alone)."""
    for charset in (declared, *HEADER_CHARSETS):
        if not charset:
            continue
        try:
            return raw.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return raw.decode("latin-1")


def readable(text: str) -> str:
    """Text every consumer can store: no NUL, no lone surrogates."""
    if not _UNREADABLE.search(text):
        return text
    text = text.replace("\x00", "")
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class _ReadableHeaders(EmailPolicy):
    """The standard policy, except that raw 8-bit header bytes are decoded as text.

    The byte parser keeps such bytes as lone surrogates, which no database and no JSON
    consumer can store: an address like `jürgen@example.org` sent as raw UTF-8 (RFC 6532)
    once made a request that intake accepted but the queue could never store.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if not hasattr(value, "name") and _UNREADABLE.search(value):
            raw = value.encode("ascii", "surrogateescape")
            value = _decoded(raw).replace("\x00", "")
        return super().header_fetch_parse(name, value)


POLICY = _ReadableHeaders()


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
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    declared = part.get_content_charset()
    # A missing charset means ASCII, but mailers that leave it out mostly send UTF-8.
    content = _decoded(payload, None if declared in (None, "us-ascii") else declared)
    return _html_to_text(content) if part.get_content_subtype() == "html" else content.strip()


def _sender(message: EmailMessage) -> Address:
    try:
        header = message["From"]
    except (ValueError, IndexError):
        header = None
    addresses = getattr(header, "addresses", ()) if header is not None else ()
    if len(addresses) > 1:
        # Whose request would it be? A forged reply once hid behind a second address.
        raise MalformedEmail("from", "The message must have one sender address (From).")
    if not addresses or not addresses[0].username or not addresses[0].domain:
        raise MalformedEmail("from", "The message needs a sender address (From).")
    return addresses[0]


RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To")
MAX_RECIPIENTS = 50


def _recipients(message: EmailMessage) -> list[str]:
    found: list[str] = []
    for name in RECIPIENT_HEADERS:
        for header in message.get_all(name) or []:
            addresses = getattr(header, "addresses", None)
            if addresses is None:  # not an address header (Delivered-To): its text
                found.append(readable(str(header)).strip().lower())
            else:
                found += [readable(a.addr_spec).lower() for a in addresses if a.addr_spec]
    return found[:MAX_RECIPIENTS]


def parse(raw: bytes) -> InboundEmail:
    if not raw.strip():
        raise MalformedEmail("message", "The message is empty.")
    if len(_BOUNDARY.findall(raw)) > MAX_MULTIPARTS:
        raise MalformedEmail("message", f"The message nests more than {MAX_MULTIPARTS} multiparts.")
    if len(_DELIMITER_LINE.findall(raw)) > 2 * MAX_PARTS:
        raise MalformedEmail("message", f"The message has more than {MAX_PARTS} parts.")
    message = message_from_bytes(raw, policy=POLICY)
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
    attachments, contents = [], []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True) or b""
        contents.append(payload)
        attachments.append(
            {
                "filename": readable(part.get_filename() or "")[:255] or None,
                "content_type": part.get_content_type(),
                "size": len(payload),
            }
        )
    language = str(message.get("Content-Language", "") or "").strip().lower()[:2] or None
    return InboundEmail(
        message_id=readable(message_id)[:255],
        sender_name=readable(sender.display_name or sender.username)[:200],
        sender_address=readable(sender.addr_spec.lower()),
        subject=readable(subject),
        body=readable(body)[:MAX_BODY],
        language=language,
        attachments=attachments[:MAX_ATTACHMENTS_LISTED],
        contents=contents[:MAX_ATTACHMENTS_LISTED],
        recipients=_recipients(message),
        authentication_results=[
            readable(str(h))[:2000] for h in message.get_all("Authentication-Results") or []
        ][:10],
    )
