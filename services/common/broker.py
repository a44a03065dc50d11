"""RabbitMQ topology and connections (contract section 3).

Every process declares the whole topology. Declarations are idempotent, and a publisher
that starts before its consumers must not find its events unroutable.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Iterator

import pika
from pika.adapters.blocking_connection import BlockingChannel

log = logging.getLogger(__name__)

EVENTS_EXCHANGE = "loket.events"
DEAD_EXCHANGE = "loket.dead"

# Which event types each consuming service receives: the "consumes" column of the
# contract's service table. Routing plumbing, not domain logic.
BINDINGS: dict[str, tuple[str, ...]] = {
    "queue": (
        "ticket.created",
        "ticket.customer_replied",
        "feedback.received",
        "problem.resolved",
        "notification.sent",
        "notification.failed",
    ),
    "notify": ("ticket.*", "survey.requested", "problem.detected"),
    "feedback": ("ticket.created", "ticket.resolved"),
}

# Errors after which the connection is gone and must be made anew.
CONNECTION_ERRORS = (
    pika.exceptions.AMQPConnectionError,
    pika.exceptions.AMQPChannelError,
    pika.exceptions.StreamLostError,
    ConnectionError,
    OSError,
)


def name(namespace: str, base: str) -> str:
    """Prefix a broker object's name so that test runs and tenants never meet."""
    return f"{namespace}.{base}" if namespace else base


def queue_name(namespace: str, service: str) -> str:
    return name(namespace, f"loket.{service}")


def dead_letter_queue_name(namespace: str, service: str) -> str:
    return name(namespace, f"loket.{service}.dead")


def connection_parameters(amqp_url: str, connection_name: str) -> pika.URLParameters:
    params = pika.URLParameters(amqp_url)
    params.heartbeat = 30
    params.blocked_connection_timeout = 30
    params.socket_timeout = 5
    params.stack_timeout = 15
    params.connection_attempts = 1
    params.client_properties = {"connection_name": connection_name}
    return params


def connect(amqp_url: str, connection_name: str) -> pika.BlockingConnection:
    return pika.BlockingConnection(connection_parameters(amqp_url, connection_name))


def declare_topology(channel: BlockingChannel, namespace: str, delivery_limit: int) -> None:
    events = name(namespace, EVENTS_EXCHANGE)
    dead = name(namespace, DEAD_EXCHANGE)
    channel.exchange_declare(events, exchange_type="topic", durable=True)
    channel.exchange_declare(dead, exchange_type="direct", durable=True)
    for service, patterns in BINDINGS.items():
        queue = queue_name(namespace, service)
        dead_queue = dead_letter_queue_name(namespace, service)
        channel.queue_declare(dead_queue, durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(dead_queue, dead, routing_key=service)
        channel.queue_declare(
            queue,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": delivery_limit,
                "x-dead-letter-exchange": dead,
                "x-dead-letter-routing-key": service,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
        for pattern in patterns:
            channel.queue_bind(queue, events, routing_key=pattern)


def backoff_delays(initial: float = 0.5, cap: float = 15.0) -> Iterator[float]:
    """Capped exponential backoff with full jitter, so reconnecting workers spread out."""
    delay = initial
    while True:
        yield random.uniform(initial / 2, delay)
        delay = min(cap, delay * 2)


def wait(stop: threading.Event, seconds: float) -> bool:
    """Sleep unless asked to stop; answers whether the process should go on."""
    return not stop.wait(seconds)
