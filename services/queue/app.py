"""The queue service's application factory."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from services.common.auth import CHANNELS
from services.common.config import Settings, load_settings
from services.common.events import utcnow
from services.common.openapi import build_spec
from services.common.web import create_service_app
from services.queue import api, domain, schemas, service, storage
from services.queue.metrics import WaitingCollector, start_web_series_at_zero

OPENAPI_PATHS = Path(__file__).with_name("openapi.yaml")


def openapi() -> dict:
    return build_spec(
        "Loket queue",
        OPENAPI_PATHS,
        {
            "Track": schemas.TrackSchema,
            # Before Ticket, which nests it: named here, not auto-named there.
            "EarlierRequest": schemas.EARLIER_REQUEST,
            "Ticket": schemas.TicketSchema,
            "TicketPage": schemas.TicketPageSchema,
            "QueueOverview": schemas.QueueOverviewSchema,
            "Claim": schemas.ClaimSchema,
            "StatusChange": schemas.StatusChangeSchema,
            "Transfer": schemas.TransferSchema,
            "Message": schemas.MessageSchema,
            "WaitsReport": schemas.WaitsReportSchema,
            "ServiceLevelReport": schemas.ServiceLevelReportSchema,
            "Board": schemas.BoardSchema,
            "PriorityChange": schemas.PriorityChangeSchema,
            "Call": schemas.CallSchema,
            "Reactivate": schemas.ReactivateSchema,
            "CallbackAttempt": schemas.CallbackAttemptSchema,
            "CallbackWindowChoice": schemas.CallbackWindowChoiceSchema,
            "Display": schemas.DisplaySchema,
        },
    )


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings("queue")
    app = create_service_app(settings, outbox=storage.outbox, openapi=openapi)
    desk = service.Desk.from_config(settings.desk)
    activity = service.KeptActivity()
    app.extensions["queue"] = api.QueueContext(desk, activity)
    engine = app.extensions["loket"].engine

    def waiting() -> tuple[list, list]:
        now = utcnow()
        with engine.connect() as conn:
            return service.gauges(conn, desk, now, activity(conn, now))

    start_web_series_at_zero(desk.queues, CHANNELS)
    targets = {c: domain.wait_target(c, desk.sla).total_seconds() for c in CHANNELS}
    app.extensions["loket"].collectors.append(WaitingCollector(waiting, utcnow, targets))
    app.register_blueprint(api.bp)
    return app
