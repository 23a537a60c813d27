"""Retention: finished orders, their ledger rows, refusals and events leave after their keep time.

Each batch is one short write transaction of at most ``limit`` orders (and as many events), so ovens keep
their pace while a backlog drains: the write lock is held for milliseconds, never for the whole history.
Every delete is a compare-and-set (``state = 'done'`` / ``'burnt'`` in the DELETE itself), and a purged
order takes its ledger row, refusals and events with it in the same transaction, so the ledger's one row per
done order holds for every order still kept. Status counters are the per-bucket tally (history, not row
counts) and are not touched. A key whose order goes while its dedup window is still open leaves a
tombstone, so it keeps deduplicating until the window closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kitchen.core.events import PurgeReport

from .context import Ctx

BATCH = 500            # orders (and events, refusals, tombstones) per purge transaction
RECLAIM_PAGES = 256    # SQLite pages given back per reclaim transaction (~3 ms)
KEEP_FREE_PAGES = 256  # free pages SQLite keeps for the next orders instead of giving them back


@dataclass(frozen=True)
class Cutoffs:
    """Rows older than these times go (None: that kind is kept forever)."""

    done: float | None
    burnt: float | None
    events: float | None
    now: float

    @classmethod
    def of(cls, ctx: Ctx, now: float, older_than: float | None = None) -> Cutoffs:
        """From the settings, or ``older_than`` seconds for finished orders of both kinds (a purge by hand)."""
        s = ctx.settings

        def before(keep: float) -> float | None:
            return None if keep == float("inf") else now - keep

        done = before(s.keep_done if older_than is None else older_than)
        burnt = before(s.keep_burnt if older_than is None else older_than)
        return cls(done, burnt, before(s.keep_events), now)


def needs_purge(cur: Any, ctx: Ctx, cut: Cutoffs) -> bool:
    """A cheap read of each window's head: is anything old enough to go? (An idle reaper takes no lock.)"""
    st = ctx.st
    checks = ((st.oldest_completion, cut.done), (st.oldest_burnt, cut.burnt), (st.oldest_event, cut.events),
              (st.oldest_refusal, cut.events), (st.oldest_tombstone, cut.now))
    for statement, before in checks:
        if before is None:
            continue
        cur.execute(statement)
        row = cur.fetchone()
        if row is not None and row[0] is not None and float(row[0]) < before:
            return True
    return False


def purge_batch(cur: Any, ctx: Ctx, cut: Cutoffs, limit: int = BATCH) -> PurgeReport | None:
    """One bounded batch. None: another process is purging this kitchen right now (PostgreSQL)."""
    if not ctx.store.dialect.try_purge_lock(cur):
        return None
    st, report = ctx.st, PurgeReport()
    gone: list[tuple] = []
    for statement, before in ((st.purge_done, cut.done), (st.purge_burnt, cut.burnt)):
        if before is None:
            continue
        cur.execute(statement, {"before": before, "limit": limit})
        rows = cur.fetchall()
        gone += rows
        if statement is st.purge_done:
            report.done = len(rows)
        else:
            report.burnt = len(rows)
    ids = [(int(r[0]),) for r in sorted(gone)]
    if ids:
        report.ledger = _delete_each(cur, st.purge_ledger_of, ids)
        report.refusals = _delete_each(cur, st.purge_refusals_of, ids)
        report.events = _delete_each(cur, st.purge_events_of, ids)
    window = ctx.settings.dedup_seconds
    stones = [{"key": key, "id": int(order_id), "bucket": int(bucket), "until": float(finished) + window}
              for order_id, key, finished, bucket in sorted(gone)
              if key is not None and finished is not None and float(finished) + window > cut.now]
    if stones:
        cur.executemany(st.tombstone_put, stones)
    report.tombstones = len(stones)
    if cut.events is not None:
        cur.execute(st.purge_events, (limit, cut.events))
        report.events += max(cur.rowcount, 0)
        cur.execute(st.purge_refusals, (limit, cut.events))
        report.refusals += max(cur.rowcount, 0)
    cur.execute(st.purge_tombstones, (cut.now, limit))
    report.expired_keys = max(cur.rowcount, 0)
    report.more = max(report.done, report.burnt, report.expired_keys) >= limit
    return report


def _delete_each(cur: Any, statement: str, ids: list[tuple[int]]) -> int:
    """Rows deleted for these orders (both drivers sum executemany's row counts)."""
    cur.executemany(statement, ids)
    return max(cur.rowcount, 0)


def reclaim(cur: Any, ctx: Ctx, pages: int = RECLAIM_PAGES) -> int:
    """Give a few free pages back to the file system (SQLite in incremental auto_vacuum mode; else nothing)."""
    return ctx.store.dialect.reclaim(cur, pages, KEEP_FREE_PAGES)


def would_purge(cur: Any, ctx: Ctx, cut: Cutoffs) -> PurgeReport:
    """What a whole purge would take now (``--dry-run``): counted, nothing written."""
    st, report = ctx.st, PurgeReport(dry_run=True)
    for statement, before, name in ((st.count_done_before, cut.done, "done"),
                                    (st.count_burnt_before, cut.burnt, "burnt"),
                                    (st.count_events_before, cut.events, "events")):
        if before is not None:
            cur.execute(statement, (before,))
            setattr(report, name, int(cur.fetchone()[0]))
    report.ledger = report.done
    return report
