"""Prints the RabbitMQ definitions of the whole topology, for deploy/rabbitmq/.

`python -m services.definitions > deploy/rabbitmq/definitions.json`; a test keeps the
committed file equal to what the services declare with their default settings.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from services.common import broker
from services.common.config import load_settings
from services.notify.sender import work_queue


def definitions() -> dict[str, Any]:
    notify = load_settings("notify", {})
    return broker.definitions("loket", notify.delivery_limit, work_queues=(work_queue(notify),))


if __name__ == "__main__":
    json.dump(definitions(), sys.stdout, indent=2)
    sys.stdout.write("\n")
