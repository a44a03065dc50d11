"""RabbitMQ topology and connections (contract section 3).

Every process declares the whole topology. Declarations are idempotent, and a publisher
that starts before its consumers must not find its events unroutable.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

from services.common.config import node_urls

log = logging.getLogger(__name__)

EVENTS_EXCHANGE = "loket.events"
DEAD_EXCHANGE = "loket.dead"

# Which event types each consuming service receives: the "consumes" column of the
# contract's service table. Routing plumbing, not domain logic.
BINDINGS: dict[str, tuple[str, ...]] = {
    "intake": ("ticket.status_changed",),
    "queue": (
        "ticket.created",
        "ticket.customer_replied",
        "appointment.checked_in",
        "appointment.cancelled",
        "appointment.moved",
        "feedback.received",
        "problem.resolved",
        "notification.sent",
        "notification.failed",
    ),
    "notify": ("ticket.*", "appointment.moved", "survey.requested", "problem.detected"),
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
    """A connection to the broker; `amqp_url` may name the nodes of a cluster
    (`config.node_urls`): they are tried in a random order (so that a desk's connections
    spread over the nodes) and the first that answers is taken."""
    nodes = [connection_parameters(url, connection_name) for url in node_urls(amqp_url)]
    random.shuffle(nodes)
    return pika.BlockingConnection(nodes)


def queue_arguments(namespace: str, service: str, delivery_limit: int) -> dict[str, Any]:
    """A quorum queue that dead-letters, at least once, after an explicit delivery limit."""
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": name(namespace, DEAD_EXCHANGE),
        "x-dead-letter-routing-key": service,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


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
            queue, durable=True, arguments=queue_arguments(namespace, service, delivery_limit)
        )
        for pattern in patterns:
            channel.queue_bind(queue, events, routing_key=pattern)


@dataclass(frozen=True)
class WorkQueue:
    """A service's own queue of jobs, with delay queues that hand a job back after a wait.

    Retrying later is publishing the job with a delay's routing key: the delay queue holds
    it for its TTL and then dead-letters it back to the work queue. One queue per delay, so
    a long wait never holds up a short one (TTLs expire at a queue's head only).
    """

    service: str
    purpose: str
    delays_ms: tuple[int, ...]

    NOW = "now"

    def exchange(self, namespace: str) -> str:
        return name(namespace, f"loket.{self.service}.{self.purpose}")

    def queue(self, namespace: str) -> str:
        return self.exchange(namespace)

    def delay_queue(self, namespace: str, delay_ms: int) -> str:
        return f"{self.queue(namespace)}.delay.{delay_ms}"

    @staticmethod
    def delay_key(delay_ms: int) -> str:
        return f"delay.{delay_ms}"

    def objects(
        self, namespace: str, delivery_limit: int
    ) -> tuple[str, list[tuple[str, dict[str, Any], str]]]:
        """The exchange, and each queue with its arguments and binding key."""
        exchange = self.exchange(namespace)
        queues = [
            (
                self.queue(namespace),
                queue_arguments(namespace, self.service, delivery_limit),
                self.NOW,
            )
        ]
        for delay in sorted(set(self.delays_ms)):
            arguments = {
                "x-queue-type": "quorum",
                "x-message-ttl": delay,
                "x-dead-letter-exchange": exchange,
                "x-dead-letter-routing-key": self.NOW,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            }
            queues.append((self.delay_queue(namespace, delay), arguments, self.delay_key(delay)))
        return exchange, queues

    def declare(self, channel: BlockingChannel, namespace: str, delivery_limit: int) -> None:
        declare_topology(channel, namespace, delivery_limit)
        exchange, queues = self.objects(namespace, delivery_limit)
        channel.exchange_declare(exchange, exchange_type="direct", durable=True)
        for queue, arguments, key in queues:
            channel.queue_declare(queue, durable=True, arguments=arguments)
            channel.queue_bind(queue, exchange, routing_key=key)


def backoff_delays(initial: float = 0.5, cap: float = 15.0) -> Iterator[float]:
    """Capped exponential backoff with full jitter, so reconnecting workers spread out."""
    delay = initial
    while True:
        yield random.uniform(initial / 2, delay)
        delay = min(cap, delay * 2)


def wait(stop: threading.Event, seconds: float) -> bool:
    """Sleep unless asked to stop; answers whether the process should go on."""
    return not stop.wait(seconds)


Session = Callable[[pika.BlockingConnection, Callable[[], None]], None]


def stay_connected(amqp_url: str, name: str, stop: threading.Event, session: Session) -> None:
    """Run `session` on a connection named `name` until asked to stop.

    While the broker is unreachable, or after it went away, the connection is made again
    with backoff; the session calls the function it is given once it is set up (its
    topology declared), which starts the backoff afresh. Whatever the session leaves
    open is closed before the next try; a bug in it is logged and retried the same way.
    """
    delays = backoff_delays()

    def connected() -> None:
        nonlocal delays
        delays = backoff_delays()

    while not stop.is_set():
        try:
            connection = connect(amqp_url, name)
        except CONNECTION_ERRORS as exc:
            log.warning("%s: broker unreachable (%s); retrying", name, type(exc).__name__)
            wait(stop, next(delays))
            continue
        try:
            session(connection, connected)
        except CONNECTION_ERRORS as exc:
            log.warning("%s: lost the broker (%s); reconnecting", name, type(exc).__name__)
            wait(stop, next(delays))
        except Exception:
            log.exception("%s: unexpected error; reconnecting", name)
            wait(stop, next(delays))
        finally:
            if connection.is_open:
                with contextlib.suppress(*CONNECTION_ERRORS):
                    connection.close()


def definitions(
    vhost: str,
    delivery_limit: int,
    namespace: str = "",
    work_queues: tuple[WorkQueue, ...] = (),
) -> dict[str, Any]:
    """The topology as a RabbitMQ definitions document, for operators who pre-declare it.

    Users are not in it: the broker's operator creates them with their own passwords.
    """
    events = name(namespace, EVENTS_EXCHANGE)
    dead = name(namespace, DEAD_EXCHANGE)
    exchanges = [
        {
            "name": n,
            "vhost": vhost,
            "type": t,
            "durable": True,
            "auto_delete": False,
            "internal": False,
            "arguments": {},
        }
        for n, t in ((events, "topic"), (dead, "direct"))
    ]
    queues, bindings = [], []
    for service, patterns in BINDINGS.items():
        queue, dead_queue = (
            queue_name(namespace, service),
            dead_letter_queue_name(namespace, service),
        )
        queues.append(
            {
                "name": dead_queue,
                "vhost": vhost,
                "durable": True,
                "auto_delete": False,
                "arguments": {"x-queue-type": "quorum"},
            }
        )
        queues.append(
            {
                "name": queue,
                "vhost": vhost,
                "durable": True,
                "auto_delete": False,
                "arguments": queue_arguments(namespace, service, delivery_limit),
            }
        )
        bindings.append(
            {
                "source": dead,
                "vhost": vhost,
                "destination": dead_queue,
                "destination_type": "queue",
                "routing_key": service,
                "arguments": {},
            }
        )
        bindings.extend(
            {
                "source": events,
                "vhost": vhost,
                "destination": queue,
                "destination_type": "queue",
                "routing_key": pattern,
                "arguments": {},
            }
            for pattern in patterns
        )
    for work in work_queues:
        exchange, work_queue_list = work.objects(namespace, delivery_limit)
        exchanges.append(
            {
                "name": exchange,
                "vhost": vhost,
                "type": "direct",
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": {},
            }
        )
        for queue, arguments, key in work_queue_list:
            queues.append(
                {
                    "name": queue,
                    "vhost": vhost,
                    "durable": True,
                    "auto_delete": False,
                    "arguments": arguments,
                }
            )
            bindings.append(
                {
                    "source": exchange,
                    "vhost": vhost,
                    "destination": queue,
                    "destination_type": "queue",
                    "routing_key": key,
                    "arguments": {},
                }
            )
    return {
        "vhosts": [{"name": vhost}],
        "exchanges": exchanges,
        "queues": queues,
        "bindings": bindings,
    }
