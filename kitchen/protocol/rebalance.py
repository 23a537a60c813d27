"""Moving buckets in the database: read owners, compute the ring, compare-and-set each change."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from kitchen.core.events import EventKind, Flow, RingMove
from kitchen.core.ring import Member, moves, rebalance
from kitchen.store import Conflict

from .context import Ctx


def rebalance_in(cur: Any, ctx: Ctx, now: float) -> RingMove | None:
    """Rebalance inside the caller's write transaction; record and return the move (None if nothing moved)."""
    st = ctx.st
    cur.execute(st.ring_generation)
    generation = cur.fetchone()[0]
    cur.execute(st.alive_ovens)
    members = [Member(int(i), n) for i, n in cur.fetchall()]
    cur.execute(st.owners)
    old = {int(b): (None if o is None else int(o)) for b, o in cur.fetchall()}
    new = rebalance(old, members, ctx.buckets)
    moved = moves(old, new)
    if not moved:
        return None
    next_gen = int(generation) + 1
    for bucket, (before, after) in moved.items():
        cur.execute(st.move_bucket, {"after": after, "before": before, "generation": next_gen, "now": now,
                                     "bucket": bucket})
        if cur.rowcount != 1:
            raise Conflict(f"bucket {bucket} changed owner under us")
    cur.execute(st.ring_cas, (str(next_gen), generation))
    if cur.rowcount != 1:
        raise Conflict("ring generation changed under us")
    ids = {o for pair in moved.values() for o in pair if o is not None}
    move = _flows(moved, _names(cur, ctx, ids), next_gen)
    ctx.record(cur, now, EventKind.MOVED, None, None, **move.to_data())
    ctx.notify(cur)
    return move


def _names(cur: Any, ctx: Ctx, ids: set[int]) -> dict[int, str]:
    names = {}
    for oven_id in sorted(ids):
        cur.execute(ctx.st.oven_name, (oven_id,))
        row = cur.fetchone()
        if row is not None:
            names[oven_id] = row[0]
    return names


def _flows(moved: dict[int, tuple[int | None, int | None]], names: dict[int, str], generation: int) -> RingMove:
    by_source: dict[str | None, dict[str | None, int]] = defaultdict(lambda: defaultdict(int))
    for before, after in moved.values():
        src = names.get(before) if before is not None else None
        dst = names.get(after) if after is not None else None
        by_source[src][dst] += 1
    flows = tuple(Flow(src, tuple(sorted(dsts, key=lambda d: d or "")), sum(dsts.values()))
                  for src, dsts in sorted(by_source.items(), key=lambda kv: kv[0] or ""))
    return RingMove(generation, flows)
