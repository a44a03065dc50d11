"""Real peers on loopback for notify to talk to: an SMTP server and an HTTP receiver.

Both record what arrives. The HTTP receiver answers from a script (500, 500, then 200)
and can be made slow, as a real webhook receiver or SMS gateway might be.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import email
import email.policy
import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support import free_port


class _Recorder:
    def __init__(self, delay_seconds: float = 0.0, reply: str = "250 OK") -> None:
        self.messages: list[EmailMessage] = []
        self.peers: set[Any] = set()  # one (address, port) per client connection
        self.delay_seconds = delay_seconds
        self.reply = reply
        self.lock = threading.Lock()

    async def handle_DATA(self, _server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
            self.peers.add(session.peer)
        if self.delay_seconds:
            time.sleep(self.delay_seconds)  # a slow server; blocking its loop is the point
        return self.reply


@dataclass
class SmtpReceiver:
    controller: Controller
    recorder: _Recorder

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.controller.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        with self.recorder.lock:
            return list(self.recorder.messages)

    @property
    def connections(self) -> int:
        """Over how many connections messages came."""
        with self.recorder.lock:
            return len(self.recorder.peers)

    def drop_connections(self) -> None:
        """What a server does to sessions left idle too long."""
        self.controller.close_sessions()

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


class _ClosingController(Controller):
    """Closes the connections still open when it stops.

    Stopping a plain Controller leaves them to the garbage collector, whose "unclosed
    transport" warning then fails whichever test happens to run next.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sessions: list[Any] = []

    def factory(self) -> Any:
        session = super().factory()
        self.sessions.append(session)
        return session

    def close_sessions(self) -> None:
        async def close() -> None:
            for session in self.sessions:
                if session.transport is not None:
                    session.transport.close()
            await asyncio.sleep(0)  # lets each transport finish closing

        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=30)

    def stop(self, *args: Any, **kwargs: Any) -> None:
        self.close_sessions()
        super().stop(*args, **kwargs)


@contextlib.contextmanager
def smtp_receiver(
    delay_seconds: float = 0.0, reply: str = "250 OK", smtputf8: bool = True
) -> Iterator[SmtpReceiver]:
    recorder = _Recorder(delay_seconds, reply)
    controller = _ClosingController(
        recorder, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=smtputf8
    )
    controller.start()
    try:
        yield SmtpReceiver(controller, recorder)
    finally:
        controller.stop()


def self_signed_tls(directory: Path, name: str = "localhost") -> tuple[ssl.SSLContext, Path]:
    """A server TLS context with a certificate for `name`, and the certificate's file (to
    trust it as a CA bundle)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    port: int
    statuses: list[int] = field(default_factory=list)  # answered in turn, then 200
    delay_seconds: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def requests(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def answer(self, received: Received) -> int:
        with self.lock:
            self.received.append(received)
            return self.statuses.pop(0) if self.statuses else 200


@contextlib.contextmanager
def http_receiver(
    statuses: list[int] | None = None,
    delay_seconds: float = 0.0,
    tls: ssl.SSLContext | None = None,
) -> Iterator[HttpReceiver]:
    """An HTTP receiver on loopback; with `tls`, an HTTPS one."""
    receiver = HttpReceiver(free_port(), list(statuses or []), delay_seconds)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            status = receiver.answer(Received(self.path, dict(self.headers.items()), body))
            if receiver.delay_seconds:
                time.sleep(receiver.delay_seconds)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", receiver.port), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def send_json(handler: BaseHTTPRequestHandler, code: int, payload: object) -> None:
    """A stub service's JSON answer."""
    body = json.dumps(payload).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
