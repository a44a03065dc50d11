"""Fixtures shared by every test: a namespace, databases and keys of this run only."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.common.broker import WorkQueue
from services.common.config import REPO_ROOT, Settings, load_settings
from services.notify import sender
from tests import support

# A test run never reads the developer's own configuration or keys.
for _variable in [v for v in os.environ if v.startswith("LOKET_") and "TEST" not in v]:
    del os.environ[_variable]
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


@pytest.fixture(scope="session")
def run_id() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def namespaces(run_id: str) -> Iterator[Callable[[], str]]:
    """A new broker namespace of this run on each call."""
    made: list[str] = []

    def new() -> str:
        support.require_broker()
        namespace = f"{run_id}-{len(made)}"
        made.append(namespace)
        return namespace

    yield new
    if made:
        support.delete_leftovers(f"{run_id}-")


@pytest.fixture(scope="module", autouse=True)
def sweep_broker(request: pytest.FixtureRequest, run_id: str) -> Iterator[None]:
    """What processes of a module declared on their own is gone when the module ends.
    Unit tests touch no broker: nothing to sweep (and no rabbitmqctl call per module)."""
    yield
    if "unit" not in request.path.relative_to(REPO_ROOT).parts[:2]:
        support.delete_leftovers(f"{run_id}-")


@pytest.fixture
def work_queues() -> list[WorkQueue]:
    """The work queues this test's settings declare, deleted with its namespace."""
    return []


@pytest.fixture
def namespace(namespaces: Callable[[], str], work_queues: list[WorkQueue]) -> Iterator[str]:
    name = namespaces()
    yield name
    support.delete_namespace(name, work_queues)


@pytest.fixture(scope="session")
def databases(run_id: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[support.Databases]:
    dbs = support.Databases(run_id, tmp_path_factory.mktemp("databases"))
    yield dbs
    dbs.drop_all()


@pytest.fixture(params=support.BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        support.require_postgres()
    return request.param


@pytest.fixture(scope="session")
def accounts_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The console's people (tests.support.PEOPLE), hashed once for the whole run."""
    return support.write_accounts(tmp_path_factory.mktemp("accounts") / "accounts.yaml")


@pytest.fixture
def keys_file(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    path = tmp_path / "api-keys.yaml"
    return path, support.write_keys(path)


@pytest.fixture
def keys(keys_file: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return keys_file[1]


@pytest.fixture
def make_settings(
    backend: str,
    namespace: str,
    databases: support.Databases,
    keys_file: tuple[Path, dict[str, str]],
    work_queues: list[WorkQueue],
    accounts_file: Path,
) -> Callable[..., Settings]:
    """Settings for one service on this test's backend, namespace and keys."""

    def make(service: str, **extra: str) -> Settings:
        environ = {
            f"LOKET_{service.upper()}_DATABASE_URL": databases.url(backend, service),
            "LOKET_AMQP_URL": support.AMQP_URL,
            "LOKET_NAMESPACE": namespace,
            "LOKET_API_KEYS_FILE": str(keys_file[0]),
            "LOKET_ACCOUNTS_FILE": str(accounts_file),
            "LOKET_CONFIG": str(REPO_ROOT / "config" / "loket.yaml"),
            f"LOKET_{service.upper()}_METRICS_PORT": "0",
            **extra,
        }
        settings = load_settings(service, environ)
        if service == "notify":
            work_queues.append(sender.work_queue(settings))
        return settings

    return make
