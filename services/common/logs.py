"""One log format for every process, naming the service and the process kind."""

from __future__ import annotations

import logging
import os
import sys

# Every control character a message may carry (C0, DEL, C1, the Unicode line and
# paragraph separators), written as an escape: a decoded path with `%0a` or ESC in it
# must not forge a line of its own or drive the reader's terminal.
_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}
_ESCAPES |= {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}
_ESCAPES |= {0x2028: "\\u2028", 0x2029: "\\u2029"}
# A traceback keeps its own lines; anything else in it is escaped.
_TRACEBACK_ESCAPES = {code: text for code, text in _ESCAPES.items() if code != ord("\n")}


def escape_controls(text: str) -> str:
    return text.translate(_ESCAPES)


class EscapingFormatter(logging.Formatter):
    """The one formatter of every log line: Python's and gunicorn's (access lines too)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: object) -> str:
        return super().formatException(ei).translate(_TRACEBACK_ESCAPES)

    def formatStack(self, stack_info: str) -> str:
        return stack_info.translate(_TRACEBACK_ESCAPES)


def configure(process: str) -> None:
    level = os.environ.get("LOKET_LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        EscapingFormatter(f"%(asctime)s %(levelname)s [{process}] %(name)s: %(message)s")
    )
    logging.basicConfig(
        level=level if level in logging.getLevelNamesMapping() else "INFO",
        handlers=[handler],
        force=True,
    )
    # pika logs every reconnect attempt at length; its warnings are enough.
    logging.getLogger("pika").setLevel(logging.WARNING)
