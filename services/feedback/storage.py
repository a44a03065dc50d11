"""Feedback's own database: every contact (for contact reasons), surveys and their
answers, outbox and inbox.

Statements on the path of every event are built once, at import (the `_UPPER_CASE`
constants): SQLAlchemy keeps a statement's cache key, and building and keying one per call
cost more than running it (docs/performance.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Row

from services.common.db import BigId
from services.common.outbox import inbox_table, outbox_table

metadata = MetaData()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

contacts = Table(
    "contacts",
    metadata,
    Column("ticket_id", String(36), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("category", String(64), nullable=False),
    Column("queue", String(64), nullable=False),
    Column("resolved_on_contact", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_contacts_category_created", "category", "created_at"),
    Index("ix_contacts_created", "created_at"),
)

surveys = Table(
    "surveys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("ticket_id", String(36), nullable=False),
    Column("reference", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("queue", String(64), nullable=False),
    Column("category", String(64), nullable=False),
    Column("agent", String(64), nullable=False),
    Column("language", String(2), nullable=False),
    Column("resolved_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("score", Integer, nullable=True),
    Column("comment", Text, nullable=True),
    Column("answered_at", DateTime(timezone=True), nullable=True, index=True),
    Index("ix_surveys_ticket", "ticket_id", "resolved_at", unique=True),
)


problems = Table(
    "problems",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=True),
    Column("category", String(64), nullable=True),
    Column("status", String(16), nullable=False),
    Column("detected", Boolean, nullable=False),
    Column("window_start", DateTime(timezone=True), nullable=True),
    Column("window_end", DateTime(timezone=True), nullable=True),
    Column("count", Integer, nullable=True),
    Column("baseline", Float, nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("resolution", Text, nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Index("ix_problems_category_status", "category", "status"),
)

problem_tickets = Table(
    "problem_tickets",
    metadata,
    Column("problem_id", String(36), ForeignKey("problems.id"), primary_key=True),
    Column("ticket_id", String(36), primary_key=True),
)


articles = Table(
    "articles",
    metadata,
    # An integer key for SQLite's full-text index; the uuid is what the API shows.
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("language", String(2), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("category", String(64), nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Replies the desk gives to common requests, per queue and category (none: every one).
prepared_answers = Table(
    "prepared_answers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("title", String(120), nullable=False),
    Column("queue", String(64), nullable=True),
    Column("category", String(64), nullable=True),
    Column("text_nl", Text, nullable=True),
    Column("text_en", Text, nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


_CONTACT_EXISTS = select(contacts.c.ticket_id).where(contacts.c.ticket_id == bindparam("ticket_id"))
_ADD_CONTACT = insert(contacts)


def record_contact(conn: Connection, contact: dict[str, Any]) -> None:
    if conn.scalar(_CONTACT_EXISTS, {"ticket_id": contact["ticket_id"]}) is None:
        conn.execute(_ADD_CONTACT, contact)


def survey_exists(conn: Connection, ticket_id: str, resolved_at: datetime) -> bool:
    found = conn.scalar(
        select(surveys.c.id).where(
            surveys.c.ticket_id == ticket_id, surveys.c.resolved_at == resolved_at
        )
    )
    return found is not None


def add_survey(conn: Connection, survey: dict[str, Any]) -> None:
    conn.execute(insert(surveys), survey)


def survey_by_token_digest(conn: Connection, digest: str, *, lock: bool = False) -> Row | None:
    query = select(surveys).where(surveys.c.token_sha256 == digest)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).first()


def record_answer(
    conn: Connection, survey_id: str, score: int, comment: str | None, at: datetime
) -> bool:
    """Answers once: False when the survey had its answer already."""
    result = conn.execute(
        update(surveys)
        .where(surveys.c.id == survey_id, surveys.c.answered_at.is_(None))
        .values(score=score, comment=comment, answered_at=at)
    )
    return result.rowcount == 1


def csat_groups(conn: Connection, group_by: str, since: datetime, until: datetime) -> list[Row]:
    column = surveys.c[group_by]
    return list(
        conn.execute(
            select(
                column.label("group"),
                func.count().label("answers"),
                func.avg(surveys.c.score).label("average"),
                func.sum((surveys.c.score >= 4).cast(Integer)).label("satisfied"),
            )
            .where(surveys.c.answered_at >= since, surveys.c.answered_at < until)
            .group_by(column)
            .order_by(column)
        )
    )


def csat_answers(conn: Connection, since: datetime, until: datetime) -> list[Row]:
    """When each survey of the period was answered, and its score."""
    return list(
        conn.execute(
            select(surveys.c.answered_at, surveys.c.score).where(
                surveys.c.answered_at >= since, surveys.c.answered_at < until
            )
        )
    )


def contact_counts(
    conn: Connection, group_by: str, since: datetime, until: datetime
) -> dict[str, int]:
    column = contacts.c[group_by]
    rows = conn.execute(
        select(column, func.count())
        .where(contacts.c.created_at >= since, contacts.c.created_at < until)
        .group_by(column)
    )
    return {group: count for group, count in rows}


_IN_WINDOW = (  # (since, until]: the surge's window ends with the contact that counts
    contacts.c.category == bindparam("category"),
    contacts.c.created_at > bindparam("since"),
    contacts.c.created_at <= bindparam("until"),
)
_CONTACTS_IN = select(contacts.c.ticket_id).where(*_IN_WINDOW)
_COUNT_CONTACTS_IN = select(func.count()).where(*_IN_WINDOW)
_COUNT_CONTACTS = select(func.count()).where(  # [since, until): the baseline before it
    contacts.c.category == bindparam("category"),
    contacts.c.created_at >= bindparam("since"),
    contacts.c.created_at < bindparam("until"),
)
_OPEN_DETECTED_PROBLEM = select(problems).where(
    problems.c.category == bindparam("category"),
    problems.c.status == "open",
    problems.c.detected.is_(True),
)


def contacts_in(conn: Connection, category: str, since: datetime, until: datetime) -> list[str]:
    """Ticket ids of the category's contacts in (since, until]."""
    window = {"category": category, "since": since, "until": until}
    return list(conn.scalars(_CONTACTS_IN, window))


def count_contacts_in(conn: Connection, category: str, since: datetime, until: datetime) -> int:
    """How many `contacts_in` would return, without fetching them."""
    window = {"category": category, "since": since, "until": until}
    return conn.scalar(_COUNT_CONTACTS_IN, window)


def count_contacts(conn: Connection, category: str, since: datetime, until: datetime) -> int:
    window = {"category": category, "since": since, "until": until}
    return conn.scalar(_COUNT_CONTACTS, window)


def open_detected_problem(conn: Connection, category: str) -> Row | None:
    return conn.execute(_OPEN_DETECTED_PROBLEM, {"category": category}).first()


def add_problem(conn: Connection, problem: dict[str, Any]) -> None:
    conn.execute(insert(problems), problem)


def problem_by_id(conn: Connection, problem_id: str, *, lock: bool = False) -> Row | None:
    query = select(problems).where(problems.c.id == problem_id)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).first()


LOOKUP_CHUNK = 500  # ids per IN list: far below what either database lets one bind
_LINKED_AMONG = select(problem_tickets.c.ticket_id).where(
    problem_tickets.c.problem_id == bindparam("problem_id"),
    problem_tickets.c.ticket_id.in_(bindparam("ticket_ids", expanding=True)),
)
_ADD_LINKS = insert(problem_tickets)


def resolve_problem(conn: Connection, problem_id: str, resolution: str, at: datetime) -> None:
    conn.execute(
        problems.update()
        .where(problems.c.id == problem_id)
        .values(status="resolved", resolution=resolution, resolved_at=at)
    )


def link_tickets(conn: Connection, problem_id: str, ticket_ids: list[str]) -> None:
    """Links each ticket once. Only the given tickets are looked up: during a surge every
    contact joins its problem, and reading all its links made each contact cost more."""
    wanted = list(dict.fromkeys(ticket_ids))
    linked: set[str] = set()
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        linked.update(conn.scalars(_LINKED_AMONG, {"problem_id": problem_id, "ticket_ids": chunk}))
    new = [{"problem_id": problem_id, "ticket_id": t} for t in wanted if t not in linked]
    if new:
        conn.execute(_ADD_LINKS, new)


def linked_tickets(conn: Connection, problem_id: str) -> list[str]:
    return list(
        conn.scalars(
            select(problem_tickets.c.ticket_id)
            .where(problem_tickets.c.problem_id == problem_id)
            .order_by(problem_tickets.c.ticket_id)
        )
    )


def known_contacts(conn: Connection, ticket_ids: list[str]) -> set[str]:
    return set(
        conn.scalars(select(contacts.c.ticket_id).where(contacts.c.ticket_id.in_(ticket_ids)))
    )


def list_problems(conn: Connection, status: str | None) -> list[Row]:
    query = select(problems).order_by(problems.c.created_at.desc())
    if status:
        query = query.where(problems.c.status == status)
    return list(conn.execute(query))


def count_open_problems(conn: Connection) -> int:
    return conn.scalar(select(func.count()).where(problems.c.status == "open"))


def add_article(conn: Connection, article: dict[str, Any]) -> None:
    conn.execute(insert(articles), article)


def article_by_id(conn: Connection, article_id: str) -> Row | None:
    return conn.execute(select(articles).where(articles.c.id == article_id)).first()


def update_article(conn: Connection, article_id: str, values: dict[str, Any]) -> bool:
    result = conn.execute(update(articles).where(articles.c.id == article_id).values(**values))
    return result.rowcount == 1


def delete_article(conn: Connection, article_id: str) -> bool:
    return conn.execute(articles.delete().where(articles.c.id == article_id)).rowcount == 1


def list_articles(conn: Connection, language: str | None, limit: int, offset: int) -> list[Row]:
    query = select(articles).order_by(articles.c.updated_at.desc(), articles.c.id)
    if language:
        query = query.where(articles.c.language == language)
    return list(conn.execute(query.limit(limit).offset(offset)))


# Matches are marked with two private-use characters, not HTML: the article text is
# escaped before the marks become <b> and </b> (domain.marked_snippet), so a snippet
# never carries markup an article holds.
_COLUMNS = {"id": String, "title": String, "language": String, "tags": JSON,
            "category": String, "snippet": String, "rank": Float}  # fmt: skip
_SQLITE_SEARCH = text("""
    SELECT a.id, a.title, a.language, a.tags, a.category,
           snippet(articles_fts, 1, :start, :stop, '…', 16) AS snippet,
           bm25(articles_fts, 4.0, 1.0) AS rank
    FROM articles_fts JOIN articles a ON a.seq = articles_fts.rowid
    WHERE articles_fts MATCH :query AND (:language IS NULL OR a.language = :language)
    ORDER BY a.language = :preferred DESC, rank LIMIT :limit
""").columns(**_COLUMNS)
# Each article is searched in its own language's configuration, as it was indexed.
_POSTGRES_SEARCH = text("""
    SELECT a.id, a.title, a.language, a.tags, a.category,
           ts_headline(CASE a.language WHEN 'nl' THEN 'dutch'::regconfig
                                      ELSE 'english'::regconfig END,
                       a.body, CASE a.language WHEN 'nl' THEN qn ELSE qe END,
                       'StartSel=' || :start || ', StopSel=' || :stop
                       || ', MaxWords=24, MinWords=8') AS snippet,
           ts_rank_cd(a.search, CASE a.language WHEN 'nl' THEN qn ELSE qe END) AS rank
    FROM articles a, to_tsquery('dutch', :query) AS qn, to_tsquery('english', :query) AS qe
    WHERE a.search @@ (CASE a.language WHEN 'nl' THEN qn ELSE qe END)
      AND (CAST(:language AS text) IS NULL OR a.language = :language)
    ORDER BY a.language = :preferred DESC, rank DESC, a.updated_at DESC LIMIT :limit
""").columns(**_COLUMNS)
MARK_START, MARK_STOP = "\ue000", "\ue001"


def search_articles(
    conn: Connection, words: list[str], language: str | None, preferred: str, limit: int
) -> list[Row]:
    """Ranked full-text search for any of the words, in one language or in both with the
    preferred one first; the articles with more of the words and with them in the title
    rank higher: SQLite FTS5 (bm25, title weighs four times the body) or PostgreSQL's
    Dutch and English configurations (stemmed; title weight A, body B). `words` are
    letters and digits only, so no search syntax reaches either engine."""
    params = {"language": language, "preferred": preferred, "limit": limit,
              "start": MARK_START, "stop": MARK_STOP}  # fmt: skip
    if conn.dialect.name == "postgresql":
        return list(conn.execute(_POSTGRES_SEARCH, params | {"query": " | ".join(words)}))
    # Every word quoted (no FTS5 syntax from customers) and matched as a prefix, which
    # stands in for stemming: "printer" finds "printers", "wachtwoord" "wachtwoorden".
    query = " OR ".join(f'"{word}"*' for word in words)
    return list(conn.execute(_SQLITE_SEARCH, params | {"query": query}))


# Prepared answers


def add_answer(conn: Connection, answer: dict[str, Any]) -> None:
    conn.execute(insert(prepared_answers), answer)


def answer_by_id(conn: Connection, answer_id: str) -> Row | None:
    return conn.execute(select(prepared_answers).where(prepared_answers.c.id == answer_id)).first()


def update_answer(conn: Connection, answer_id: str, values: dict[str, Any]) -> bool:
    changed = update(prepared_answers).where(prepared_answers.c.id == answer_id).values(**values)
    return conn.execute(changed).rowcount == 1


def delete_answer(conn: Connection, answer_id: str) -> bool:
    gone = prepared_answers.delete().where(prepared_answers.c.id == answer_id)
    return conn.execute(gone).rowcount == 1


def list_answers(conn: Connection, queue: str | None, category: str | None) -> list[Row]:
    """Every answer, or those that fit a ticket of that queue and category: an answer for
    no queue or no category fits all of them."""
    query = select(prepared_answers).order_by(prepared_answers.c.title, prepared_answers.c.id)
    fits = ((prepared_answers.c.queue, queue), (prepared_answers.c.category, category))
    for column, value in fits:
        if value is not None:
            query = query.where(or_(column.is_(None), column == value))
    return list(conn.execute(query))
