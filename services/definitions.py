"""RabbitMQ definitions: the whole topology and, for a deployment, its users.

`python -m services.definitions > deploy/rabbitmq/definitions.json` prints the topology (a
test keeps the committed file equal to what the services declare with default settings).

`python -m services.definitions --users FILE` writes the topology plus one user per
service and an operator, with passwords from the environment stored only as RabbitMQ
password hashes; the broker imports FILE when it boots (docker-compose.yml). With
definitions imported at boot, RabbitMQ creates no guest user.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from services.common import broker
from services.common.config import SERVICES, load_settings
from services.notify.sender import work_queue

VHOST = "loket"


def definitions(vhost: str = VHOST, namespace: str = "") -> dict[str, Any]:
    notify = load_settings("notify", {"LOKET_NAMESPACE": namespace})
    return broker.definitions(
        vhost, notify.delivery_limit, namespace=namespace, work_queues=(work_queue(notify),)
    )


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    salt = secrets.token_bytes(4) if salt is None else salt
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def user_name(namespace: str, service: str) -> str:
    return broker.name(namespace, f"loket_{service}")


def service_permissions(namespace: str, service: str) -> dict[str, str]:
    """What one service may do in the vhost.

    Every process declares the whole topology (decision 0001), so each may configure and
    write (bind, publish) every Loket object. Reading is where services are kept apart:
    a service consumes only its own queues, and reads an exchange only to bind to it.
    """
    prefix = re.escape(broker.name(namespace, "loket"))
    return {
        "configure": f"^{prefix}\\.",
        "write": f"^{prefix}\\.",
        "read": f"^{prefix}\\.(events|dead)$|^{prefix}\\.{service}(\\..*)?$",
    }


def with_users(
    topology: dict[str, Any],
    vhost: str,
    namespace: str,
    passwords: Mapping[str, str],
    operator: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The topology plus a user per service (and an operator for the management UI)."""
    users, permissions = [], []
    for service, password in passwords.items():
        name = user_name(namespace, service)
        users.append(_user(name, password, tags=[]))
        permissions.append(
            {"user": name, "vhost": vhost, **service_permissions(namespace, service)}
        )
    if operator is not None:
        name, password = operator
        users.append(_user(name, password, tags=["administrator"]))
        permissions.append(
            {"user": name, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}
        )
    return {"users": users, "permissions": permissions, **topology}


def _user(name: str, password: str, tags: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "password_hash": password_hash(password),
        "hashing_algorithm": "rabbit_password_hashing_sha256",
        "tags": tags,
        "limits": {},
    }


def deployment(environ: Mapping[str, str]) -> dict[str, Any]:
    """Definitions for docker-compose.yml, from its environment; a missing password is
    an error naming the variable, never a default."""
    missing = [v for v in _password_variables() if not environ.get(v)]
    if missing:
        raise SystemExit(f"loket definitions: set {', '.join(missing)} (see .env.example)")
    passwords = {s: environ[f"LOKET_{s.upper()}_AMQP_PASSWORD"] for s in SERVICES}
    operator = (environ.get("RABBITMQ_ADMIN_USER") or "admin", environ["RABBITMQ_ADMIN_PASSWORD"])
    namespace = environ.get("LOKET_NAMESPACE", "")
    return with_users(definitions(VHOST, namespace), VHOST, namespace, passwords, operator)


def _password_variables() -> list[str]:
    return [f"LOKET_{s.upper()}_AMQP_PASSWORD" for s in SERVICES] + ["RABBITMQ_ADMIN_PASSWORD"]


def main(argv: list[str]) -> int:
    if not argv:
        json.dump(definitions(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if len(argv) != 2 or argv[0] != "--users":
        print("usage: python -m services.definitions [--users FILE]", file=sys.stderr)
        return 2
    path = Path(argv[1])
    path.write_text(json.dumps(deployment(os.environ), indent=2) + "\n")
    print(f"loket definitions: wrote {path} (topology, {len(SERVICES)} service users, operator)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
