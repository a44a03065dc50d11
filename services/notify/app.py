"""Notify's application factory."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from services.common.config import Settings, load_settings
from services.common.metrics import CallbackGauge
from services.common.openapi import build_spec
from services.common.secret_box import service_box
from services.common.web import create_service_app
from services.notify import api, domain, schemas, storage

OPENAPI_PATHS = Path(__file__).with_name("openapi.yaml")


def openapi() -> dict:
    return build_spec(
        "Loket notify",
        OPENAPI_PATHS,
        {
            "SubscriptionInput": schemas.SubscriptionInputSchema,
            "Subscription": schemas.SubscriptionSchema,
            "SubscriptionList": schemas.SubscriptionListSchema,
            "Delivery": schemas.DeliverySchema,
            "DeliveryList": schemas.DeliveryListSchema,
        },
    )


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings("notify")
    app = create_service_app(settings, outbox=storage.outbox, openapi=openapi)
    app.extensions["notify"] = api.NotifyContext(service_box(settings))
    engine = app.extensions["loket"].engine

    def retry_backlog() -> list[tuple[tuple[str, ...], float]]:
        with engine.connect() as conn:
            counts = storage.count_by_state(conn, [storage.RETRYING])
        return [((m,), float(counts.get((m, storage.RETRYING), 0))) for m in domain.MEDIA]

    app.extensions["loket"].collectors.append(
        CallbackGauge(
            "loket_notification_retry_backlog",
            "Deliveries waiting in a delay queue for their next attempt",
            ["medium"],
            retry_backlog,
        )
    )
    app.register_blueprint(api.bp)
    return app
