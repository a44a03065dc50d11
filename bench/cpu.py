"""Where the machine's CPU goes during a benchmark: seconds per process group, from /proc.

Groups: each Loket process the launcher started (`intake-web`, `queue-worker`, ...; a
gunicorn worker counts with its master), PostgreSQL, RabbitMQ, and the benchmark itself.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> tuple[int, float, float] | None:
    """(parent pid, own CPU seconds, reaped children's CPU seconds)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces; the fields after its closing parenthesis do not.
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return int(fields[1]), (utime + stime) / TICKS, (cutime + cstime) / TICKS


def _cmdline(pid: str) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _own_label(argv: list[str], launcher_pid: int, pid: int) -> str | None:
    if pid == os.getpid():
        return "benchmark"
    if pid == launcher_pid:
        return "launcher"
    name = Path(argv[0]).name if argv and argv[0] else ""
    if name == "postgres" or (argv and argv[0].startswith("postgres:")):
        return "postgresql"
    if name in ("beam.smp", "erl_child_setup", "epmd", "inet_gethost"):
        return "rabbitmq"
    for arg in argv:  # gunicorn's master and workers: services.<service>.app:create_app()
        if arg.startswith("services.") and arg.endswith(".app:create_app()"):
            return f"{arg.split('.')[1]}-web"
        if arg == "bench.bare_app:create_app()":  # the baselines' bare endpoint
            return "bare-web"
    if "services" in argv:
        at = argv.index("services")
        if len(argv) > at + 2:
            return f"{argv[at + 1]}-{argv[at + 2]}"
    return None


def snapshot(launcher_pid: int) -> dict[str, float]:
    """CPU seconds used so far by each group (children reaped by PostgreSQL included)."""
    procs = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(entry)) is not None:
            procs[int(entry)] = (stat, _cmdline(entry))
    labels: dict[int, str | None] = {
        pid: _own_label(argv, launcher_pid, pid) for pid, (_, argv) in procs.items()
    }

    def label_of(pid: int) -> str | None:
        seen = set()
        while pid in procs and pid not in seen:
            if labels[pid] is not None:
                return labels[pid]
            seen.add(pid)
            pid = procs[pid][0][0]
        return None

    totals: dict[str, float] = defaultdict(float)
    for pid, ((_parent, own, children), _argv) in procs.items():
        label = label_of(pid)
        if label is None:
            continue
        totals[label] += own
        if label == "postgresql":
            totals[label] += children  # backends that ended were reaped by the postmaster
    return dict(totals)


def report(before: dict[str, float], after: dict[str, float], per: int, wall: float) -> str:
    """CPU milliseconds per unit of work for every group, busiest first."""
    used = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    lines = [
        f"CPU per accepted request ({per} requests, {wall:.1f} s wall, "
        f"{sum(used.values()) / wall:.2f} of {os.cpu_count()} cores busy):"
    ]
    for label, seconds in sorted(used.items(), key=lambda item: -item[1]):
        if seconds > 0:
            lines.append(f"  {label:16} {seconds * 1000 / max(per, 1):6.2f} ms")
    lines.append(f"  {'all':16} {sum(used.values()) * 1000 / max(per, 1):6.2f} ms")
    return "\n".join(lines)
