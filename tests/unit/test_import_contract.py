"""Who may import whom (issue 21): read from the source, so a new import that breaks the
shape fails here, not in review."""

import ast
from pathlib import Path

import pytest

from tests.support import REPO

SERVICES = ("intake", "queue", "notify", "feedback", "portal")
# Rules and models that must stay plain: no web framework, database, broker or storage.
PURE = [f"services/{s}/domain.py" for s in ("intake", "queue", "notify", "feedback")]
PURE += ["services/queue/waits.py"]
FORBIDDEN_IN_PURE = ("flask", "sqlalchemy", "pika", "requests", "storage")


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def sources(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_imports_another(service):
    others = [s for s in SERVICES if s != service]
    for path in sources(f"services/{service}"):
        crossing = {m for m in imports(path) for o in others if m.startswith(f"services.{o}")}
        assert not crossing, f"{path.relative_to(REPO)} imports {sorted(crossing)}"


def test_common_imports_no_service():
    for path in sources("services/common"):
        crossing = {m for m in imports(path) for s in SERVICES if m.startswith(f"services.{s}")}
        assert not crossing, f"{path.relative_to(REPO)} imports {sorted(crossing)}"


@pytest.mark.parametrize("module", PURE)
def test_rules_import_no_framework_database_broker_or_storage(module):
    found = imports(REPO / module)
    wrong = {m for m in found for f in FORBIDDEN_IN_PURE
             if m == f or m.startswith(f"{f}.") or m.endswith(f".{f}")}  # fmt: skip
    assert not wrong, f"{module} imports {sorted(wrong)}"
