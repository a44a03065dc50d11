"""Schemathesis over every service's /openapi.json, against the real running processes:
valid and invalid input alike, no response is a 5xx and every response matches what its
OpenAPI document promises."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.common.config import SERVICES
from tests.support import bearer

# Compose runs PostgreSQL; the SQLite side of the same code is fuzzed through the test
# clients of the integration tests' bad-input cases.
pytestmark = pytest.mark.parametrize("desk", ["postgresql"], indirect=True)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 25  # per operation and mode: about 2,000 requests for the desk


@schemathesis.serializer("message/rfc822")
def _rfc822(ctx, value) -> bytes:
    """Inbound e-mail: whatever was generated, as the bytes of a message."""
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("service", SERVICES)
def test_no_input_breaks_a_service_and_every_answer_is_as_documented(desk, service):
    # Each caller may use what it calls: intake's writes are a front-end's, the rest staff's.
    key = desk.keys["portal"] if service == "intake" else desk.keys["admin"]
    url = desk.urls[service]
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case) -> None:
                response = case.call(base_url=url, headers=bearer(key), timeout=10)
                case.validate_response(response, checks=CHECKS)

            try:
                call()
            except Unsatisfiable:
                pass  # no wrong input exists for an operation that takes none
            except Exception as exc:  # every operation is tried; all failures reported
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert failures == [], "\n\n".join(failures)
