"""Feedback's HTTP adapter: customers answer surveys; supervisors read reports."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, Response, jsonify, request

from services.common.auth import require
from services.common.db import transaction
from services.common.errors import ApiError, not_found
from services.common.events import to_utc, utcnow
from services.common.web import json_body, request_id, runtime
from services.feedback import domain, schemas, service

bp = Blueprint("feedback", __name__, url_prefix="/v1")
DEFAULT_PERIOD = timedelta(days=7)


@bp.get("/surveys/<token>")
def survey(token: str) -> Response:
    """Shows the question and never records anything: mail scanners follow links."""
    with runtime().engine.connect() as conn:
        try:
            found = service.open_survey(conn, token, utcnow())
        except service.NotFound:
            raise not_found("survey") from None
    return jsonify(
        schemas.SurveySchema().dump(
            {
                "reference": found.reference,
                "question": domain.question(found.language, found.reference),
                "scale": [1, 2, 3, 4, 5],
                "answered": found.answered_at is not None,
                "expires_at": to_utc(found.expires_at),
            }
        )
    )


@bp.post("/surveys/<token>")
def answer(token: str) -> tuple[Response, int]:
    body = schemas.AnswerSchema().load(json_body())
    try:
        with transaction(runtime().engine) as conn:
            after_commit = service.answer_survey(
                conn, token, body["score"], body["comment"], utcnow(), request_id()
            )
    except service.NotFound:
        raise not_found("survey") from None
    except service.AlreadyAnswered:
        raise ApiError(409, "already_answered", "This survey has its answer already.") from None
    for action in after_commit:
        action()
    return jsonify(status="recorded", thanks=True), 201


def _period(query: dict) -> tuple[datetime, datetime]:
    until = to_utc(query["until"]) if query["until"] else utcnow()
    since = to_utc(query["since"]) if query["since"] else until - DEFAULT_PERIOD
    if since >= until:
        raise ApiError(
            422, "validation_failed", "The period is empty.", {"since": ["Must be before until."]}
        )
    return since, until


@bp.get("/reports/csat")
@require("supervisor")
def csat() -> Response:
    query = schemas.CsatQuerySchema().load(request.args.to_dict())
    since, until = _period(query)
    with runtime().engine.connect() as conn:
        groups = service.csat_report(conn, query["group_by"], since, until)
    return jsonify(
        schemas.CsatReportSchema().dump(
            {"group_by": query["group_by"], "since": since, "until": until, "groups": groups}
        )
    )


@bp.get("/reports/contact-reasons")
@require("supervisor")
def contact_reasons() -> Response:
    query = schemas.ContactReasonsQuerySchema().load(request.args.to_dict())
    since, until = _period(query)
    with runtime().engine.connect() as conn:
        total, groups = service.contact_reasons_report(conn, query["group_by"], since, until)
    return jsonify(
        schemas.ContactReasonsReportSchema().dump(
            {
                "group_by": query["group_by"],
                "since": since,
                "until": until,
                "total": total,
                "groups": groups,
            }
        )
    )
