"""Contacts, surveys, outbox and inbox.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from services.common.plumbing_migration import create_inbox_v1, create_outbox_v1

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_outbox_v1()
    create_inbox_v1()
    op.create_table(
        "contacts",
        sa.Column("ticket_id", sa.String(36), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("resolved_on_contact", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_contacts_category_created", "contacts", ["category", "created_at"])
    op.create_index("ix_contacts_created", "contacts", ["created_at"])
    op.create_table(
        "surveys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("ticket_id", sa.String(36), nullable=False),
        sa.Column("reference", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Integer, nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_surveys_answered_at", "surveys", ["answered_at"])
    op.create_index("ix_surveys_ticket", "surveys", ["ticket_id", "resolved_at"], unique=True)
    op.create_table(
        "problems",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detected", sa.Boolean, nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("count", sa.Integer, nullable=True),
        sa.Column("baseline", sa.Float, nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolution", sa.Text, nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_problems_category_status", "problems", ["category", "status"])
    create_articles()
    op.create_table(
        "problem_tickets",
        sa.Column("problem_id", sa.String(36), sa.ForeignKey("problems.id"), primary_key=True),
        sa.Column("ticket_id", sa.String(36), primary_key=True),
    )


def create_articles() -> None:
    """Knowledge articles with a full-text index in each database's own way."""
    op.create_table(
        "articles",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            ALTER TABLE articles ADD COLUMN search tsvector GENERATED ALWAYS AS (
                CASE language WHEN 'nl' THEN
                    setweight(to_tsvector('dutch'::regconfig, title), 'A')
                    || setweight(to_tsvector('dutch'::regconfig, body), 'B')
                ELSE
                    setweight(to_tsvector('english'::regconfig, title), 'A')
                    || setweight(to_tsvector('english'::regconfig, body), 'B')
                END) STORED
        """)
        op.execute("CREATE INDEX ix_articles_search ON articles USING gin (search)")
        return
    op.execute("""
        CREATE VIRTUAL TABLE articles_fts USING fts5(
            title, body, content='articles', content_rowid='seq',
            tokenize='unicode61 remove_diacritics 2')
    """)
    op.execute("""
        CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
            INSERT INTO articles_fts(rowid, title, body) VALUES (new.seq, new.title, new.body);
        END
    """)
    op.execute("""
        CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
            INSERT INTO articles_fts(articles_fts, rowid, title, body)
            VALUES ('delete', old.seq, old.title, old.body);
        END
    """)
    op.execute("""
        CREATE TRIGGER articles_au AFTER UPDATE ON articles BEGIN
            INSERT INTO articles_fts(articles_fts, rowid, title, body)
            VALUES ('delete', old.seq, old.title, old.body);
            INSERT INTO articles_fts(rowid, title, body) VALUES (new.seq, new.title, new.body);
        END
    """)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE articles_fts")
    for table in (
        "articles",
        "problem_tickets",
        "problems",
        "surveys",
        "contacts",
        "inbox",
        "outbox",
    ):
        op.drop_table(table)
