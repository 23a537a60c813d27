"""Log lines for `kitchen run`: one event per line, whatever a message, a name or an error contains.

A newline inside an exception message or an oven name must not forge a second log line, so text lines
escape every control character; JSON lines are single lines by construction and carry the traceback as a
field.
"""

from __future__ import annotations

import json
import logging
import os
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(text: str) -> str:
    """Control characters as visible escapes: '\\n', '\\t', '\\x1b'."""
    return _CONTROL.sub(lambda m: {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(m.group(), f"\\x{ord(m.group()):02x}"),
                        text)


class TextFormatter(logging.Formatter):
    """``HH:MM:SS LEVEL [pid] message``, one physical line per record (a traceback included)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s [%(process)d] %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        return one_line(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: at, level, logger, pid, message, and traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"at": round(record.created, 3), "level": record.levelname.lower(), "logger": record.name,
               "pid": os.getpid(), "message": record.getMessage()}
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out)
