"""Prometheus configuration, alert rules and the Grafana dashboard, checked by promtool."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from tests.support import REPO, debian_tool, queried_metrics

PROMETHEUS = REPO / "deploy" / "prometheus"
GRAFANA = REPO / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "loket-desk.json"


def promtool(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [debian_tool("promtool"), *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_the_prometheus_configuration_and_its_rules_are_valid():
    checked = promtool("check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert "1 rule files found" in checked.stdout


def test_every_alert_fires_when_it_should_and_only_then():
    promtool("test", "rules", str(PROMETHEUS / "tests" / "alerts.test.yml"))


def test_every_dashboard_query_is_valid_promql(tmp_path: Path):
    # Grafana's variables, filled in as Grafana would, make each query plain PromQL;
    # promtool then parses it as a recording rule.
    filled = {"$__rate_interval": "1m", "$__range": "1h", "$channel": ".*"}
    rules = []
    for number, expression in enumerate(dashboard_expressions()):
        for variable, value in filled.items():
            expression = expression.replace(variable, value)
        rules.append({"record": f"loket:dashboard_query_{number}", "expr": expression})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = promtool("check", "rules", str(path))
    assert f"SUCCESS: {len(rules)} rules found" in checked.stdout


def test_the_dashboard_uses_only_the_provisioned_datasource_and_is_provisioned():
    datasources = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uids = {d["uid"] for d in datasources["datasources"]}
    dashboard = json.loads(DASHBOARD.read_text())
    used = {p["datasource"]["uid"] for p in dashboard["panels"] if "datasource" in p}
    used |= {t["datasource"]["uid"] for p in dashboard["panels"] for t in p.get("targets", [])}
    assert used == uids
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "loket.yml").read_text())
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert (
        f"./deploy/grafana/dashboards:{providers['providers'][0]['options']['path']}:ro" in mounts
    )


def test_the_dashboard_shows_what_operators_asked_for():
    queried = queried_metrics(*dashboard_expressions())
    assert {
        "loket_wait_seconds", "loket_waiting_tickets", "loket_oldest_wait_seconds",
        "loket_estimated_wait_seconds", "loket_requests_total", "loket_queue_jumps_total",
        "loket_transfers_total", "loket_sla_breaches_total", "loket_csat_score",
        "loket_problems_open", "loket_events_published_total", "loket_events_consumed_total",
        "loket_outbox_backlog", "loket_calls_total", "loket_calls_answered_in_time_total",
        "loket_call_answer_seconds",
    } <= queried  # fmt: skip
    percentiles = [e for e in dashboard_expressions() if "loket_wait_seconds_bucket" in e]
    for quantile in ("0.5", "0.9", "0.99"):
        for by in ("channel", "queue"):
            assert any(f"({quantile}, sum by (le, {by})" in e for e in percentiles)
