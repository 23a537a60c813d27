"""An oven's log: per-order lines at DEBUG with typed fields, and an INFO summary every 10 s while cooking.

A no-op recipe finishes thousands of orders a second; one INFO line each cost a third or more of the oven's
throughput. So per-order lines are DEBUG (not even built at INFO: ``isEnabledFor`` comes first), and INFO
gets one summary line per interval plus what a person must see: deaths, requeues, burnt orders, refusals,
bucket moves. Every order line carries ``order``, ``recipe``, ``attempt``, ``oven`` and ``event`` as record
attributes (the JSON formatter prints them as fields).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from kitchen.core.errors import KitchenError
from kitchen.core.orders import Order
from kitchen.protocol import Kitchen

SUMMARY_EVERY = 10.0  # seconds
FIELDS = ("order", "recipe", "attempt", "oven", "event")


def fields(oven: str, order: Order | None, event: str) -> dict[str, Any]:
    """The ``extra`` of a log call about one order (None: about the oven only)."""
    if order is None:
        return {"oven": oven, "event": event}
    return {"order": order.id, "recipe": order.recipe, "attempt": order.attempt, "oven": oven, "event": event}


class OvenLog:
    """Counts what an oven did since the last summary, and logs each order at its level."""

    def __init__(self, logger: logging.Logger, oven: str) -> None:
        self.log = logger
        self.oven = oven
        self.counts = {"done": 0, "retry": 0, "burnt": 0, "refused": 0}
        self._lock = threading.Lock()
        self._since = time.monotonic()

    def order(self, level: int, event: str, order: Order, msg: str, *args: Any, exc_info: Any = None,
              traceback: str | None = None) -> None:
        """Count one order event and log it (DEBUG lines cost one level check when DEBUG is off);
        ``traceback``: a recipe failure's, as stored with the order (``--log-json`` carries it)."""
        self.count(event)
        self.line(level, event, order, msg, *args, exc_info=exc_info, traceback=traceback)

    def count(self, event: str, n: int = 1) -> None:
        """Count ``n`` order events for the next summary (the oven loop counts a batch's completions at once)."""
        if n:
            with self._lock:
                self.counts[event] = self.counts.get(event, 0) + n

    def line(self, level: int, event: str, order: Order, msg: str, *args: Any, exc_info: Any = None,
             traceback: str | None = None) -> None:
        """Log one order's line with its fields, without counting it."""
        if self.log.isEnabledFor(level):
            extra = fields(self.oven, order, event)
            if traceback:
                extra["traceback"] = traceback
            self.log.log(level, msg, *args, extra=extra, exc_info=exc_info)

    def take(self) -> tuple[dict[str, int], float]:
        """The counts since the last call and the seconds they cover; resets both."""
        now = time.monotonic()
        with self._lock:
            counts, self.counts = self.counts, dict.fromkeys(self.counts, 0)
            seconds, self._since = now - self._since, now
        return counts, seconds

    def summary(self, kitchen: Kitchen) -> str | None:
        """One INFO line if this oven did anything since the last one:
        'oven-1 cooked 12,480 in 10 s, 3 retried, 0 burnt, 0 refused, oldest waiting 0.4 s'."""
        counts, seconds = self.take()
        if not any(counts.values()):
            return None
        try:
            waiting = kitchen.oldest_waiting()
        except KitchenError:
            waiting = None
        line = (f"{self.oven} cooked {counts['done']:,} in {seconds:.0f} s, {counts['retry']:,} retried, "
                f"{counts['burnt']:,} burnt, {counts['refused']:,} refused, oldest waiting "
                + (f"{waiting:.1f} s" if waiting is not None else "none"))
        self.log.info(line, extra={"oven": self.oven, "event": "summary", "cooked": counts["done"],
                                   "retried": counts["retry"], "burnt": counts["burnt"],
                                   "refused": counts["refused"], "oldest_waiting": waiting})
        return line


def add_summary(scheduler: BackgroundScheduler, oven_log: OvenLog, kitchen: Kitchen,
                every: float = SUMMARY_EVERY) -> None:
    """The summary as a scheduler job (its read of the queue never runs on the oven's loop)."""
    if oven_log.log.isEnabledFor(logging.INFO):
        scheduler.add_job(oven_log.summary, "interval", seconds=every, args=(kitchen,), id="summary",
                          name="log summary")
