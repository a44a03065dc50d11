"""Fixtures shared by every test: a namespace, databases and keys of this run only."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.common.config import REPO_ROOT, Settings, load_settings
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
    """Every broker namespace this run makes, deleted at the end."""
    made: list[str] = []

    def new() -> str:
        support.require_broker()
        namespace = f"{run_id}-{len(made)}"
        made.append(namespace)
        return namespace

    yield new
    for namespace in made:
        support.delete_namespace(namespace)


@pytest.fixture
def namespace(namespaces: Callable[[], str]) -> str:
    return namespaces()


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
) -> Callable[..., Settings]:
    """Settings for one service on this test's backend, namespace and keys."""

    def make(service: str, **extra: str) -> Settings:
        environ = {
            f"LOKET_{service.upper()}_DATABASE_URL": databases.url(backend, service),
            "LOKET_AMQP_URL": support.AMQP_URL,
            "LOKET_NAMESPACE": namespace,
            "LOKET_API_KEYS_FILE": str(keys_file[0]),
            "LOKET_CONFIG": str(REPO_ROOT / "config" / "loket.yaml"),
            f"LOKET_{service.upper()}_METRICS_PORT": "0",
            **extra,
        }
        return load_settings(service, environ)

    return make
