"""Moving buckets in the database: read owners, compute the ring, compare-and-set each change."""

from __future__ import annotations

from collections import Counter, defaultdict

from .db import Conflict
from .ring import Member, moves, rebalance
from .sql import Statements


def rebalance_in(cur, st: Statements, buckets: int, now: float) -> str:
    """Rebalance inside the caller's write transaction; returns a one-line summary ('' if nothing moved)."""
    cur.execute(st.ring_generation)
    generation = cur.fetchone()[0]
    cur.execute(st.alive_ovens)
    members = [Member(int(i), n) for i, n in cur.fetchall()]
    cur.execute(st.owners)
    old = {int(b): (None if o is None else int(o)) for b, o in cur.fetchall()}
    new = rebalance(old, members, buckets)
    moved = moves(old, new)
    if not moved:
        return ""
    next_gen = str(int(generation) + 1)
    for bucket, (before, after) in moved.items():
        cur.execute(st.move_bucket, (after, before, int(next_gen), now, bucket, before))
        if cur.rowcount != 1:
            raise Conflict(f"bucket {bucket} changed owner under us")
    cur.execute(st.ring_cas, (next_gen, generation))
    if cur.rowcount != 1:
        raise Conflict("ring generation changed under us")
    names = _names(cur, st, {o for pair in moved.values() for o in pair if o is not None})
    return summarize(moved, names, int(next_gen))


def _names(cur, st: Statements, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    cur.execute(st.with_ids("oven_names", len(ids)), tuple(sorted(ids)))
    return {int(i): n for i, n in cur.fetchall()}


def summarize(moved: dict[int, tuple[int | None, int | None]], names: dict[int, str], generation: int) -> str:
    """'21 buckets oven-2 -> oven-1, oven-3 (generation 4)', one clause per previous owner."""
    by_source: dict[str, Counter] = defaultdict(Counter)
    for before, after in moved.values():
        src = names.get(before, "nobody") if before is not None else "nobody"
        dst = names.get(after, "nobody") if after is not None else "nobody"
        by_source[src][dst] += 1
    parts = []
    for src, dsts in sorted(by_source.items()):
        total = sum(dsts.values())
        parts.append(f"{total} bucket{'s' if total != 1 else ''} {src} -> {', '.join(sorted(dsts))}")
    return "; ".join(parts) + f" (generation {generation})"
