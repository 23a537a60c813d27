"""An oven process's start-up order (everything slow before the join, then a prompt first heartbeat) and its
watchdog's loop.

From its join on, a new oven must beat within ``heartbeat_timeout``. On a loaded machine a fresh process took
seconds over APScheduler's set-up (time zone, trigger plugins, imports) and over starting its heartbeat thread
and that thread's first connection: when those came after the join, other ovens' reapers declared it dead at
birth. So the scheduler's jobs are added and the heartbeat thread is running, connected, before the join.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from apscheduler.schedulers.background import BackgroundScheduler

from kitchen.core.errors import KitchenError
from kitchen.protocol import Kitchen

from .jobs import add_reaper, make_scheduler
from .oven_log import OvenLog, add_summary
from .periodic import add_periodic, schedules
from .recipes import Menu

log = logging.getLogger("kitchen.oven")


def oven_jobs(kitchen: Kitchen, oven_log: OvenLog, menu: Menu, own: Callable[[], int | None]) -> BackgroundScheduler:
    """The reaper (sparing this process's own oven, ``own()``), the log summary and the periodic orders, on a
    scheduler made but not started: start it after the join."""
    scheduler = make_scheduler()
    add_reaper(scheduler, kitchen, spare=own)
    add_summary(scheduler, oven_log, kitchen)
    add_periodic(scheduler, kitchen, schedules(menu, kitchen.settings.schedule))
    return scheduler


class Heart:
    """The heartbeat thread. It paces itself on the monotonic clock (APScheduler plans by wall-clock datetimes,
    so a clock stepped back a minute would pause its jobs for that minute); ``beat`` does nothing until the
    oven has joined."""

    def __init__(self, kitchen: Kitchen, name: str, beat: Callable[[], None]) -> None:
        self.kitchen, self.name, self.beat = kitchen, name, beat
        self.done = threading.Event()
        self._ready = threading.Event()

    def start(self) -> None:
        """Start the thread and wait (at most a heartbeat timeout) until its own connection is open."""
        threading.Thread(target=self._run, name="heartbeat", daemon=True).start()
        self._ready.wait(self.kitchen.settings.heartbeat_timeout)

    def stop(self) -> None:
        self.done.set()

    def _run(self) -> None:
        try:
            self.kitchen.store.connect()
        except KitchenError as exc:
            log.warning("%s heartbeat failed: %s", self.name, exc)
        self._ready.set()
        while not self.done.wait(self.kitchen.settings.heartbeat_interval):
            self.beat()


def watch_until(finished: threading.Event, watch: Callable[[], None], name: str) -> None:
    """The watchdog thread's loop, every 50 ms until the oven's loop has finished (a recipe may still run long
    after a stop was asked). A step that raises is logged (every 10 s at most) and the loop carries on: a dead
    watchdog would leave the oven deaf to signals and to overruns."""
    failed_at = float("-inf")
    while not finished.wait(0.05):
        try:
            watch()
        except Exception:
            if time.monotonic() - failed_at > 10:
                log.exception("%s: watchdog step failed; carrying on", name)
                failed_at = time.monotonic()


@contextmanager
def started(kitchen: Kitchen, name: str, oven_log: OvenLog, menu: Menu, own: Callable[[], int | None],
            beat: Callable[[], None], join: Callable[[], object]) -> Iterator[None]:
    """An oven process's life around its loop: jobs and a connected heartbeat thread first, then ``join``,
    then the scheduler; on the way out the heartbeat and the scheduler stop (before the caller leaves)."""
    scheduler = oven_jobs(kitchen, oven_log, menu, own)
    heart = Heart(kitchen, name, beat)
    heart.start()
    try:
        join()
        scheduler.start()
        yield
    finally:
        heart.stop()
        if scheduler.running:
            scheduler.shutdown(wait=False)
