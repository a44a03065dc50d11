"""The deployment files, checked without a Docker engine."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from services.common.config import (
    DEFAULT_WEB_PORTS,
    DEFAULT_WORKER_METRICS_PORTS,
    SERVICES,
    node_urls,
)
from services.definitions import definitions

REPO = Path(__file__).resolve().parents[2]
COMPOSE_SPEC = REPO / "tests" / "data" / "compose-spec.json"
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
PROCESSES = [(s, k) for s in SERVICES for k in ("web", "worker")]


def test_compose_file_follows_the_compose_specification():
    schema = json.loads(COMPOSE_SPEC.read_text())
    jsonschema.Draft7Validator(schema).validate(COMPOSE)


@pytest.mark.parametrize("name", sorted(COMPOSE["services"]))
def test_every_container_has_an_image_a_health_check_and_a_restart_policy(name):
    service = COMPOSE["services"][name]
    assert "image" in service or "build" in service
    assert "restart" in service
    health = service.get("healthcheck", {})
    if name in ("migrate", "broker-definitions", "broker-replicas"):  # done is healthy
        assert health == {"disable": True} and service["restart"] == "no"
    else:
        assert health.get("test"), f"{name} has no health check"


@pytest.mark.parametrize(("service", "kind"), PROCESSES)
def test_every_process_of_every_service_runs_from_the_one_image(service, kind):
    container = COMPOSE["services"][f"{service}-{kind}"]
    assert container["image"] == "loket:latest"
    assert container["build"]["dockerfile"] == "deploy/Dockerfile"
    assert container["command"] == [service, kind]
    port = DEFAULT_WEB_PORTS[service] if kind == "web" else DEFAULT_WORKER_METRICS_PORTS[service]
    assert str(port) in container["expose"]
    assert str(port) in " ".join(container["healthcheck"]["test"])
    env = container["environment"]
    assert env[f"LOKET_{service.upper()}_DATABASE_URL"].startswith("postgresql://")
    # Each service connects as its own broker user, to the desk's vhost, on one node or
    # on the nodes of the broker-cluster profile.
    assert env["LOKET_AMQP_URL"] == (
        f"amqp://loket_{service}:${{LOKET_{service.upper()}_AMQP_PASSWORD:?set it in .env}}"
        "@${LOKET_BROKER_NODES:-rabbitmq:5672}/loket"
    )
    assert container["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert container["depends_on"]["rabbitmq"] == {"condition": "service_healthy"}


def test_the_infrastructure_is_all_there():
    assert {"rabbitmq", "postgres", "redis", "migrate", "gateway", "prometheus", "grafana",
            "mailpit"} <= set(COMPOSE["services"])  # fmt: skip
    assert "management" in COMPOSE["services"]["rabbitmq"]["image"]
    assert COMPOSE["services"]["migrate"]["command"] == ["all", "migrate"]


def test_no_secret_is_written_into_the_compose_file():
    text = (REPO / "docker-compose.yml").read_text()
    assert "guest" not in text
    passwords = re.findall(r"^\s+\w*PASS\w*:\s*(\S+)", text, re.MULTILINE)
    assert len(passwords) >= 6
    for value in passwords:
        assert value.startswith("${"), value
    assert (REPO / ".env.example").exists()
    assert ".env" in (REPO / ".gitignore").read_text().split()


def test_prometheus_scrapes_every_web_and_worker_process():
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target for job in config["scrape_configs"] for group in job["static_configs"]
        for target in group["targets"]
    }  # fmt: skip
    for service in SERVICES:
        assert f"{service}-web:{DEFAULT_WEB_PORTS[service]}" in targets
        assert f"{service}-worker:{DEFAULT_WORKER_METRICS_PORTS[service]}" in targets
    assert "rabbitmq:15692" in targets


def test_the_image_runs_as_a_non_root_user_with_a_command_per_process():
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["python", "-m", "services"]' in dockerfile


def test_the_broker_imports_the_generated_users_and_topology_before_anyone_connects():
    rabbitmq = COMPOSE["services"]["rabbitmq"]
    setup = COMPOSE["services"]["broker-definitions"]
    assert not any("DEFAULT" in v for v in rabbitmq.get("environment", {}))  # no default user
    assert rabbitmq["depends_on"]["broker-definitions"] == {
        "condition": "service_completed_successfully"
    }
    written = setup["command"][-1]
    volume = next(v for v in setup["volumes"] if written.startswith(v.split(":")[1]))
    name, folder = volume.split(":")
    mounted = next(v for v in rabbitmq["volumes"] if v.startswith(f"{name}:"))
    conf = (REPO / "deploy" / "rabbitmq" / "rabbitmq.conf").read_text()
    loaded = re.search(r"^load_definitions = (\S+)", conf, re.MULTILINE).group(1)
    assert loaded == written.replace(folder, mounted.split(":")[1])
    assert any(v.endswith("/etc/rabbitmq/conf.d/20-loket.conf:ro") for v in rabbitmq["volumes"])
    for variable in (
        "RABBITMQ_ADMIN_PASSWORD",
        *(f"LOKET_{s.upper()}_AMQP_PASSWORD" for s in SERVICES),
    ):
        assert setup["environment"][variable] == f"${{{variable}:?set it in .env}}"


def test_the_broker_cluster_profile_adds_two_nodes_that_join_the_first():
    services = COMPOSE["services"]
    conf = (REPO / "deploy" / "rabbitmq" / "cluster.conf").read_text()
    listed = re.findall(r"^cluster_formation\.classic_config\.nodes\.\d+ = (\S+)$", conf, re.M)
    nodes = ["rabbitmq", "rabbitmq-2", "rabbitmq-3"]
    assert listed == [f"rabbit@{n}" for n in nodes]
    volumes = {n: services[n]["volumes"] for n in nodes}
    for node in nodes:
        assert services[node]["hostname"] == node
        assert services[node]["entrypoint"] == services["rabbitmq"]["entrypoint"]  # the cookie
        assert services[node]["environment"] == {"LOKET_BROKER_COOKIE": "${LOKET_BROKER_COOKIE:-}"}
        assert volumes[node][1:4] == volumes["rabbitmq"][1:4]  # definitions and conf
    assert len({v[0] for v in volumes.values()}) == 3  # each its own data
    for node in nodes[1:]:
        assert services[node]["profiles"] == ["broker-cluster"]
        assert volumes[node][4].startswith("./deploy/rabbitmq/cluster.conf:")
    replicas = services["broker-replicas"]
    assert replicas["profiles"] == ["broker-cluster"]
    grown = re.search(r"for node in ([^;]+);", replicas["entrypoint"][-1]).group(1).split()
    assert grown == listed[1:]
    assert {f"{s}-worker" for s in SERVICES} <= set(replicas["depends_on"])  # queues declared
    example = (REPO / ".env.example").read_text()
    hosts = re.search(r"^# LOKET_BROKER_NODES=(\S+)$", example, re.M).group(1)
    urls = node_urls(f"amqp://u:p@{hosts}/loket")
    assert urls == [f"amqp://u:p@{n}:5672/loket" for n in nodes]


def test_the_rabbitmq_definitions_match_the_topology_the_services_declare():
    committed = json.loads((REPO / "deploy" / "rabbitmq" / "definitions.json").read_text())
    assert committed == definitions()


def test_the_gateway_exposes_exactly_the_public_paths():
    config = (REPO / "deploy" / "nginx" / "loket.conf").read_text()
    public = config.split("listen 8080;")[1].split("server {")[0]
    for path in ("/v1/requests", "/v1/catalogue", "/v1/contact-options", "/v1/track/",
                 "/v1/surveys/", "/v1/knowledge/search"):  # fmt: skip
        assert path in public
    assert "/v1/queues" not in public and "/v1/tickets" not in public


def test_compose_runs_the_gateway_with_the_main_configuration_make_run_writes():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    volumes = compose["services"]["gateway"]["volumes"]
    assert "./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in volumes
    assert "./deploy/nginx/loket.conf:/etc/nginx/conf.d/default.conf:ro" in volumes
    main = (REPO / "deploy" / "nginx" / "nginx.conf").read_text()
    assert "include /etc/nginx/conf.d/default.conf;" in main
