"""Intake's application factory (`gunicorn 'services.intake.app:create_app()'`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Flask

from services.common.config import Settings, load_settings
from services.common.desk import counter_prefix
from services.common.openapi import build_spec
from services.common.vocabulary import desk_language
from services.common.web import create_service_app
from services.intake import api, language, schemas, service, storage
from services.intake.appointments import SlotRules
from services.intake.calls import CallRules
from services.intake.catalogue import load_catalogue
from services.intake.contact_options import load_opening_hours

OPENAPI_PATHS = Path(__file__).with_name("openapi.yaml")


def openapi() -> dict:
    return build_spec(
        "Loket intake",
        OPENAPI_PATHS,
        {
            "Request": schemas.RequestSchema,
            "Accepted": schemas.AcceptedSchema,
            "Reply": schemas.ReplySchema,
            "ReplyAccepted": schemas.ReplyAcceptedSchema,
            "FormField": schemas.FormFieldSchema,
            "Slots": schemas.SlotsSchema,
            "AppointmentAccepted": schemas.AppointmentAcceptedSchema,
            "AppointmentState": schemas.AppointmentStateSchema,
            "CallEvent": schemas.CallEventSchema,
            "Calls": schemas.CallsSchema,
            "CallsReport": schemas.CallsReportSchema,
        },
    )


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings("intake")
    catalogue = load_catalogue(settings.desk)
    hours = load_opening_hours(settings.desk)
    app = create_service_app(settings, outbox=storage.outbox, openapi=openapi)
    queues = settings.desk["queues"]
    intake = service.Intake(
        catalogue=catalogue,
        public_base_url=settings.public_base_url,
        default_language=desk_language(settings.desk),
        reopen_window=timedelta(days=float(settings.desk.get("reopen_window_days", 14))),
        detect_language=language.detector(),
        mail_authserv_id=(settings.environ.get("LOKET_MAIL_AUTHSERV_ID") or "").strip().lower()
        or None,
        counter_prefixes={q["id"]: counter_prefix(queues, q["id"]) for q in queues},
        zone=hours.timezone,
        hours=hours,
        slot_rules=SlotRules.from_config(settings.desk.get("counter")),
        call_rules=CallRules.from_config(settings.desk.get("calls")),
    )
    app.extensions["intake"] = api.IntakeContext(app, intake, hours)
    app.register_blueprint(api.bp)
    return app
