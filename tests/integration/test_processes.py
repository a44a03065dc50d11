"""Real processes stop at start on a bad configuration value, naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

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


@pytest.mark.parametrize("kind", ["web", "worker", "migrate"])
@pytest.mark.parametrize("service", ["intake", "queue", "notify", "feedback"])
def test_a_desk_configuration_without_an_sla_target_stops_every_process(tmp_path, service, kind):
    # Before, the queue's worker took this file and failed on the first ticket, which was
    # retried, then dead-lettered: tickets silently stopped reaching the queue.
    desk = yaml.safe_load((REPO / "config" / "loket.yaml").read_text(encoding="utf-8"))
    del desk["sla"]["first_response_minutes"][3]
    config = tmp_path / "loket.yaml"
    config.write_text(yaml.safe_dump(desk), encoding="utf-8")
    env = {"PATH": os.environ["PATH"], "LOKET_VAR_DIR": str(tmp_path),
           "LOKET_CONFIG": str(config)}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "services", service, kind],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "configuration error: LOKET_CONFIG:" in result.stderr
    assert "sla.first_response_minutes: a target for every priority 1 to 4" in result.stderr


@pytest.mark.parametrize("kind", ["web", "worker", "migrate"])
def test_notifys_own_settings_are_checked_when_it_starts(tmp_path, kind):
    env = {"PATH": os.environ["PATH"], "LOKET_VAR_DIR": str(tmp_path),
           "LOKET_NOTIFY_SECRET_KEY": "too-short"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "services", "notify", kind],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "configuration error: LOKET_NOTIFY_SECRET_KEY: must be 32 bytes" in result.stderr
