"""Database and broker clusters of a test's own, started from Debian's binaries on free
ports and thrown away after it: the machine's own PostgreSQL and RabbitMQ, which every
other test and a running desk use, are never stopped or reconfigured."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pika

from tests.support import free_port, wait_until

PG_ROOT = Path("/usr/lib/postgresql")  # Debian's server binaries, one folder per version


def _pg(tool: str) -> Path:
    versions = sorted(PG_ROOT.iterdir()) if PG_ROOT.is_dir() else []
    assert versions, f"PostgreSQL's server binaries are missing under {PG_ROOT}"
    return versions[-1] / "bin" / tool


def _as_postgres(*argv: str | Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """PostgreSQL refuses to run as root: its tools run as the postgres user."""
    command = [str(a) for a in argv]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(command)}: {done.stdout}{done.stderr}"
    return done


class PostgresNode:
    """One PostgreSQL server: a data folder and a port of its own."""

    def __init__(self, root: Path, name: str) -> None:
        self.data = root / name
        self.port = free_port()
        self.root = root
        self.log = root / f"{name}.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        _as_postgres(
            _pg("pg_ctl"), "-D", self.data, "-l", self.log, "-w", "-t", "60",
            "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            _as_postgres(_pg("pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop")

    def promote(self) -> None:
        _as_postgres(_pg("pg_ctl"), "-D", self.data, "-w", "promote")

    def sql(self, statement: str, database: str = "postgres") -> str:
        done = _as_postgres(
            _pg("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            "-d", database, "-AtXq", "-c", statement,
        )  # fmt: skip
        return done.stdout.strip()


@contextlib.contextmanager
def replicated_postgres() -> Iterator[tuple[PostgresNode, PostgresNode]]:
    """A primary and a streaming replica that confirms every commit before it returns
    (synchronous replication: a failover loses no transaction that was answered)."""
    root = Path(tempfile.mkdtemp(prefix="loket-pg-"))
    owner = pwd.getpwnam("postgres")
    os.chown(root, owner.pw_uid, owner.pw_gid)
    primary, replica = PostgresNode(root, "primary"), PostgresNode(root, "replica")
    try:
        _as_postgres(
            _pg("initdb"), "-D", primary.data, "-U", "postgres", "-A", "trust", "--no-sync"
        )
        with (primary.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\n"
                # A test cluster: its data matters only while the test runs.
                "fsync = off\nfull_page_writes = off\n"
            )
        primary.start()
        _as_postgres(
            _pg("pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
            "-U", "postgres", "-D", replica.data, "-R", "-X", "stream", "--no-sync",
        )  # fmt: skip
        replica.start()
        # Set on the primary only after the replica was copied from it: once promoted,
        # the replica has no standby of its own to wait for.
        primary.sql("ALTER SYSTEM SET synchronous_standby_names = '*'")
        primary.sql("SELECT pg_reload_conf()")
        synchronous = "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'"
        wait_until(
            lambda: primary.sql(synchronous) == "1", timeout=60, what="a synchronous replica"
        )
        yield primary, replica
    finally:
        for node in (replica, primary):
            with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
                node.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
RABBITMQ_HOME = Path("/var/lib/rabbitmq")  # its .erlang.cookie: every node shares it


def _as_rabbitmq(env: dict[str, str], *argv: str, timeout: float = 120) -> str:
    command = [str(RABBITMQ_BIN / argv[0]), *argv[1:]]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "rabbitmq", "--", *command]
    done = subprocess.run(
        command, env=env, cwd=RABBITMQ_HOME, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{' '.join(command)}: {done.stdout}{done.stderr}"
    return done.stdout


class RabbitNode:
    """One RabbitMQ node: its own name, ports, data and configuration."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = f"{name}@localhost"
        self.port = free_port()
        self.folder = root / name
        self.folder.mkdir()
        (self.folder / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": str(RABBITMQ_HOME),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_CONFIG_FILE": str(self.folder / "rabbitmq.conf"),
            "RABBITMQ_MNESIA_BASE": str(self.folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.folder / "log"),
            "RABBITMQ_PID_FILE": str(self.folder / "pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "enabled_plugins"),
        }

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def ctl(self, *args: str, timeout: float = 120) -> str:
        return _as_rabbitmq(self.env, "rabbitmqctl", "-q", "-n", self.name, *args, timeout=timeout)

    def start(self) -> None:
        _as_rabbitmq(self.env, "rabbitmq-server", "-detached")
        # A detached node registers with epmd a moment later; until then nothing reaches it.
        wait_until(self._reachable, timeout=60, what=f"{self.name} started")
        self.ctl("await_startup", "--timeout", "120", timeout=150)

    def _reachable(self) -> bool:
        try:
            self.ctl("ping", timeout=30)
        except AssertionError:
            return False
        return True

    def stop(self) -> None:
        self.ctl("stop")

    def kill(self) -> None:
        """SIGKILL: the node's host lost at once, nothing flushed or handed over."""
        os.kill(int((self.folder / "pid").read_text().strip()), 9)

    def configure(self, lines: str) -> None:
        with (self.folder / "rabbitmq.conf").open("a") as conf:
            conf.write(lines)

    def members(self, queue: str) -> list[str]:
        listed = json.loads(self.ctl("list_queues", "name", "members", "--formatter", "json"))
        return next(q["members"] for q in listed if q["name"] == queue)


CLUSTER_CONF = Path(__file__).resolve().parents[1] / "deploy" / "rabbitmq" / "cluster.conf"


def _formation(nodes: list[RabbitNode]) -> str:
    """The Compose profile's cluster formation (deploy/rabbitmq/cluster.conf), its nodes
    (rabbit@rabbitmq, rabbit@rabbitmq-2, ...) replaced by these."""
    conf = CLUSTER_CONF.read_text()
    named = re.findall(r"^cluster_formation\.classic_config\.nodes\.\d+ = (\S+)$", conf, re.M)
    assert len(named) == len(nodes), f"{CLUSTER_CONF} names {len(named)} nodes"
    for compose, node in zip(named, nodes, strict=True):
        conf = conf.replace(f"= {compose}\n", f"= {node.name}\n")
    return conf


@contextlib.contextmanager
def rabbitmq_cluster(size: int = 3) -> Iterator[list[RabbitNode]]:
    """`size` RabbitMQ nodes of Debian's package formed into one cluster on this machine
    the way the Compose profile broker-cluster forms it: the first node starts and holds
    a queue declared before the others exist; the others find it by the profile's peer
    discovery and join; the profile's broker-replicas job's command then gives that queue
    a replica on each (`rabbitmq-queues grow`)."""
    root = Path(tempfile.mkdtemp(prefix="loket-rabbit-"))
    owner = pwd.getpwnam("rabbitmq")
    (root / "enabled_plugins").write_text("[].\n")
    cluster = uuid.uuid4().hex[:6]
    nodes = [RabbitNode(root, f"loket-{cluster}-{n}") for n in range(size)]
    formation = _formation(nodes)
    for node in nodes[1:]:
        node.configure(formation)
    for path in (root, *root.rglob("*")):
        os.chown(path, owner.pw_uid, owner.pw_gid)
    try:
        nodes[0].start()
        early = "loket-declared-before-the-cluster"
        with contextlib.closing(pika.BlockingConnection(pika.URLParameters(nodes[0].url))) as c:
            c.channel().queue_declare(early, durable=True, arguments={"x-queue-type": "quorum"})
        for node in nodes[1:]:
            node.start()
            running = json.loads(nodes[0].ctl("cluster_status", "--formatter", "json"))
            assert node.name in running["running_nodes"], f"{node.name} did not join"
        for node in nodes[1:]:
            _as_rabbitmq(nodes[0].env, "rabbitmq-queues", "-q", "-n", nodes[0].name,
                         "grow", node.name, "all")  # fmt: skip
        assert sorted(nodes[0].members(early)) == sorted(n.name for n in nodes)
        nodes[0].ctl("delete_queue", early)
        yield nodes
    finally:
        for node in nodes:
            with contextlib.suppress(Exception):
                node.kill()
        shutil.rmtree(root, ignore_errors=True)
