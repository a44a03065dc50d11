"""Real processes stop at start on a bad configuration value, naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support import REPO


@pytest.mark.parametrize("kind", ["web", "worker", "migrate"])
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LOKET_AMQP_URL", "http://rabbit:5672"),
        ("LOKET_QUEUE_DATABASE_URL", "oracle://db/queue"),
        ("LOKET_NAMESPACE", "No Spaces Please"),
        ("LOKET_QUEUE_HTTP_PORT", "eighty"),
    ],
)
def test_a_bad_value_stops_the_process_naming_the_variable(tmp_path, kind, variable, value):
    env = {"PATH": os.environ["PATH"], "LOKET_VAR_DIR": str(tmp_path), variable: value}
    result = subprocess.run(
        [sys.executable, "-m", "services", "queue", kind],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"configuration error: {variable}:" in result.stderr


def test_an_unknown_service_or_process_kind_shows_the_usage():
    result = subprocess.run([sys.executable, "-m", "services", "billing", "web"], cwd=REPO,
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 2 and "usage:" in result.stderr
