"""The connection pool on a real PostgreSQL whose server ends connections (a restart, a
failover, an idle timeout): no ping before every checkout, and still nothing lost."""

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from services.common import db
from services.common.db import make_engine, transaction
from tests.support import PG_ADMIN_URL

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@pytest.fixture
def engine(databases, backend):
    engine = make_engine(databases.url(backend, "queue", migrated=False), pool_size=1)
    yield engine
    engine.dispose()


def backend_pid(engine) -> int:
    with transaction(engine) as conn:
        return conn.scalar(text("SELECT pg_backend_pid()"))


def terminate(pid: int) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


def test_a_connection_idle_for_a_while_is_pinged_and_replaced_when_the_server_ended_it(
    engine, monkeypatch
):
    pid = backend_pid(engine)
    terminate(pid)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # "a while" has passed
    assert backend_pid(engine) != pid  # no error: the ping found it dead


def test_a_connection_used_a_moment_ago_is_not_pinged_and_one_statement_pays_for_it(engine):
    pid = backend_pid(engine)
    terminate(pid)
    # Answered 503 with Retry-After by every web app; an event is redelivered.
    with pytest.raises(OperationalError):
        backend_pid(engine)
    assert backend_pid(engine) != pid  # the pool replaced it: the retry works
