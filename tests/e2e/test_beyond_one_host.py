"""Beyond one host (issue 22), each under a steady stream of requests on every channel: a
backup taken and restored, a database failed over to its replica, a broker node lost
from a three-node cluster; nothing lost and nothing applied twice. Run alone with
`pytest -m beyond_one_host`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, func, select, text

from services.common.config import SERVICES
from services.common.db import migrate
from services.notify import storage as notify_storage
from services.queue import storage as queue_storage
from tests import support
from tests.clusters import rabbitmq_cluster, replicated_postgres
from tests.e2e.fleet import (
    CHANNELS,
    Desk,
    Stream,
    environment,
    one_confirmation_each,
    outboxes_emptied,
    settled,
    tickets_in_queue,
)
from tests.receivers import smtp_receiver
from tests.support import bearer, valid_request, wait_until

pytestmark = pytest.mark.beyond_one_host


def _backup(command: str, folder: Path, env: Mapping[str, str]) -> str:
    done = subprocess.run(
        [*support.python_module("services.backup"), command, str(folder)],
        cwd=support.REPO, env=dict(env), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _count(url: str, statement) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(statement).all()
    finally:
        engine.dispose()


def test_a_backup_taken_under_load_restores_every_request_from_before_it(
    namespaces, databases, tmp_path: Path
):
    support.require_postgres()
    keys = support.write_keys(tmp_path / "api-keys.yaml")
    folder = tmp_path / "backup"
    with smtp_receiver() as smtp:
        urls = {s: databases.url("postgresql", s) for s in SERVICES}
        old = Desk(*environment(namespaces(), tmp_path, smtp.url, urls))
        try:
            old.start_all()
            with Stream(
                f"{old.urls['intake']}/v1/requests", keys["portal"], old.env["LOKET_NAMESPACE"]
            ) as stream:
                stream.wait_for_more(12)
                before = dict(stream.accepted)  # answered 201 before the backup began
                print(_backup("dump", folder, old.env))
                stream.wait_for_more(12)  # the desk went on while it was taken
        finally:
            old.stop()
        sent_before = {m["To"]: m["Message-ID"] for m in smtp.messages}

    # The host is lost with its broker: fresh, empty databases and another namespace.
    with smtp_receiver() as smtp:
        urls = {s: databases.url("postgresql", s, migrated=False) for s in SERVICES}
        new = Desk(*environment(namespaces(), tmp_path, smtp.url, urls))
        print(_backup("restore", folder, new.env))
        try:
            new.start_all()
            wait_until(
                lambda: set(before) <= set(tickets_in_queue(new.env)),
                timeout=120,
                what="every request from before the backup in the queue",
            )
            outboxes_emptied(new, timeout=60)
            # Every customer from before the backup has their confirmation: sent by the
            # old desk, or by the new one if the old had not recorded it by the backup
            # (then with the same Message-ID, which a mailbox shows once).
            wait_until(
                lambda: all(
                    a in sent_before or any(m["To"] == a for m in smtp.messages)
                    for a in before.values()
                ),
                timeout=120,
                what="a confirmation to every customer from before the backup",
            )
            sent_after = [(m["To"], m["Message-ID"]) for m in smtp.messages]
        finally:
            new.stop()

    tickets = tickets_in_queue(new.env)
    assert len(tickets) == len(set(tickets))
    # Nothing applied twice: one arrival in each ticket's history, one confirmation
    # planned per ticket, although the restore published the recent events again.
    history, deliveries = queue_storage.history, notify_storage.deliveries
    for url, rows, kept in (
        (new.env["LOKET_QUEUE_DATABASE_URL"], history, history.c.kind == "created"),
        (new.env["LOKET_NOTIFY_DATABASE_URL"], deliveries, deliveries.c.template == "received"),
    ):
        per_ticket = _count(
            url, select(rows.c.ticket_id, func.count()).where(kept).group_by(rows.c.ticket_id)
        )
        assert per_ticket and all(n == 1 for _, n in per_ticket), rows.name
    for address, message_id in sent_after:
        assert sent_before.get(address, message_id) == message_id
    print(
        f"{len(before)} requests before the backup, {len(tickets)} restored; "
        f"confirmations sent again after the restore: "
        f"{sum(a in sent_before for a, _ in sent_after)}"
    )


def test_a_database_failed_over_to_its_replica_under_load_loses_no_accepted_request(
    namespace, tmp_path: Path
):
    keys = support.write_keys(tmp_path / "api-keys.yaml")
    with replicated_postgres() as (primary, replica), smtp_receiver() as smtp:
        # Both servers in every URL: libpq takes the first that accepts writes.
        hosts = f"host={primary.address}&host={replica.address}&target_session_attrs=read-write"
        urls = {}
        for service in SERVICES:
            primary.sql(f"CREATE DATABASE loket_{service}")
            urls[service] = f"postgresql+psycopg://postgres@/loket_{service}?{hosts}"
            migrate(service, urls[service])
        desk = Desk(*environment(namespace, tmp_path, smtp.url, urls))
        try:
            desk.start_all()
            with Stream(f"{desk.urls['intake']}/v1/requests", keys["portal"], namespace) as stream:
                stream.wait_for_more(12)
                primary.stop("immediate")  # the primary's host is lost, mid-transaction
                replica.promote()
                stream.wait_for_more(24)
            accepted = dict(stream.accepted)
            assert stream.unexpected == []
            settled(desk, accepted)
            one_confirmation_each(accepted, smtp)
        finally:
            desk.stop()
    print(
        f"accepted {len(accepted)} requests across the failover; answered 'try again' and "
        f"accepted when sent again: {dict(stream.refusals)}"
    )


def _leader(nodes: list, queue: str) -> object:
    """The node that leads `queue`'s replicas, asked of a node that is running."""
    for asking in nodes:
        try:
            listed = json.loads(asking.ctl("list_queues", "name", "leader", "--formatter", "json"))
        except AssertionError:
            continue  # that node is down
        leader = next(q["leader"] for q in listed if q["name"] == queue)
        return next(n for n in nodes if n.name == leader)
    raise AssertionError("no node answers")


def _queues_of(node, namespace: str) -> list[dict]:
    listed = node.ctl(
        "list_queues", "name", "messages", "messages_unacknowledged", "--formatter", "json"
    )
    return [q for q in json.loads(listed) if q["name"].startswith(f"{namespace}.")]


def test_a_broker_node_lost_under_load_with_two_workers_each_loses_and_doubles_nothing(
    namespace, databases, tmp_path: Path
):
    support.require_postgres()
    keys = support.write_keys(tmp_path / "api-keys.yaml")
    with rabbitmq_cluster(3) as nodes, smtp_receiver() as smtp:
        urls = {s: databases.url("postgresql", s) for s in SERVICES}
        env, addresses = environment(namespace, tmp_path, smtp.url, urls)
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in nodes)
        env["LOKET_AMQP_URL"] = f"amqp://guest:guest@{hosts}/%2F"  # as Compose's profile
        desk = Desk(env, addresses)
        queue = f"{namespace}.loket.queue"
        try:
            desk.start_all()
            for service in SERVICES:  # two workers of each service compete for its events
                desk.start(service, "worker", another=True)
            with Stream(f"{desk.urls['intake']}/v1/requests", keys["portal"], namespace) as stream:
                stream.wait_for_more(12)
                stopped = _leader(nodes, queue)
                stopped.stop()  # the leader of the queue's replicas shut down
                stream.wait_for_more(12)
                stopped.start()  # it comes back and rejoins
                stream.wait_for_more(12)
                killed = _leader(nodes, queue)
                killed.kill()  # and the new leader's host is lost at once
                stream.wait_for_more(12)
            accepted = dict(stream.accepted)
            assert stream.unexpected == []
            # Processes were connected to the lost nodes and moved to another.
            assert desk.logged("lost the broker"), "no process was on a lost node"
            survivor = next(n for n in nodes if n is not killed)
            members = json.loads(
                survivor.ctl("list_queues", "name", "members", "--formatter", "json")
            )
            assert all(len(q["members"]) == 3 for q in members if q["name"] == queue)
            settled(desk, accepted)
            one_confirmation_each(accepted, smtp)
            # Nothing waits or is held unacknowledged in any queue, and nothing was
            # dead-lettered.
            wait_until(
                lambda: all(
                    q["messages"] == 0 and q["messages_unacknowledged"] == 0
                    for q in _queues_of(survivor, namespace)
                ),
                timeout=60,
                what="every queue empty and acknowledged",
            )
        finally:
            desk.stop()
    print(
        f"accepted {len(accepted)} requests while {stopped.name} stopped and {killed.name} "
        f"was killed; answered 'try again': {dict(stream.refusals)}"
    )


def test_fair_order_holds_with_two_queue_web_processes_and_two_queue_workers(
    namespace, databases, tmp_path: Path
):
    support.require_postgres()
    keys = support.write_keys(tmp_path / "api-keys.yaml")
    agent = bearer(keys["agent"])
    with smtp_receiver() as smtp:
        urls = {s: databases.url("postgresql", s) for s in SERVICES}
        desk = Desk(*environment(namespace, tmp_path, smtp.url, urls))
        try:
            desk.start_all()
            desk.start("queue", "worker", another=True)
            queue_webs = [desk.urls["queue"], desk.start("queue", "web", another=True)]
            # Twelve requests, every channel, three priorities, arriving one after another:
            # the two workers take their ticket.created events in whatever order.
            sent = []
            for n, (channel, impact) in enumerate(
                zip(CHANNELS * 2, ["low", "medium", "high"] * 4, strict=True)
            ):
                body = valid_request(
                    channel=channel, impact=impact, urgency=impact,
                    requester={"name": "Ann", "email": f"order-{n}@example.org"},
                )  # fmt: skip
                answer = requests.post(
                    f"{desk.urls['intake']}/v1/requests",
                    json=body, headers=bearer(keys["portal"]), timeout=10,
                )  # fmt: skip
                assert answer.status_code == 201, answer.text
                sent.append(answer.json()["id"])
            wait_until(
                lambda: set(sent) <= set(tickets_in_queue(desk.env)),
                timeout=60,
                what="every request in the queue",
            )
            waiting = [
                requests.get(f"{queue_webs[0]}/v1/tickets/{t}", headers=agent, timeout=10).json()
                for t in sent
            ]
            # Fair order, asked of the two web processes in turn: due time, then arrival
            # (what `next` promises, whichever worker stored the ticket).
            fair = [t["id"] for t in sorted(waiting, key=lambda t: (t["due_at"], t["created_at"]))]
            taken = []
            for n in range(len(sent)):
                answer = requests.post(
                    f"{queue_webs[n % 2]}/v1/queues/frontoffice/next", headers=agent, timeout=10
                )
                assert answer.status_code == 200, answer.text
                taken.append(answer.json()["id"])
            assert taken == fair
            assert len({t["priority"] for t in waiting}) == 3
        finally:
            desk.stop()


# Migration 0004 of the queue (claims learn who, which ticket and until when) is an
# expand: the queue's code from before it must keep running on it. 0005 is its contract
# step (every claim names its agent and ticket), for once that code is gone.
EXPAND = "services/queue/migrations/versions/0004_handling_times.py"
CONTRACT = "services/queue/migrations/versions/0005_claims_name_agent_and_ticket.py"


def _added(path: str) -> str:
    """The commit that added a file."""
    added = subprocess.run(
        ["git", "-C", str(support.REPO), "log", "--diff-filter=A", "--format=%H", "--", path],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return added.stdout.split()[-1]


def _code_at(commit: str, folder: Path) -> Path:
    """The services' code as it was at a commit, unpacked from git."""
    archive = subprocess.run(
        ["git", "-C", str(support.REPO), "archive", commit, "services", "config", "deploy"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    folder.mkdir()
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def _take(web: str, agent: dict[str, str]) -> str:
    taken = requests.post(f"{web}/v1/queues/frontoffice/next", headers=agent, timeout=10)
    assert taken.status_code == 200, taken.text
    return taken.json()["id"]


def _resolve(web: str, agent: dict[str, str], ticket_id: str) -> None:
    resolved = requests.post(
        f"{web}/v1/tickets/{ticket_id}/status",
        json={"to": "resolved", "public_note": "Done."}, headers=agent, timeout=10,
    )  # fmt: skip
    assert resolved.status_code == 200, resolved.text


def _claims(url: str) -> dict[str, tuple]:
    claims = queue_storage.claims.c
    rows = _count(url, select(claims.ticket_id, claims.agent, claims.ended_at))
    return {ticket: (agent, ended is not None) for ticket, agent, ended in rows}


def test_an_expand_then_contract_migration_under_old_and_new_queue_code(
    namespace, databases, tmp_path: Path
):
    support.require_postgres()
    keys = support.write_keys(tmp_path / "api-keys.yaml")
    # The code from before the expand, and the code that came with the contract (later
    # code needs later migrations, which come after the contract).
    old_code = _code_at(f"{_added(EXPAND)}^", tmp_path / "old")
    new_code = _code_at(_added(CONTRACT), tmp_path / "new")
    agent = bearer(keys["agent"])
    with smtp_receiver() as smtp:
        urls = {s: databases.url("postgresql", s, migrated=s != "queue") for s in SERVICES}
        desk = Desk(*environment(namespace, tmp_path, smtp.url, urls))
        old = Desk(desk.env, desk.urls, cwd=old_code)
        new = Desk(desk.env, desk.urls, cwd=new_code)
        migrated = subprocess.run(
            [*support.python_module("services", "queue", "migrate")],
            cwd=old_code, env=desk.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        version = text("SELECT version_num FROM alembic_version")
        assert _count(urls["queue"], version) == [("0003",)]  # the old code's schema
        try:
            old_web = old.start("queue", "web")
            old.start("queue", "worker")
            for service in ("intake", "notify", "feedback"):
                desk.start(service, "web")
                desk.start(service, "worker")
            with Stream(f"{desk.urls['intake']}/v1/requests", keys["portal"], namespace) as stream:
                stream.wait_for_more(12)
                # The old code claims two tickets (claims naming no one) and resolves one.
                working, done = _take(old_web, agent), _take(old_web, agent)
                _resolve(old_web, agent, done)
                migrate("queue", urls["queue"], revision="0004")  # expand, old code running
                assert _count(urls["queue"], version) == [("0004",)]
                stream.wait_for_more(12)
                new_web = new.start("queue", "web", another=True)
                new.start("queue", "worker", another=True)
                stream.wait_for_more(12)  # old and new queue workers compete
                old.stop()
                stream.wait_for_more(12)
                migrate("queue", urls["queue"], revision="0005")  # contract, no old code runs
                assert _count(urls["queue"], version) == [("0005",)]
                stream.wait_for_more(12)
            accepted = dict(stream.accepted)
            assert stream.unexpected == []
            settled(desk, accepted)
            one_confirmation_each(accepted, smtp)
            # The old code's claims now name the agent and the ticket, the resolved one
            # with the end of the work; the new code ends the other when it resolves it.
            tickets = queue_storage.tickets.c
            [(who,)] = _count(urls["queue"], select(tickets.assigned_to).where(tickets.id == done))
            claims = _claims(urls["queue"])
            assert claims[working] == (who, False) and claims[done] == (who, True)
            _resolve(new_web, agent, working)
            assert _claims(urls["queue"])[working] == (who, True)
            # And works the tickets the old code stored.
            _resolve(new_web, agent, _take(new_web, agent))
        finally:
            old.stop()
            new.stop()
            desk.stop()
    print(f"accepted {len(accepted)} requests across the expand and the contract")
