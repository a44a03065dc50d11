"""The README's "Try it" commands, taken from the README itself and run as written
against a desk (only the key placeholder and the ports of this test run filled in)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from tests.support import REPO, wait_until


def try_it_commands() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Try it", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)


def bash(script: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_readmes_try_it_runs_as_written(desk, tmp_path):
    commands = try_it_commands()
    assert commands.startswith("make run\n")  # run here by the desk fixture instead
    script = commands.removeprefix("make run\n")
    script = script.replace("lkt_...", desk.keys["portal"])
    for service, default in (("intake", 8001), ("queue", 8002)):
        script = script.replace(f"http://127.0.0.1:{default}", desk.urls[service])
    *first, last = [line for line in script.strip().split("\n# ")]
    submitted = bash("\n# ".join(first), tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    answer = json.loads((tmp_path / "answer.json").read_text())
    assert answer["status"] == "received", answer
    # The ticket reaches the queue a moment later, as it does for the reader.
    follow = "# " + last
    tracked = wait_until(
        lambda: (
            (done := bash(follow, tmp_path)).returncode == 0
            and '"status":"queued"' in done.stdout.replace(" ", "")
            and done
        ),
        timeout=30,
        what="the README's tracking command to show the request",
    )
    assert json.loads(tracked.stdout)["reference"] == answer["reference"]
