import re

import pytest

from services.common.config import REPO_ROOT, ConfigError, load_settings, node_urls

BAD_VALUES = [
    ("LOKET_AMQP_URL", "http://localhost:5672"),
    ("LOKET_AMQP_URL", "amqp://a:5672/,b:5672"),  # the first of a host list has no path
    ("LOKET_AMQP_URL", "amqp://u:p@a:5672,b:5672,amqp://c/x"),  # one form or the other
    ("LOKET_NAMESPACE", "Has Spaces"),
    ("LOKET_INTAKE_DATABASE_URL", "mysql://localhost/x"),
    ("LOKET_INTAKE_DATABASE_URL", "::not a url::"),
    ("LOKET_MAX_BODY_BYTES", "lots"),
    ("LOKET_INTAKE_HTTP_PORT", "0"),
    ("LOKET_PUBLIC_BASE_URL", "example.org"),
    ("LOKET_SMTP_URL", "mail.example.org"),
    ("LOKET_API_KEYS_FILE", "/nonexistent/keys.yaml"),
    ("LOKET_CONFIG", "/nonexistent/loket.yaml"),
    ("LOKET_DELIVERY_LIMIT", "0"),
]
PLACEHOLDER_PASSWORDS = [
    ("LOKET_INTAKE_DATABASE_URL", "postgresql://loket_intake:change-me-intake@db/loket_intake"),
    ("LOKET_AMQP_URL", "amqp://loket_intake:change-me-intake-amqp@rabbitmq:5672/loket"),
    ("LOKET_AMQP_URL", "amqp://u:s3cr3t-enough@a:5672,amqp://u:password@b:5672/loket"),
]


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [(name, value, "") for name, value in BAD_VALUES]
    + [(name, value, "placeholder") for name, value in PLACEHOLDER_PASSWORDS],
)
def test_a_bad_value_names_its_variable(variable, value, says):
    with pytest.raises(ConfigError) as failure:
        load_settings("intake", {variable: value})
    assert failure.value.variable == variable
    assert str(failure.value).startswith(f"{variable}:") and says in str(failure.value)


def test_invalid_yaml_config_names_the_variable(tmp_path):
    bad = tmp_path / "loket.yaml"
    bad.write_text("queues: [unclosed\n")
    with pytest.raises(ConfigError) as failure:
        load_settings("queue", {"LOKET_CONFIG": str(bad)})
    assert failure.value.variable == "LOKET_CONFIG"


def test_defaults_work_out_of_the_box():
    settings = load_settings("queue", {})
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith(
        "var/queue.db"
    )
    assert settings.http_port == 8002
    assert settings.namespace == ""
    assert settings.desk["catalogue"]


def test_postgres_urls_use_the_shipped_driver():
    settings = load_settings("intake", {"LOKET_INTAKE_DATABASE_URL": "postgresql://u@db/intake"})
    assert settings.database_url.startswith("postgresql+psycopg://")


def test_notify_reads_its_own_settings_from_the_same_environment():
    from services.notify.settings import notify_settings

    settings = load_settings("notify", {"LOKET_NOTIFY_MAX_ATTEMPTS": "3"})
    assert notify_settings(settings).max_attempts == 3
    assert notify_settings(load_settings("notify", {})).max_attempts == 6
    bad = load_settings("notify", {"LOKET_WEBHOOK_ALLOWED_NETWORKS": "not-a-network"})
    with pytest.raises(ConfigError) as failure:
        notify_settings(bad)
    assert failure.value.variable == "LOKET_WEBHOOK_ALLOWED_NETWORKS"


@pytest.mark.parametrize(
    "nodes",
    [
        "amqp://u:p@a:5672/loket, amqp://u:p@b:5672/loket,amqp://u:p@c:5672/loket",
        "amqp://u:p@a:5672,b:5672, c:5672/loket",  # the hosts listed, the rest written once
    ],
)
def test_a_broker_cluster_is_named_by_its_nodes(nodes):
    assert load_settings("queue", {"LOKET_AMQP_URL": nodes}).amqp_url == nodes
    assert node_urls(nodes) == [f"amqp://u:p@{host}:5672/loket" for host in "abc"]


def test_one_broker_is_its_own_url():
    assert node_urls("amqps://u:p%2Cq@a/%2F?heartbeat=5") == ["amqps://u:p%2Cq@a/%2F?heartbeat=5"]
    assert node_urls("amqp://a,b?heartbeat=5") == ["amqp://a?heartbeat=5", "amqp://b?heartbeat=5"]


def test_every_secret_of_the_example_environment_is_refused_as_it_stands():
    """Every value .env.example shows for a password, key or cookie stops the desk."""
    from services.common.config import DEPLOYMENT_SECRETS, check_deployment_secrets
    from services.portal.settings import load_portal_settings

    example = dict(
        line.split("=", 1)
        for line in (REPO_ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    secrets_shown = {k: v for k, v in example.items() if v and re.search("PASSWORD|KEY|COOKIE", k)}
    assert {"LOKET_PORTAL_SECRET_KEY", "POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"} <= set(
        secrets_shown
    )
    for name, value in secrets_shown.items():
        with pytest.raises(ConfigError) as raised:
            if name in DEPLOYMENT_SECRETS:
                check_deployment_secrets({name: value})
            elif name == "LOKET_PORTAL_SECRET_KEY":
                load_portal_settings({name: value})
            else:  # a service's password: it reaches the service inside its URL
                load_settings("intake", {"LOKET_AMQP_URL": f"amqp://u:{value}@broker/loket"})
        assert "placeholder" in str(raised.value), name


def test_the_portals_secret_key_must_be_long_enough_to_sign_sessions():
    from services.portal.settings import load_portal_settings

    with pytest.raises(ConfigError) as raised:
        load_portal_settings({"LOKET_PORTAL_SECRET_KEY": "a-short-but-real-secret"})
    assert raised.value.variable == "LOKET_PORTAL_SECRET_KEY" and "32 bytes" in str(raised.value)
    key = "k7Qf2-9xYtLr0pZ3mNcV8wEa1sBdHgJu"
    assert load_portal_settings({"LOKET_PORTAL_SECRET_KEY": key}).secret_key == key
