"""Feedback's HTTP adapter: customers answer surveys; supervisors read reports."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import Connection

from services.common.auth import current_principal, require
from services.common.errors import ApiError
from services.common.events import to_utc, utcnow
from services.common.failures import NotFound
from services.common.periods import report_period
from services.common.unit_of_work import UnitOfWork
from services.common.vocabulary import desk_language
from services.common.web import change, json_body, runtime
from services.feedback import domain, schemas, service, storage

bp = Blueprint("feedback", __name__, url_prefix="/v1")
# The customer-facing paths' schemas are built once: building one costs more than a load.
SURVEY = schemas.SurveySchema()
SEARCH_QUERY = schemas.SearchQuerySchema()
SEARCH_HITS = schemas.SearchHitSchema(many=True)


@bp.get("/surveys/<token>")
def survey(token: str) -> Response:
    """Shows the question and never records anything: mail scanners follow links."""
    with runtime().engine.connect() as conn:
        found = service.open_survey(conn, token, utcnow())
    return jsonify(
        SURVEY.dump(
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
    with change() as unit:
        service.answer_survey(unit, token, body["score"], body["comment"], utcnow())
    return jsonify(status="recorded", thanks=True), 201


def _zone() -> ZoneInfo:
    return ZoneInfo(runtime().settings.desk.get("opening_hours", {}).get("timezone", "UTC"))


def _period(query: dict) -> tuple[datetime, datetime]:
    return report_period(query, _zone(), utcnow())


@bp.get("/reports/csat")
@require("supervisor")
def csat() -> Response:
    query = schemas.CsatQuerySchema().load(request.args.to_dict())
    since, until = _period(query)
    with runtime().engine.connect() as conn:
        groups = service.csat_report(conn, query["group_by"], since, until, _zone())
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


def _problem_view(conn: Connection, problem: Any) -> dict[str, Any]:
    view = dict(problem._mapping)
    for key in ("window_start", "window_end", "created_at", "resolved_at"):
        if view.get(key) is not None:
            view[key] = to_utc(view[key])
    view["ticket_ids"] = storage.linked_tickets(conn, problem.id)
    view["tickets"] = len(view["ticket_ids"])
    return schemas.ProblemSchema().dump(view)


def _problem_change(problem_id: str, work: Callable[[UnitOfWork], None]) -> Response:
    """A change to one problem, answered with the problem afterwards."""
    with change() as unit:
        work(unit)
        view = _problem_view(unit.conn, storage.problem_by_id(unit.conn, problem_id))
    return jsonify(view)


@bp.get("/problems")
@require("supervisor")
def problems() -> Response:
    query = schemas.ProblemQuerySchema().load(request.args.to_dict())
    with runtime().engine.connect() as conn:
        rows = storage.list_problems(conn, query["status"])
        views = [_problem_view(conn, row) for row in rows]
    return jsonify(problems=views)


@bp.post("/problems")
@require("supervisor")
def new_problem() -> tuple[Response, int]:
    body = schemas.NewProblemSchema().load(json_body())
    by, now = current_principal().name, utcnow()
    with change() as unit:
        problem_id = service.open_problem(
            unit, body["title"], body["description"], body["category"], body["ticket_ids"], by, now
        )
        view = _problem_view(unit.conn, storage.problem_by_id(unit.conn, problem_id))
    return jsonify(view), 201


@bp.post("/problems/<problem_id>/tickets")
@require("supervisor")
def link_tickets(problem_id: str) -> Response:
    body = schemas.LinkSchema().load(json_body())
    return _problem_change(
        problem_id, lambda unit: service.link(unit, problem_id, body["ticket_ids"])
    )


@bp.post("/problems/<problem_id>/resolve")
@require("supervisor")
def resolve_problem(problem_id: str) -> Response:
    body = schemas.ResolveSchema().load(json_body())
    now = utcnow()
    return _problem_change(
        problem_id,
        lambda unit: service.resolve_problem(unit, problem_id, body["resolution"], now),
    )


def _article_view(article: Any) -> dict[str, Any]:
    view = dict(article._mapping)
    view["created_at"], view["updated_at"] = to_utc(view["created_at"]), to_utc(view["updated_at"])
    return schemas.ArticleSchema().dump(view)


@bp.get("/knowledge/search")
def knowledge_search() -> Response:
    """One search for the portal and the agents: the same question, the same answer."""
    query = SEARCH_QUERY.load(request.args.to_dict())
    words = domain.search_words(query["q"])
    if not words:
        raise ApiError(
            422,
            "validation_failed",
            "Search for at least one word.",
            {"q": ["Search for at least one word."]},
        )
    preferred = query["lang"] or desk_language(runtime().settings.desk)
    with runtime().engine.connect() as conn:
        hits = storage.search_articles(conn, words, query["lang"], preferred, query["limit"])
    results = [
        dict(
            h._mapping,
            rank=abs(float(h.rank)),
            tags=h.tags or [],
            snippet=domain.marked_snippet(h.snippet, storage.MARK_START, storage.MARK_STOP),
        )
        for h in hits
    ]
    return jsonify(
        query=query["q"],
        language=query["lang"],
        results=SEARCH_HITS.dump(results),
    )


@bp.get("/knowledge/articles")
def articles() -> Response:
    query = schemas.ArticleListQuerySchema().load(request.args.to_dict())
    with runtime().engine.connect() as conn:
        rows = storage.list_articles(conn, query["lang"], query["limit"], query["offset"])
    return jsonify(articles=[_article_view(a) for a in rows])


def _article_input() -> dict[str, Any]:
    body = schemas.ArticleInputSchema().load(json_body())
    known = {c["id"] for c in runtime().settings.desk.get("catalogue", [])}
    if body["category"] is not None and body["category"] not in known:
        raise ApiError(
            422,
            "validation_failed",
            "The request has invalid fields.",
            {"category": ["Not a category of the catalogue."]},
        )
    return body


@bp.post("/knowledge/articles")
@require("supervisor")
def new_article() -> tuple[Response, int]:
    body = _article_input()
    now = utcnow()
    article = dict(
        body,
        id=str(uuid.uuid4()),
        created_by=current_principal().name,
        created_at=now,
        updated_at=now,
    )
    with change() as unit:
        storage.add_article(unit.conn, article)
        created = storage.article_by_id(unit.conn, article["id"])
    return jsonify(_article_view(created)), 201


@bp.get("/knowledge/articles/<article_id>")
def article(article_id: str) -> Response:
    with runtime().engine.connect() as conn:
        found = storage.article_by_id(conn, article_id)
    if found is None:
        raise NotFound("article")
    return jsonify(_article_view(found))


@bp.put("/knowledge/articles/<article_id>")
@require("supervisor")
def replace_article(article_id: str) -> Response:
    body = _article_input()
    with change() as unit:
        if not storage.update_article(unit.conn, article_id, dict(body, updated_at=utcnow())):
            raise NotFound("article")
        updated = storage.article_by_id(unit.conn, article_id)
    return jsonify(_article_view(updated))


@bp.delete("/knowledge/articles/<article_id>")
@require("supervisor")
def delete_article(article_id: str) -> tuple[str, int]:
    with change() as unit:
        if not storage.delete_article(unit.conn, article_id):
            raise NotFound("article")
    return "", 204


# Prepared answers: supervisors write them, every agent uses them.


def _answer_view(answer: Any) -> dict[str, Any]:
    view = dict(answer._mapping)
    view["created_at"], view["updated_at"] = to_utc(view["created_at"]), to_utc(view["updated_at"])
    return schemas.PreparedAnswerSchema().dump(view)


def _answer_input() -> dict[str, Any]:
    body = schemas.PreparedAnswerInputSchema().load(json_body())
    desk = runtime().settings.desk
    problems: dict[str, list[str]] = {}
    if body["queue"] is not None and body["queue"] not in {q["id"] for q in desk["queues"]}:
        problems["queue"] = ["Not a queue of the desk."]
    if body["category"] is not None and body["category"] not in {
        c["id"] for c in desk.get("catalogue", [])
    }:
        problems["category"] = ["Not a category of the catalogue."]
    texts = {name: (body[name] or "").strip() or None for name in ("text_nl", "text_en")}
    if not any(texts.values()):
        problems["text_nl"] = ["Write the answer in at least one language."]
    for name, text in texts.items():
        if text and (unknown := domain.unknown_placeholders(text)):
            known = ", ".join(f"{{{p}}}" for p in domain.PLACEHOLDERS)
            problems[name] = [f"Unknown placeholder {', '.join(unknown)}; use {known}."]
    if problems:
        raise ApiError(422, "validation_failed", "The request has invalid fields.", problems)
    return {**body, **texts}


@bp.get("/answers")
@require("agent")
def prepared_answers() -> Response:
    query = schemas.PreparedAnswerQuerySchema().load(request.args.to_dict())
    with runtime().engine.connect() as conn:
        rows = storage.list_answers(conn, query["queue"], query["category"])
    return jsonify(answers=[_answer_view(a) for a in rows])


@bp.post("/answers")
@require("supervisor")
def new_prepared_answer() -> tuple[Response, int]:
    now = utcnow()
    answer = {
        **_answer_input(),
        "id": str(uuid.uuid4()),
        "created_by": current_principal().name,
        "created_at": now,
        "updated_at": now,
    }
    with change() as unit:
        storage.add_answer(unit.conn, answer)
        created = storage.answer_by_id(unit.conn, answer["id"])
    return jsonify(_answer_view(created)), 201


@bp.get("/answers/<answer_id>")
@require("agent")
def prepared_answer(answer_id: str) -> Response:
    with runtime().engine.connect() as conn:
        found = storage.answer_by_id(conn, answer_id)
    if found is None:
        raise NotFound("answer")
    return jsonify(_answer_view(found))


@bp.put("/answers/<answer_id>")
@require("supervisor")
def replace_prepared_answer(answer_id: str) -> Response:
    body = _answer_input()
    with change() as unit:
        if not storage.update_answer(unit.conn, answer_id, dict(body, updated_at=utcnow())):
            raise NotFound("answer")
        updated = storage.answer_by_id(unit.conn, answer_id)
    return jsonify(_answer_view(updated))


@bp.delete("/answers/<answer_id>")
@require("supervisor")
def delete_prepared_answer(answer_id: str) -> tuple[str, int]:
    with change() as unit:
        if not storage.delete_answer(unit.conn, answer_id):
            raise NotFound("answer")
    return "", 204
