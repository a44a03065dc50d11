"""The three ways out: SMTP, an SMS gateway over HTTP, and webhooks.

Each send is made idempotent where the medium allows, so a send repeated after a crash
is recognisable as the same one: an e-mail keeps its Message-ID, an SMS its reference
(`Idempotency-Key`), a webhook its `X-Loket-Event-Id` and `X-Loket-Delivery-Id`.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.charset import QP, Charset
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTPUTF8
from email.utils import formataddr, formatdate, parseaddr
from typing import Any
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from services.notify import domain

USER_AGENT = "Loket-Notify/1"
# Servers drop idle sessions after some minutes (RFC 5321 asks for at least five) and
# limit the messages per session; stay well inside both.
SMTP_SESSION_IDLE_SECONDS = 30.0
SMTP_SESSION_MESSAGES = 100
# Quoted-printable keeps the text readable in the raw message; the default for UTF-8 in
# `compat32` is base64.
UTF8 = Charset("utf-8")
UTF8.body_encoding = QP


# The appointment's calendar entry as a file, for mail programs that show only files.
CALENDAR_FILE = "appointment.ics"


class SendFailure(Exception):
    """A send that did not succeed; `verdict` says whether trying again may help."""

    def __init__(self, verdict: str, error: str) -> None:
        super().__init__(error)
        self.verdict = verdict
        self.error = error


@dataclass(frozen=True)
class Outgoing:
    """One attempt at one delivery, with everything the medium needs."""

    delivery_id: str
    event_id: str
    medium: str
    recipient: str
    content: Mapping[str, Any]
    secret: str | None = None


class Transports:
    def __init__(
        self,
        *,
        smtp_url: str | None,
        mail_from: str,
        sms_gateway_url: str | None,
        timeout_seconds: float,
        webhook_allowed_networks: Sequence[str] = (),
    ) -> None:
        self.webhook_networks = [ipaddress.ip_network(n) for n in webhook_allowed_networks]
        self.mail_from_header = formataddr(parseaddr(mail_from), charset="utf-8")
        self.sms_gateway_url = sms_gateway_url
        self.timeout = timeout_seconds
        self.smtp = SmtpSessions(smtp_url, timeout_seconds) if smtp_url else None
        self.http = requests.Session()
        self.http.headers["User-Agent"] = USER_AGENT

    def close(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
        self.http.close()

    @property
    def available(self) -> tuple[str, ...]:
        """The customer media this desk can send on."""
        media = [domain.EMAIL] if self.smtp is not None else []
        return (*media, domain.SMS) if self.sms_gateway_url else tuple(media)

    def send(self, outgoing: Outgoing) -> None:
        """Sends, or raises SendFailure."""
        if outgoing.medium == domain.EMAIL:
            self._email(outgoing)
        elif outgoing.medium == domain.SMS:
            self._sms(outgoing)
        else:
            self._webhook(outgoing)

    def _email(self, outgoing: Outgoing) -> None:
        if self.smtp is None:
            raise SendFailure(domain.PERMANENT, "no SMTP server configured")
        try:
            self.smtp.send(self._message(outgoing))
        except smtplib.SMTPNotSupportedError:
            raise SendFailure(
                domain.PERMANENT, "SMTP: the server cannot send to an address beyond ASCII"
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise SendFailure(domain.smtp_verdict(code), f"SMTP {code}: {_text(reply)}") from None
        except smtplib.SMTPResponseException as exc:
            raise SendFailure(
                domain.smtp_verdict(exc.smtp_code), f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SendFailure(domain.RETRYABLE, f"SMTP: {type(exc).__name__}: {exc}") from None

    def _message(self, outgoing: Outgoing) -> Message:
        """Plain text and HTML alternatives in UTF-8, quoted-printable.

        Built with the `compat32` classes: `EmailMessage` parses every header it is given,
        which took a fifth of the notify worker's CPU (docs/performance.md); here only
        the headers that may hold more than ASCII are encoded, once.
        """
        content = outgoing.content
        if not outgoing.recipient.isascii():
            return self._international_message(outgoing)
        alternative = MIMEMultipart("alternative")
        alternative.attach(MIMEText(content["text"], "plain", UTF8))
        alternative.attach(MIMEText(content["html"], "html", UTF8))
        calendar = content.get("calendar")
        if calendar is None:
            self._headers(alternative, outgoing, _encoded(content["subject"]))
            return alternative
        # An appointment: its entry as the calendar alternative (which mail programs offer
        # to add or remove) and as an attachment for those that only show files.
        invitation = MIMEText(calendar["ics"], "calendar", UTF8)
        invitation.set_param("method", calendar["method"])
        alternative.attach(invitation)
        message = MIMEMultipart("mixed")
        self._headers(message, outgoing, _encoded(content["subject"]))
        message.attach(alternative)
        attached = MIMEText(calendar["ics"], "calendar", UTF8)
        attached.set_param("method", calendar["method"])
        attached.add_header("Content-Disposition", "attachment", filename=CALENDAR_FILE)
        message.attach(attached)
        return message

    def _international_message(self, outgoing: Outgoing) -> EmailMessage:
        """For an address beyond ASCII (RFC 6531): `compat32` would write it as an encoded
        word, which no server can deliver; smtplib sends this one with SMTPUTF8."""
        content = outgoing.content
        message = EmailMessage(policy=SMTPUTF8)
        self._headers(message, outgoing, content["subject"])
        message.set_content(content["text"], cte="quoted-printable")
        message.add_alternative(content["html"], subtype="html", cte="quoted-printable")
        if calendar := content.get("calendar"):
            params = {"method": calendar["method"]}
            message.add_alternative(calendar["ics"], subtype="calendar", params=params)
            message.add_attachment(
                calendar["ics"], subtype="calendar", filename=CALENDAR_FILE, params=params
            )
        return message

    def _headers(self, message: Message, outgoing: Outgoing, subject: str | Header) -> None:
        content = outgoing.content
        message["From"] = self.mail_from_header
        message["To"] = outgoing.recipient
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = content["message_id"]
        if content.get("in_reply_to"):
            message["In-Reply-To"] = content["in_reply_to"]
            message["References"] = content["in_reply_to"]
        if content.get("reply_to"):
            message["Reply-To"] = content["reply_to"]
        message["Auto-Submitted"] = "auto-generated"

    def _sms(self, outgoing: Outgoing) -> None:
        if not self.sms_gateway_url:
            raise SendFailure(domain.PERMANENT, "no SMS gateway configured")
        body = {"to": outgoing.recipient, "text": outgoing.content["text"],
                "reference": outgoing.delivery_id}  # fmt: skip
        self._post(
            self.sms_gateway_url,
            json.dumps(body).encode(),
            {"Idempotency-Key": outgoing.delivery_id},
            "SMS gateway",
        )

    def _webhook(self, outgoing: Outgoing) -> None:
        if outgoing.secret is None:
            raise SendFailure(domain.PERMANENT, "the subscription was deleted")
        body = outgoing.content["body"].encode()
        headers = {
            "X-Loket-Signature": domain.signature(outgoing.secret, int(time.time()), body),
            "X-Loket-Event-Id": outgoing.event_id,
            "X-Loket-Delivery-Id": outgoing.delivery_id,
            "X-Loket-Event-Type": outgoing.content["event_type"],
        }
        parts = urlsplit(outgoing.recipient)
        try:
            address = pinned_address(parts, self.webhook_networks)
        except Unresolvable:
            raise SendFailure(
                domain.RETRYABLE, "webhook: the receiver's name does not resolve"
            ) from None
        if address is None:
            raise SendFailure(domain.PERMANENT, f"webhook: {domain.REFUSED_BY_POLICY}")
        # The connection goes to the address just checked, whatever the name resolves to a
        # moment later (DNS rebinding); the name still goes in Host and, for TLS, in SNI
        # and the certificate check.
        host = f"[{address}]" if ":" in address else address
        pinned_url = parts._replace(netloc=f"{host}:{parts.port or _PORTS[parts.scheme]}")
        headers["Host"] = parts.netloc.rpartition("@")[2]
        if parts.scheme == "https":
            with requests.Session() as session:
                session.headers["User-Agent"] = USER_AGENT
                session.mount("https://", _NamedTlsAdapter(parts.hostname or ""))
                self._post(urlunsplit(pinned_url), body, headers, "webhook", session)
        else:
            self._post(urlunsplit(pinned_url), body, headers, "webhook")

    def _post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        what: str,
        session: requests.Session | None = None,
    ) -> None:
        try:
            response = (session or self.http).post(
                url,
                data=body,
                headers={"Content-Type": "application/json", **headers},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise SendFailure(
                domain.RETRYABLE, f"{what}: no answer within {self.timeout}s"
            ) from None
        except requests.RequestException as exc:
            raise SendFailure(domain.RETRYABLE, f"{what}: {type(exc).__name__}") from None
        verdict = domain.webhook_verdict(response.status_code)
        response.close()
        if verdict is not None:
            raise SendFailure(verdict, f"{what} answered {response.status_code}")


_PORTS = {"http": 80, "https": 443}


class Unresolvable(Exception):
    """The receiver's name resolves to no address (now)."""


def pinned_address(
    parts: SplitResult,
    allowed_networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> str | None:
    """The one address a webhook may be sent to, resolved now; None when any address the
    name resolves to is refused by policy. Raises Unresolvable."""
    try:
        found = socket.getaddrinfo(
            parts.hostname, parts.port or _PORTS.get(parts.scheme, 443), type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError, ValueError):
        raise Unresolvable(parts.hostname) from None
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in found]
    if not addresses:
        raise Unresolvable(parts.hostname)
    if not all(domain.webhook_address_allowed(a, allowed_networks) for a in addresses):
        return None
    return str(addresses[0])


class _NamedTlsAdapter(HTTPAdapter):
    """Connects to a pinned address but speaks TLS to, and checks the certificate of, the
    name in the subscription's URL."""

    def __init__(self, hostname: str) -> None:
        self.hostname = hostname
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = self.hostname
        kwargs["assert_hostname"] = self.hostname
        super().init_poolmanager(*args, **kwargs)


def _encoded(value: str) -> str | Header:
    return value if value.isascii() else Header(value, UTF8)


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the system's certificates costs
    more CPU than sending a message, so it is not done per message, nor for plain SMTP."""
    return ssl.create_default_context()


class SmtpSessions:
    """SMTP sessions kept open between messages, one per sending thread at most.

    Opening one costs a connection, the greeting and EHLO (and with TLS a handshake and
    a login); a kept one costs an RSET, which also shows whether the server still holds
    it. A session that failed in any way is closed, never reused.
    """

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self._idle: list[_Session] = []
        self._lock = threading.Lock()

    def send(self, message: Message) -> None:
        session = self._kept() or _Session(_smtp_open(self.url, self.timeout))
        try:
            session.smtp.send_message(message)
        except BaseException:
            session.close()
            raise
        session.sent += 1
        session.idle_since = time.monotonic()
        if session.sent >= SMTP_SESSION_MESSAGES:
            session.close()
            return
        with self._lock:
            self._idle.append(session)

    def _kept(self) -> _Session | None:
        while True:
            with self._lock:
                if not self._idle:
                    return None
                session = self._idle.pop()
            if time.monotonic() - session.idle_since < SMTP_SESSION_IDLE_SECONDS:
                try:
                    session.smtp.rset()
                    return session
                except (smtplib.SMTPException, OSError):
                    pass
            session.close()

    def close(self) -> None:
        with self._lock:
            sessions, self._idle = self._idle, []
        for session in sessions:
            session.close()


@dataclass
class _Session:
    smtp: smtplib.SMTP
    sent: int = 0
    idle_since: float = field(default_factory=time.monotonic)

    def close(self) -> None:
        # No QUIT: a server that stopped answering would make us wait for its reply.
        self.smtp.close()


def _smtp_open(url: str, timeout: float) -> smtplib.SMTP:
    """`smtp://[user:password@]host[:port][?starttls=true]` or `smtps://...`."""
    parts = urlsplit(url)
    options = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
    if parts.scheme == "smtps":
        smtp = smtplib.SMTP_SSL(
            parts.hostname, parts.port or 465, timeout=timeout, context=_tls_context()
        )
    else:
        smtp = smtplib.SMTP(parts.hostname, parts.port or 25, timeout=timeout)
    try:
        if parts.scheme == "smtp" and options.get("starttls") in ("1", "true", "yes"):
            smtp.starttls(context=_tls_context())
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
    except BaseException:
        smtp.close()
        raise
    return smtp
