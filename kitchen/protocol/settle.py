"""Did it commit? Asked when the connection broke while a transaction's COMMIT was in flight.

A network can lose the reply to a COMMIT the server carried out. Running the transaction again blindly
would insert a keyless order twice, answer a new key "duplicate", strand a claimed order, or record a good
completion as refused. Instead the store asks one of these, in a fresh read, with what the transaction
returned: True (it committed; its result stands) or False (it did not; run it again, which is safe then).
"""

from __future__ import annotations

from typing import Any

from kitchen.core.orders import Order, Ticket
from kitchen.store import Settle

from .context import Ctx
from .cooking import Who


def _order_is(cur: Any, ctx: Ctx, order_id: int) -> tuple[str, int | None, int] | None:
    cur.execute(ctx.st.order_now, (order_id,))
    row = cur.fetchone()
    return None if row is None else (str(row[0]), None if row[1] is None else int(row[1]), int(row[2]))


def submitted(ctx: Ctx) -> Settle:
    """The orders it inserted exist (their ids came back before the COMMIT). All duplicates: run again."""
    def settle(cur: Any, tickets: list[Ticket]) -> bool:
        new = [t for t in tickets if not t.duplicate]
        return bool(new) and _order_is(cur, ctx, new[0].number) is not None
    return settle


def joined(ctx: Ctx) -> Settle:
    def settle(cur: Any, oven_id: int) -> bool:
        cur.execute(ctx.st.oven_state, (oven_id,))
        return cur.fetchone() is not None
    return settle


def claimed(ctx: Ctx, oven: Who) -> Settle:
    """The first order it claimed is cooking by this oven under the claim's fence. Nothing claimed: again."""
    def settle(cur: Any, orders: list[Order]) -> bool:
        return bool(orders) and _order_is(cur, ctx, orders[0].id) == ("cooking", oven.id, orders[0].fence)
    return settle


def completed(ctx: Ctx, oven: Who, items: list[tuple[Order, Any]], cur: Any,
              value: tuple[list[bool], list[Order]]) -> bool:
    """An accepted order is done under its fence (the ledger row is in the same transaction); else the
    claim it made; with neither, running it again changes nothing that matters. A settle once bound with
    ``functools.partial``: the oven loop builds no closure per transaction."""
    accepted, claimed_next = value
    done = [order for (order, _), ok in zip(items, accepted, strict=True) if ok]
    if done:
        now = _order_is(cur, ctx, done[0].id)
        return now is not None and now[0] == "done" and now[2] == done[0].fence
    return claimed(ctx, oven)(cur, claimed_next)


def failed(ctx: Ctx, oven: Who, order: Order) -> Settle:
    """The order is no longer cooking under this claim (queued for a retry, or burnt)."""
    def settle(cur: Any, state: str | None) -> bool:
        if state is None:
            return True  # the claim was already stale: nothing was written
        return _order_is(cur, ctx, order.id) != ("cooking", oven.id, order.fence)
    return settle
