"""The deployment's broker users, imported into the real RabbitMQ: each service can do what
it does and cannot read what is not its own; the guest user has no access."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator

import pika
import pytest

from services import definitions
from services.common import broker
from services.common.config import SERVICES, load_settings
from services.notify.sender import work_queue
from tests.support import AMQP_URL, REPO


def rabbitmqctl(*args: str) -> None:
    done = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def deployed(namespace: str) -> Iterator[dict[str, str]]:
    """The definitions `docker compose` would load, in a vhost of this test's own."""
    vhost = namespace
    passwords = {s: secrets.token_urlsafe(16) for s in SERVICES}
    document = definitions.with_users(
        definitions.definitions(vhost, namespace), vhost, namespace, passwords
    )
    # The broker's CLI runs as its own user: the file must be readable to it (it holds
    # password hashes only).
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(document, file)
        file.flush()
        os.chmod(file.name, 0o644)
        rabbitmqctl("import_definitions", file.name)
    try:
        yield {
            s: f"amqp://{definitions.user_name(namespace, s)}:{p}@127.0.0.1:5672/"
            f"{urllib.parse.quote(vhost, safe='')}"
            for s, p in passwords.items()
        }
    finally:
        rabbitmqctl("delete_vhost", vhost)
        for service in SERVICES:
            rabbitmqctl("delete_user", definitions.user_name(namespace, service))


def refused(url: str, action) -> bool:
    connection = broker.connect(url, "loket-tests-permissions")
    try:
        action(connection.channel())
    except pika.exceptions.ChannelClosedByBroker as exc:
        return exc.reply_code == 403
    finally:
        if connection.is_open:
            connection.close()
    return False


def test_each_service_declares_publishes_and_reads_only_its_own_queues(namespace, deployed):
    notify = load_settings("notify", {"LOKET_NAMESPACE": namespace})
    events = broker.name(namespace, broker.EVENTS_EXCHANGE)

    def declare_and_publish(channel) -> None:
        broker.declare_topology(channel, namespace, notify.delivery_limit)
        channel.confirm_delivery()
        channel.basic_publish(events, "ticket.created", b"{}", mandatory=True)

    for service in SERVICES:
        assert not refused(deployed[service], declare_and_publish), service
    assert not refused(
        deployed["notify"],
        lambda ch: work_queue(notify).declare(ch, namespace, notify.delivery_limit),
    )

    for reader in ("queue", "notify", "feedback"):
        own = broker.queue_name(namespace, reader)
        assert not refused(deployed[reader], lambda ch, q=own: ch.basic_get(q)), reader
        for other in {"queue", "notify", "feedback"} - {reader}:
            theirs = broker.queue_name(namespace, other)
            assert refused(deployed[reader], lambda ch, q=theirs: ch.basic_get(q)), (reader, other)
        dead = broker.dead_letter_queue_name(namespace, reader)
        assert not refused(deployed[reader], lambda ch, q=dead: ch.basic_get(q))
    attempts = work_queue(notify).queue(namespace)
    assert not refused(deployed["notify"], lambda ch: ch.basic_get(attempts))
    assert refused(deployed["intake"], lambda ch: ch.basic_get(attempts))
    assert refused(
        deployed["intake"], lambda ch: ch.basic_get(broker.queue_name(namespace, "queue"))
    )


def test_the_guest_user_has_no_access_to_the_desks_vhost(namespace, deployed):
    guest = AMQP_URL.rsplit("/", 1)[0] + "/" + urllib.parse.quote(namespace, safe="")
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        broker.connect(guest, "loket-tests-guest")


def test_passwords_are_stored_as_rabbitmq_sha256_hashes():
    salt = bytes.fromhex("908d c60a".replace(" ", ""))
    # The example from RabbitMQ's "Credentials and Passwords" guide: password "test12".
    assert (
        definitions.password_hash("test12", salt)
        == "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR"
    )
    # Passwords no hash could hold by chance (base64 has no "-").
    secrets = {"intake": "intake-s3cret"}
    document = definitions.with_users({}, "loket", "", secrets, ("ops", "ops-password"))
    written = json.dumps(document)
    assert "intake-s3cret" not in written and "ops-password" not in written
    assert [u["name"] for u in document["users"]] == ["loket_intake", "ops"]


def test_the_compose_setup_command_writes_hashes_and_refuses_missing_passwords(tmp_path):
    environ = {f"LOKET_{s.upper()}_AMQP_PASSWORD": f"pw-{s}" for s in SERVICES}
    environ |= {"PATH": os.environ["PATH"], "RABBITMQ_ADMIN_PASSWORD": "pw-operator"}
    target = tmp_path / "definitions.json"
    command = [sys.executable, "-m", "services.definitions", "--users", str(target)]
    done = subprocess.run(command, env=environ, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    written = json.loads(target.read_text())
    assert {u["name"] for u in written["users"]} == {*(f"loket_{s}" for s in SERVICES), "admin"}
    assert "pw-" not in target.read_text()
    assert {p["vhost"] for p in written["permissions"]} == {"loket"}
    assert written["vhosts"] == [{"name": "loket"}]

    del environ["LOKET_QUEUE_AMQP_PASSWORD"]
    done = subprocess.run(command, env=environ, cwd=REPO, capture_output=True, text=True)
    assert done.returncode != 0
    assert "LOKET_QUEUE_AMQP_PASSWORD" in done.stderr
