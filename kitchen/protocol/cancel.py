"""Cancelling orders: a queued one at once, a cooking one by asking its oven (compare-and-set both ways).

A queued order becomes ``cancelled`` (a final state) in one conditional UPDATE and never cooks. A cooking one
gets ``cancel_at``: its oven hears it at its next heartbeat and ends it ``cancelled`` under its claim's fence,
unless it completes first (then the completion stands). A finished order is left as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kitchen.core.events import EventKind
from kitchen.store import Conflict

from .context import Ctx

CANCELLED = "cancelled"  # it will never cook
ASKED = "asked"          # it is cooking: its oven stops it (unless it completes first)
TRIES = 3


def cancel(cur: Any, ctx: Ctx, tickets: Iterable[int], now: float) -> dict[int, str]:
    """Ticket -> 'cancelled', 'asked', or the state that kept it ('done', 'burnt'); 'unknown' for no order."""
    st = ctx.st
    out: dict[int, str] = {}
    per_bucket: dict[int, int] = {}
    for number in sorted(set(tickets)):
        for _ in range(TRIES):  # on PostgreSQL an order can move between queued and cooking between statements
            cur.execute(st.cancel_queued, (now, now, number))
            row = cur.fetchone()
            if row is not None:
                out[number] = CANCELLED
                per_bucket[int(row[0])] = per_bucket.get(int(row[0]), 0) + 1
                ctx.record(cur, now, EventKind.CANCELLED, None, number, was="queued")
                break
            cur.execute(st.cancel_cooking, (now, number))
            if cur.rowcount == 1:
                out[number] = ASKED
                break
            cur.execute(st.order_now, (number,))
            found = cur.fetchone()
            out[number] = "unknown" if found is None else str(found[0])
            if out[number] not in ("queued", "cooking"):
                break
        if out[number] in ("queued", "cooking"):
            raise Conflict(f"order {number} kept moving while it was being cancelled")
    for bucket in sorted(per_bucket):  # tally rows after the orders rows, in bucket order (lock order)
        cur.execute(st.tally_cancelled, (per_bucket[bucket], bucket))
    if per_bucket:
        ctx.notify_finished(cur)
    return out
