"""Log lines for `kitchen run`: one event per line, whatever a message, a name or an error contains.

A newline inside an exception message or an oven name must not forge a second log line, so text lines
escape every control character; JSON lines are single lines by construction and carry the order's fields
(``order``, ``recipe``, ``attempt``, ``oven``, ``event``) and the traceback.

Formatting and writing happen on a listener thread: the oven's loop only puts the record on a queue, so a
slow terminal or pipe never holds up cooking. Kitchen adds its handler only when the application has none
(used as a library, it leaves the application's logging alone and sets only the ``kitchen`` logger's level).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import queue
import re
import sys
import threading
from collections.abc import Iterator
from logging.handlers import QueueHandler, QueueListener

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(text: str) -> str:
    """Control characters as visible escapes: '\\n', '\\t', '\\x1b'."""
    return _CONTROL.sub(lambda m: {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(m.group(), f"\\x{ord(m.group()):02x}"),
                        text)


ORDER_FIELDS = ("order", "recipe", "attempt", "oven", "event")  # kitchen.ovens.oven_log.FIELDS
SUMMARY_FIELDS = ("cooked", "retried", "burnt", "refused", "oldest_waiting")
BRIEF_EVENTS = frozenset({"retry", "burnt"})  # a recipe's failure: its message is in the line already
HOLD_TIMEOUT = 1.0  # seconds a fork waits for the log writer to finish its line


class TextFormatter(logging.Formatter):
    """``HH:MM:SS LEVEL [pid] message``, one physical line per record (a traceback included, except a
    recipe's own failure, whose error is in the message: ``--log-json`` carries that traceback)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s [%(process)d] %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and getattr(record, "event", None) in BRIEF_EVENTS:
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        return one_line(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: at, level, logger, pid, message, and traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"at": round(record.created, 3), "level": record.levelname.lower(), "logger": record.name,
               "pid": os.getpid(), "message": record.getMessage()}
        for name in ORDER_FIELDS + SUMMARY_FIELDS:
            if hasattr(record, name):
                out[name] = getattr(record, name)
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        elif stored := getattr(record, "traceback", None):  # a recipe's failure, as stored with its order
            out["traceback"] = stored
        return json.dumps(out, default=str)


class _Handoff(QueueHandler):
    """Puts the record itself on the queue: formatted later, on the listener thread (the stock prepare()
    formats here, on the caller's thread, and drops the traceback the JSON lines carry)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


class LogWriter:
    """The writer thread behind the queue; ``stop`` writes out what is queued, whichever thread asks.

    A hard stop exits with ``os._exit`` from the watchdog thread while the main thread, its loop ended by that
    same stop, may be stopping the writer too: a second ``stop`` that returned at once let the process end
    before the writer thread had written the oven's last lines ("ran over its limit", "handing its orders
    back"). So every ``stop`` waits for the first to finish, then writes any record queued after it itself.
    """

    def __init__(self, listener: QueueListener, records: queue.SimpleQueue[logging.LogRecord]) -> None:
        self._listener = listener
        self._records = records
        self._running = True
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def held(self, timeout: float = HOLD_TIMEOUT) -> Iterator[bool]:
        """Keep the writer thread between two lines (a fork inside must not copy a half-held stream lock).
        Yields False, holding nothing, when the writer stayed in a line for ``timeout`` seconds (a full pipe,
        a paused terminal): the caller must not wait on it."""
        with contextlib.ExitStack() as stack:
            for handler in self._listener.handlers:
                if not handler.lock or not handler.lock.acquire(timeout=timeout):
                    stack.close()
                    yield False
                    return
                stack.callback(handler.lock.release)
            yield True

    def stop(self, timeout: float | None = None) -> None:
        """``timeout``: at most this long for another thread's stop (a hard stop must still exit if the
        writer is stuck on a full pipe or a paused terminal)."""
        if not self._lock.acquire(timeout=-1 if timeout is None else timeout):
            return
        try:
            if self._running:
                self._running = False
                self._listener.stop()
            while True:
                try:
                    record = self._records.get_nowait()
                except queue.Empty:
                    return
                self._listener.handle(record)
        finally:
            self._lock.release()


def install(level: str, as_json: bool, *, ours: bool = False) -> LogWriter | None:
    """Log to stderr through a queue and a writer thread, unless the application has root handlers already
    (then only the ``kitchen`` logger's level is set). Returns the writer (stop it to flush), or None.
    ``ours``: the process is kitchen's own (a forked oven), whatever handlers its recipe modules added."""
    root = logging.getLogger()
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    if root.handlers and not ours:
        logging.getLogger("kitchen").setLevel(level.upper())
        return None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = QueueListener(records, handler)
    listener.start()
    writer = LogWriter(listener, records)
    root.addHandler(_Handoff(records))
    root.setLevel(level.upper())
    atexit.register(writer.stop)
    return writer


def after_fork(level: str, as_json: bool) -> LogWriter | None:
    """In a forked oven: the parent's writer thread is not here, so its queue would never be written; drop
    that hand-off and install this process's own writer."""
    root = logging.getLogger()
    handoffs = [h for h in root.handlers if isinstance(h, _Handoff)]
    for handler in handoffs:
        root.removeHandler(handler)
    return install(level, as_json, ours=bool(handoffs))


def stop(writer: LogWriter | None, timeout: float | None = None) -> None:
    """Write out what is queued and stop the writer thread (idempotent; None: nothing to do)."""
    if writer is not None:
        writer.stop(timeout)
