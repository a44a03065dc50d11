"""Every log line is one line, free of terminal escapes, whatever a message carries."""

import logging

from services.common.logs import EscapingFormatter, escape_controls


def record(message: str, *args: object, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("loket", logging.INFO, __file__, 1, message, args, exc_info)


def test_control_characters_in_a_message_are_written_as_escapes():
    formatter = EscapingFormatter("%(levelname)s %(message)s")
    line = formatter.format(record("not found: %s", "/x\n2026 INFO forged\x1b[2J\r\x85\u2028"))
    assert line == "INFO not found: /x\\n2026 INFO forged\\x1b[2J\\r\\x85\\u2028"
    assert escape_controls("Jürgen, 東京, café") == "Jürgen, 東京, café"


def test_a_traceback_keeps_its_lines_but_not_an_attackers_escapes():
    try:
        raise ValueError("bad\x1b[31m value\nforged line")
    except ValueError as exc:
        line = EscapingFormatter("%(message)s").format(
            record("failed", exc_info=(type(exc), exc, exc.__traceback__))
        )
    assert line.startswith("failed\nTraceback (most recent call last):\n")
    assert "\x1b" not in line and "bad\\x1b[31m value" in line
