"""APScheduler jobs: heartbeats and the reaper run on their own threads, so a long or CPU-heavy recipe on
the oven's main thread never starves them. Used by ``kitchen run`` and by the TUI."""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from kitchen.core.errors import KitchenError
from kitchen.core.events import PurgeReport, ReapReport
from kitchen.core.words import move_summary, purge_summary
from kitchen.protocol import Kitchen

log = logging.getLogger("kitchen.jobs")


def make_scheduler() -> BackgroundScheduler:
    """Two threads: a slow reaper pass never delays a heartbeat."""
    return BackgroundScheduler(executors={"default": ThreadPoolExecutor(2)},
                               job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})


class Pacer:
    """Notices when this process itself fell silent (stopped, suspended, starved of CPU, or its database
    calls failed): for two heartbeat intervals afterwards its reaper judges no one, so every oven gets a
    fresh chance to heartbeat before anyone is declared dead."""

    def __init__(self, kitchen: Kitchen) -> None:
        self.kitchen = kitchen
        self.last: float | None = None
        self.hold_until = float("-inf")

    def judge(self) -> bool:
        s = self.kitchen.settings
        now, hold = self.kitchen.clock(), 2 * s.heartbeat_interval
        if self.last is None:  # a process just started (slowly, on a loaded machine): the others' turn to beat
            self.hold_until = now + hold
        elif now - self.last > s.heartbeat_timeout:
            self.hold_until = now + hold
            log.info("reaper: this process was silent for %.1fs; judging no one for %gs", now - self.last, hold)
        self.last = now
        return now >= self.hold_until

    def failed(self) -> None:
        self.hold_until = self.kitchen.clock() + 2 * self.kitchen.settings.heartbeat_interval


def reap_once(kitchen: Kitchen, on_report: Callable[[ReapReport], None] | None = None,
              pacer: Pacer | None = None, spare: Callable[[], int | None] | None = None) -> ReapReport | None:
    """One reaper pass that never raises: a busy or unreachable database is logged and retried next time.
    ``spare`` names this process's own oven (never judged by its own reaper)."""
    try:
        report = kitchen.reap(judge=pacer.judge() if pacer else True, spare=spare() if spare else None)
    except Exception as exc:  # never a traceback from a scheduler thread: log one line, try again next pass
        log.warning("reaper: %s", exc if isinstance(exc, KitchenError) else f"{exc.__class__.__name__}: {exc}")
        if pacer:
            pacer.failed()
        return None
    if report:
        for name in report.dead:
            log.warning("declared %s dead: missed heartbeats for over %gs", name, kitchen.settings.heartbeat_timeout,
                        extra={"event": "dead", "oven": name})
        if report.requeued:
            log.warning("requeued %d order(s): %s", len(report.requeued), _ids(report.requeued),
                        extra={"event": "requeue"})
        if report.burnt:
            log.warning("burnt %d order(s) on their last attempt: %s", len(report.burnt), _ids(report.burnt),
                        extra={"event": "burnt"})
        if report.moved:
            log.info("buckets moved: %s", move_summary(report.moved), extra={"event": "moved"})
        if on_report:
            on_report(report)
    return report


def purge_once(kitchen: Kitchen) -> PurgeReport | None:
    """One bounded purge batch (and a few SQLite pages given back), never raising. Nothing old enough: one
    cheap read and no write lock. Many reapers at once take turns (one batch per kitchen at a time)."""
    try:
        report = kitchen.purge(batches=1)
    except Exception as exc:  # as for the reaper: one line, try again next pass
        log.warning("purge: %s", exc if isinstance(exc, KitchenError) else f"{exc.__class__.__name__}: {exc}")
        return None
    if report:
        log.debug("purged %s", purge_summary(report), extra={"event": "purged"})
    return report


def reaper_pass(kitchen: Kitchen, on_report: Callable[[ReapReport], None] | None = None,
                pacer: Pacer | None = None, spare: Callable[[], int | None] | None = None) -> None:
    """The reaper job: liveness first, then one purge batch."""
    reap_once(kitchen, on_report, pacer, spare)
    purge_once(kitchen)


def add_reaper(scheduler: BackgroundScheduler, kitchen: Kitchen,
               on_report: Callable[[ReapReport], None] | None = None,
               spare: Callable[[], int | None] | None = None) -> None:
    scheduler.add_job(reaper_pass, "interval", seconds=kitchen.settings.reap_interval,
                      args=(kitchen, on_report, Pacer(kitchen), spare), id="reaper", name="reaper")


def _ids(ids: list[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:10])
    return shown + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
