"""Feedback's application factory."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from services.common.config import Settings, load_settings
from services.common.metrics import CallbackGauge
from services.common.openapi import build_spec
from services.common.web import create_service_app
from services.feedback import api, schemas, storage

OPENAPI_PATHS = Path(__file__).with_name("openapi.yaml")


def openapi() -> dict:
    return build_spec(
        "Loket feedback",
        OPENAPI_PATHS,
        {
            "Survey": schemas.SurveySchema,
            "Answer": schemas.AnswerSchema,
            "CsatReport": schemas.CsatReportSchema,
            "ContactReasonsReport": schemas.ContactReasonsReportSchema,
            "Problem": schemas.ProblemSchema,
            "NewProblem": schemas.NewProblemSchema,
            "Link": schemas.LinkSchema,
            "Resolve": schemas.ResolveSchema,
            "ArticleInput": schemas.ArticleInputSchema,
            "Article": schemas.ArticleSchema,
            "SearchHit": schemas.SearchHitSchema,
            "PreparedAnswerInput": schemas.PreparedAnswerInputSchema,
            "PreparedAnswer": schemas.PreparedAnswerSchema,
        },
    )


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings("feedback")
    app = create_service_app(settings, outbox=storage.outbox, openapi=openapi)
    engine = app.extensions["loket"].engine

    def open_problems() -> list[tuple[tuple[str, ...], float]]:
        with engine.connect() as conn:
            return [((), float(storage.count_open_problems(conn)))]

    app.extensions["loket"].collectors.append(
        CallbackGauge("loket_problems_open", "Problems not yet resolved", [], open_problems)
    )
    app.register_blueprint(api.bp)
    return app
