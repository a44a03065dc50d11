"""Notify's sending adapter: takes attempt jobs from its work queue and sends.

Per job: begin the attempt in one transaction (so it is on record before anything leaves),
send outside any transaction, finish it in another. A failure worth repeating goes back to
the work queue through a delay queue; nothing here sleeps. A first attempt that the plan
began itself comes straight from the consumer instead (`DirectSending`, decision 0026).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from marshmallow import ValidationError
from sqlalchemy import Engine

from services.common.broker import WorkQueue
from services.common.config import Settings
from services.common.consumer import Outcome, StoppedWaiting, while_database_is_down
from services.common.desk import channel_contact
from services.common.events import parse_event, utcnow
from services.common.labels import Labels
from services.common.metrics import EVENTS_CONSUMED
from services.common.secret_box import service_box
from services.common.unit_of_work import unit_of_work
from services.common.vocabulary import LANGUAGES
from services.notify import domain, schemas, service, storage
from services.notify.messages import Composer, footers_for
from services.notify.metrics import NOTIFICATIONS, SEND_SECONDS
from services.notify.service import Notifier
from services.notify.settings import notify_settings
from services.notify.transports import Outgoing, SendFailure, Transports

log = logging.getLogger(__name__)

# Built once: building a schema costs more than a load.
ATTEMPT_JOB_SCHEMA = schemas.AttemptJobSchema()

T = TypeVar("T")


def lease_for(settings: Settings) -> timedelta:
    """Long enough for one send to finish or time out, with room to record it."""
    return timedelta(seconds=4 * notify_settings(settings).send_timeout_seconds + 5)


def work_queue(settings: Settings) -> WorkQueue:
    lease_ms = int(lease_for(settings).total_seconds() * 1000)
    delays = sorted({*notify_settings(settings).retry_delays_ms, lease_ms})
    return WorkQueue("notify", "attempts", tuple(delays))


def notifier_for(settings: Settings, transports: Transports) -> Notifier:
    mail_domain = settings.mail_from.rsplit("@", 1)[-1].rstrip(">").strip()
    return Notifier(
        composer=Composer(footers_for(settings.desk)),
        box=service_box(settings),
        media=transports.available,
        public_base_url=settings.public_base_url,
        mail_domain=mail_domain,
        timezone=ZoneInfo(settings.desk.get("opening_hours", {}).get("timezone", "UTC")),
        work=work_queue(settings),
        retry_delays_ms=notify_settings(settings).retry_delays_ms,
        lease=lease_for(settings),
        labels=Labels.of(settings.desk),
        mailbox=parseaddr(settings.mail_from)[1] or None,
        counter_places=counter_places(settings.desk),
    )


def counter_places(desk: Mapping[str, Any]) -> dict[str, str]:
    """Per language, where the counter is: its room and address from the desk file."""
    places = {}
    for language in LANGUAGES:
        counter = channel_contact(desk, "walk_in", language) or {}
        place = ", ".join(part for part in (counter.get("room"), counter.get("address")) if part)
        if place:
            places[language] = place
    return places


def transports_for(settings: Settings) -> Transports:
    return Transports(
        smtp_url=settings.smtp_url,
        mail_from=settings.mail_from,
        sms_gateway_url=settings.sms_gateway_url,
        timeout_seconds=notify_settings(settings).send_timeout_seconds,
        webhook_allowed_networks=notify_settings(settings).webhook_allowed_networks,
    )


class AttemptProcessor:
    service = "notify"

    def __init__(self, engine: Engine, notifier: Notifier, transports: Transports) -> None:
        self.engine = engine
        self.notifier = notifier
        self.transports = transports

    def close(self) -> None:
        if self.notifier.direct is not None:
            self.notifier.direct.close()  # nothing sends through the transports after
        self.transports.close()

    def process_batch(
        self, bodies: Sequence[bytes], stop: threading.Event | None = None
    ) -> list[Outcome]:
        """Each send stands alone: it cannot be rolled back with its neighbours."""
        return [self.process(body, stop) for body in bodies]

    def process(self, body: bytes, stop: threading.Event | None = None) -> Outcome:
        try:
            job = ATTEMPT_JOB_SCHEMA.load(parse_event(body).data)
        except ValidationError as exc:
            log.warning("sender: dead-lettering an unusable job: %s", exc.messages)
            return self._count(Outcome.DEAD_LETTERED)
        delivery_id, attempt = job["delivery_id"], job["attempt"]
        try:
            outgoing = while_database_is_down(
                lambda: self._in_transaction(
                    service.begin_attempt, delivery_id=delivery_id, attempt=attempt
                ),
                stop,
            )
            if outgoing is None:
                return self._count(Outcome.DUPLICATE)
            self.send_begun(outgoing, attempt, stop)
        except StoppedWaiting:
            return Outcome.STOPPED
        except Exception:
            log.exception("sender: job for delivery %s failed", delivery_id)
            return self._count(Outcome.REQUEUED)
        return self._count(Outcome.PROCESSED)

    def send_begun(
        self, outgoing: Outgoing, attempt: int, stop: threading.Event | None = None
    ) -> None:
        """Send an attempt that is on record as under way, then record how it went."""
        failure = self._send(outgoing)
        outcome = while_database_is_down(
            lambda: self._in_transaction(
                service.finish_attempt,
                delivery_id=outgoing.delivery_id,
                attempt=attempt,
                failure=failure,
            ),
            stop,
        )
        if outcome is not None:
            NOTIFICATIONS.labels(outgoing.medium, outcome).inc()
            log.info(
                "sender: delivery %s attempt %s %s%s",
                outgoing.delivery_id,
                attempt,
                outcome,
                f" ({domain.scrub(failure.error)})" if failure else "",
            )

    def _in_transaction(self, use_case: Callable[..., T], **arguments: Any) -> T:
        with unit_of_work(self.engine, self.service, storage.outbox) as unit:
            return use_case(unit, self.notifier, now=utcnow(), **arguments)

    def _send(self, outgoing: Outgoing) -> SendFailure | None:
        started = time.perf_counter()
        try:
            self.transports.send(outgoing)
        except SendFailure as failure:
            return failure
        finally:
            SEND_SECONDS.labels(outgoing.medium).observe(time.perf_counter() - started)
        return None

    def _count(self, outcome: Outcome) -> Outcome:
        EVENTS_CONSUMED.labels(self.service, service.ATTEMPT_JOB, outcome.value).inc()
        return outcome


class DirectSending:
    """First attempts handed over by the consumer that planned them (service.DirectSender),
    sent by threads of this process as the sender's jobs are.

    It takes more only while few wait, so that a slow mail server sends through the work
    queue again, where attempts wait in the broker and not in this process. An attempt
    not started within `wait_at_most` of its plan is left to its lease, which then runs
    out and is requeued (`service.requeue_abandoned`): one sender at a time per attempt."""

    def __init__(self, concurrency: int, wait_at_most: timedelta) -> None:
        self.wait_at_most = wait_at_most
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="notify-direct")
        self._room = 4 * concurrency
        self._waiting = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._processor: AttemptProcessor | None = None

    def attach(self, processor: AttemptProcessor) -> AttemptProcessor:
        """Sends through the worker's processor (its engine and transports) from now on."""
        self._processor = processor
        return processor

    def has_room(self) -> bool:
        ready = self._processor is not None and not self._stop.is_set()
        return ready and self._waiting < self._room

    def send(self, outgoing: Outgoing, attempt: int, start_by: datetime) -> None:
        with self._lock:
            self._waiting += 1
        try:
            self._pool.submit(self._run, outgoing, attempt, start_by)
        except RuntimeError:  # closed meanwhile: the attempt waits for its lease to end
            with self._lock:
                self._waiting -= 1

    def close(self) -> None:
        """Attempts not started stay on record as under way: their lease runs out."""
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, outgoing: Outgoing, attempt: int, start_by: datetime) -> None:
        try:
            if self._processor is not None and utcnow() <= start_by and not self._stop.is_set():
                self._processor.send_begun(outgoing, attempt, self._stop)
        except StoppedWaiting:
            pass
        except Exception:
            log.exception("sender: delivery %s attempt %s failed", outgoing.delivery_id, attempt)
        finally:
            with self._lock:
                self._waiting -= 1


def send_reminders(engine: Engine, notifier: Notifier) -> None:
    with unit_of_work(engine, "notify", storage.outbox) as unit:
        service.send_reminders(unit, notifier, utcnow())


def requeue_abandoned(engine: Engine) -> None:
    with unit_of_work(engine, "notify", storage.outbox) as unit:
        requeued = service.requeue_abandoned(unit, utcnow())
    if requeued:
        log.warning("sender: %s attempts outlived their lease; requeued", requeued)
