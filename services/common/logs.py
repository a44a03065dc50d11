"""One log format for every process, naming the service and the process kind."""

from __future__ import annotations

import logging
import os
import sys


def configure(process: str) -> None:
    level = os.environ.get("LOKET_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level if level in logging.getLevelNamesMapping() else "INFO",
        stream=sys.stderr,
        format=f"%(asctime)s %(levelname)s [{process}] %(name)s: %(message)s",
        force=True,
    )
    # pika logs every reconnect attempt at length; its warnings are enough.
    logging.getLogger("pika").setLevel(logging.WARNING)
