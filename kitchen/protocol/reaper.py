"""The reaper's transactions: declare silent ovens dead, take back their orders and expired leases, move
only their buckets; and the dead-letter shelf's requeue by hand.

Safe to run from many processes at once: every change is conditional, so each dead oven and each expired
lease is handled by exactly one reaper.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kitchen.core.events import EventKind, ReapReport, TakeBack

from .context import Ctx
from .rebalance import rebalance_in

REAPED_ERROR = "its oven died or its lease ran out on the last allowed attempt"
FOLD_BATCH = 1000  # tally inbox rows folded per transaction


def needs_reaping(cur: Any, ctx: Ctx, now: float, cutoff: float, spare: int = -1) -> bool:
    """A cheap read: is there anything for ``reap`` to do?"""
    st = ctx.st
    stale = now - ctx.settings.lease
    for statement, params in ((st.any_silent, (cutoff, spare)), (st.any_expired, (now, stale)), (st.any_stranded, ())):
        cur.execute(statement, params)
        if cur.fetchone():
            return True
    cur.execute(st.orphan_buckets)
    orphans = cur.fetchone()[0]
    cur.execute(st.alive_count)
    return bool(orphans and cur.fetchone()[0])


def pending(cur: Any, ctx: Ctx, now: float, cutoff: float, spare: int = -1) -> tuple[bool, bool]:
    """One cheap read: (anything for ``reap`` to do, counts in the tally inbox to fold)."""
    cur.execute(ctx.st.any_inbox)
    fold = cur.fetchone() is not None
    return needs_reaping(cur, ctx, now, cutoff, spare), fold


def fold_inbox(cur: Any, ctx: Ctx) -> int:
    """Fold one batch of the tally inbox (submits made on applications' connections) into the tally: each
    row is taken by exactly one fold (the DELETE is the compare-and-set) and added in this same short
    transaction, tally rows in bucket order. Readers add the inbox to the tally, so counts are exact before,
    during and after. Returns how many inbox rows it folded."""
    cur.execute(ctx.st.inbox_take, (FOLD_BATCH,))
    rows = cur.fetchall()
    per_bucket: dict[int, tuple[int, int]] = {}
    for bucket, submitted, duplicates in rows:
        new, dup = per_bucket.get(int(bucket), (0, 0))
        per_bucket[int(bucket)] = (new + int(submitted), dup + int(duplicates))
    for bucket in sorted(per_bucket):
        cur.execute(ctx.st.tally_submit, (*per_bucket[bucket], bucket))
    return len(rows)


def reap(cur: Any, ctx: Ctx, now: float, cutoff: float, judge: bool = True, spare: int = -1) -> ReapReport:
    """One pass. ``judge`` False: declare no death and expire no lease (heartbeats may have been blocked).
    ``spare``: the id of the oven whose process runs this reaper, never declared dead by it."""
    st, report = ctx.st, ReapReport()
    take_back = {"max_attempts": ctx.settings.max_attempts, "now": now, "error": REAPED_ERROR}
    if judge:
        cur.execute(st.declare_dead, (now, cutoff, spare))
        dead = [(int(i), n) for i, n in cur.fetchall()]
        for oven_id, name in dead:
            report.dead.append(name)
            ctx.record(cur, now, EventKind.DEAD, name, None, timeout=ctx.settings.heartbeat_timeout)
            cur.execute(st.requeue_oven, {**take_back, "oven": oven_id})
            _taken_back(cur, ctx, now, name, cur.fetchall(), report, TakeBack.OVEN_DIED)
        cur.execute(st.expire_leases, {**take_back, "stale": now - ctx.settings.lease})
        _taken_back(cur, ctx, now, None, cur.fetchall(), report, TakeBack.LEASE_EXPIRED)
    # On PostgreSQL a claim can commit after requeue_oven read its snapshot (or after a leave released
    # orders) but before the oven's death or departure committed: sweep such orders now, not at lease end.
    cur.execute(st.requeue_stranded, take_back)
    _taken_back(cur, ctx, now, None, cur.fetchall(), report, TakeBack.OVEN_GONE)
    report.moved = rebalance_in(cur, ctx, now)
    if report.requeued:
        ctx.notify(cur)
    return report


def _taken_back(cur: Any, ctx: Ctx, now: float, oven: str | None, rows: list, report: ReapReport,
                why: TakeBack) -> None:
    st = ctx.st
    burnt: dict[int, int] = {}
    requeued: dict[int, int] = {}
    cancelled: dict[int, int] = {}
    for order_id, state, bucket in sorted(rows):
        if state == "cancelled":  # a cancel was asked while it cooked: it never cooks again
            cancelled[bucket] = cancelled.get(bucket, 0) + 1
            ctx.record(cur, now, EventKind.CANCELLED, oven, int(order_id), was="cooking", why=why.value)
        elif state == "burnt":
            report.burnt.append(int(order_id))
            burnt[bucket] = burnt.get(bucket, 0) + 1
            ctx.record(cur, now, EventKind.BURNT, oven, int(order_id), why=why.value)
        else:
            report.requeued.append(int(order_id))
            requeued[bucket] = requeued.get(bucket, 0) + 1
            ctx.record(cur, now, EventKind.REQUEUE, oven, int(order_id), why=why.value)
    if burnt or cancelled:
        ctx.notify_finished(cur)
    for bucket in sorted(set(burnt) | set(requeued) | set(cancelled)):  # tally rows in bucket order (lock order)
        if bucket in cancelled:
            cur.execute(st.tally_cancelled, (cancelled[bucket], bucket))
        if bucket in burnt:
            cur.execute(st.tally_burnt, (burnt[bucket], bucket))
        if bucket in requeued:
            cur.execute(st.tally_requeued, (requeued[bucket], bucket))


def requeue_burnt(cur: Any, ctx: Ctx, tickets: Iterable[int], every: bool, now: float) -> list[int]:
    """Burnt orders back in the queue with fresh attempts; returns those moved."""
    ids = list(tickets)
    if every:
        cur.execute(ctx.st.all_burnt)
        ids += [int(r[0]) for r in cur.fetchall()]
    moved = []
    for order_id in dict.fromkeys(ids):
        cur.execute(ctx.st.requeue_burnt, (now, order_id))
        row = cur.fetchone()
        if row is not None:
            moved.append(order_id)
            cur.execute(ctx.st.tally_burnt, (-1, row[0]))
            ctx.record(cur, now, EventKind.REQUEUE, None, order_id, why=TakeBack.BY_HAND.value)
    if moved:
        ctx.notify(cur)
    return moved
