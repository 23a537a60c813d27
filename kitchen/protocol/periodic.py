"""Periodic orders: one order per schedule slot, however many ovens' schedulers fire it.

Every live oven computes the same slots from the same rule and the shared clock, and may fire. The slot is
taken by a compare-and-set on the schedule's own ``kitchen_meta`` row ('slot:<recipe>': the latest slot taken
only moves forward), in the same transaction as the order, whose dedup key ``recipe@slot`` names the slot:
one order per slot across processes and hosts, and an old slot is never taken again, even after its order
and key were purged. This transaction takes the meta row before the orders and tally rows (unlike the LOCK
ORDER in sql.py); only this transaction touches 'slot:' rows, so it cannot deadlock with another.
"""

from __future__ import annotations

import time
from typing import Any

from kitchen.core.orders import NewOrder, Ticket
from kitchen.core.views import ScheduleView

from .context import Ctx
from .submit import insert_many

SLOT_WIDTH = 17  # '0001795973447.916': seconds, fixed width, so text order is time order


def slot_text(slot: float) -> str:
    return f"{slot:0{SLOT_WIDTH}.3f}"


def slot_key(recipe: str, slot: float) -> str:
    """The order's dedup key: 'margherita@2026-11-29T17:40:00Z'."""
    return f"{recipe}@{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(slot))}"


def fire(cur: Any, ctx: Ctx, order: NewOrder, slot: float, next_slot: float, rule: str,
         now: float) -> Ticket | None:
    """Take ``slot`` for ``order.recipe`` and queue its order; None: this slot (or a later one) was taken."""
    st, key = ctx.st, f"slot:{order.recipe}"
    cur.execute(st.slot_init, (key,))
    cur.execute(st.slot_take, (f"{slot_text(slot)} {slot_text(next_slot)} {rule}", key, slot_text(slot)))
    if cur.fetchone() is None:
        return None
    return insert_many(cur, ctx, [order], now)[0]


def schedule_rows(cur: Any, ctx: Ctx) -> list[ScheduleView]:
    """The schedules the ovens have fired, for status."""
    cur.execute(ctx.st.slot_rows)
    out = []
    for key, value in cur.fetchall():
        last, _, rest = str(value).partition(" ")
        following, _, rule = rest.partition(" ")
        try:
            out.append(ScheduleView(str(key)[len("slot:"):], rule, float(last), float(following)))
        except ValueError:
            continue  # a row whose first slot is still being taken
    return out
