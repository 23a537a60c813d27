"""An oven's transactions: join, claim, heartbeat, complete (fenced), fail, release, leave.

Each body is one short transaction run by the store; every state change is one conditional UPDATE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kitchen.core.errors import OvenLost
from kitchen.core.events import EventKind, RefusalCode
from kitchen.core.orders import Order
from kitchen.store import order_from_row

from .context import Ctx
from .rebalance import rebalance_in


@dataclass
class Hint:
    """What an oven's last claim learned: its own buckets gave it nothing. Its next claim then asks the tally
    whether they are still empty before walking the ready index for them: a thief whose buckets stay empty
    steals in two short statements instead of walking every other oven's queue first."""

    own_empty: bool = False


@dataclass(frozen=True)
class Who:
    """An oven incarnation, as its transactions name it; ``menu`` is the JSON list of the recipes it cooks
    (None: any recipe)."""

    id: int
    name: str
    menu: str | None = None


def join(cur: Any, ctx: Ctx, name: str, host: str, pid: int, menu: str | None, now: float) -> int:
    cur.execute(ctx.st.join, {"name": name, "host": host, "pid": pid, "now": now})
    oven_id = int(cur.fetchone()[0])
    if menu is not None:
        cur.execute(ctx.st.oven_menu, (menu, oven_id))
    ctx.record(cur, now, EventKind.JOIN, name, None, host=host, pid=pid)
    rebalance_in(cur, ctx, now)
    return oven_id


def claim(cur: Any, ctx: Ctx, oven: Who, limit: int, now: float, hint: Hint | None = None) -> list[Order]:
    """Up to ``limit`` ready orders this oven can cook, priority first, then age: from its own buckets first;
    only when they give nothing, from any bucket (a steal, recorded as an event). Either way only the head of
    a customer's lane, and only while nothing of that lane cooks."""
    if limit < 1:  # SQLite reads LIMIT -1 as "no limit": never let a bad count take the whole queue
        return []
    st = ctx.st
    params: dict[str, Any] = {"oven": oven.id, "lease_until": now + ctx.settings.lease, "now": now,
                              "limit": limit}
    if oven.menu is not None:
        params["menu"] = oven.menu
    orders: list[Order] = []
    if not (hint is not None and hint.own_empty and _own_buckets_empty(cur, ctx, oven)):
        if oven.menu is None:
            cur.execute(st.claim, st.args.claim(params))
        else:
            cur.execute(st.claim_menu, st.args.claim_menu(params))
        orders = [order_from_row(r) for r in cur.fetchall()]
    if hint is not None:
        hint.own_empty = not orders
    if not orders:
        if oven.menu is None:
            cur.execute(st.steal, st.args.steal(params))
        else:
            cur.execute(st.steal_menu, st.args.steal_menu(params))
        rows = cur.fetchall()
        orders = [order_from_row(r[:-1]) for r in rows]
        _record_steals(cur, ctx, oven, [(o, r[-1]) for o, r in zip(orders, rows)], now)
    if len(orders) > 1:
        orders.sort(key=lambda o: (-o.priority, o.id))
    return orders


def _own_buckets_empty(cur: Any, ctx: Ctx, oven: Who) -> bool:
    cur.execute(ctx.st.own_waiting, {"oven": oven.id})
    return int(cur.fetchone()[0] or 0) <= 0


def _record_steals(cur: Any, ctx: Ctx, thief: Who, taken: list[tuple[Order, Any]], now: float) -> None:
    """One 'stolen' event per order taken from a bucket this oven does not own (a steal can also return one of
    its own, freed since its own claim looked)."""
    names: dict[int, str | None] = {}
    for order, owner_id in sorted(taken, key=lambda t: t[0].id):
        if owner_id == thief.id:
            continue
        owner = None
        if owner_id is not None:
            if int(owner_id) not in names:
                cur.execute(ctx.st.oven_name, (int(owner_id),))
                row = cur.fetchone()
                names[int(owner_id)] = row[0] if row else None
            owner = names[int(owner_id)]
        ctx.record(cur, now, EventKind.STOLEN, thief.name, order.id, thief=thief.name, owner=owner,
                   bucket=order.bucket)


def beat(cur: Any, ctx: Ctx, oven: Who, progress: list[tuple[Order, int]], now: float) -> list[int]:
    """Liveness, lease renewal, the progress of each order it cooks (one per slot); returns the orders it cooks
    that were asked to cancel. OvenLost when this incarnation was declared dead."""
    st = ctx.st
    cur.execute(st.oven_beat, (now, oven.id))  # also renews the leases of every order it cooks
    if cur.rowcount != 1:
        raise OvenLost(f"{oven.name} (#{oven.id}) was declared dead or left; its orders were requeued")
    for order, percent in progress:
        cur.execute(st.progress, {"progress": percent, "id": order.id, "oven": oven.id, "fence": order.fence})
    cur.execute(st.cancel_asked, (oven.id,))
    return sorted(int(r[0]) for r in cur.fetchall())


def oven_alive(cur: Any, ctx: Ctx, oven: Who) -> bool:
    cur.execute(ctx.st.oven_state, (oven.id,))
    row = cur.fetchone()
    return bool(row and row[0] == "alive")


def complete(cur: Any, ctx: Ctx, oven: Who, items: list[tuple[Order, str | None]], claim_next: int,
             now: float, hint: Hint | None = None) -> tuple[list[bool], list[Order]]:
    """Fenced completions (one ledger row each) and, in the same transaction, the next claim."""
    st = ctx.st
    accepted: list[bool] = []
    done_per_bucket: dict[int, int] = {}
    # One order: its oven row, completion, ledger row, tally and notification in one statement where the dialect
    # offers it (COMPLETE_ONE keeps the lock order inside).
    whole = len(items) == 1 and bool(st.complete_one)
    if items and not whole:  # the oven row first (lock order), counting every item; refusals are taken off below
        cur.execute(st.oven_cooked, (len(items), now, oven.id))
    ledger: list[Any] = []  # the accepted ones' ledger rows, inserted by one executemany after the loop
    params: dict[str, Any] = {"now": now, "oven": oven.id, "name": oven.name}  # one dict, its order keys reset
    for order, result in items:
        params["result"], params["id"], params["fence"] = result, order.id, order.fence
        if whole or st.complete_ledger:
            cur.execute(st.complete_one if whole else st.complete_ledger, params)
            ok = len(cur.fetchall()) == 1
        else:
            cur.execute(st.complete, st.args.complete(params))
            ok = cur.rowcount == 1
            if ok:
                row = st.args.ledger(params)  # a tuple by position; a dict passed on as it is must be copied
                ledger.append(row if row is not params else dict(params))
        if ok:
            done_per_bucket[order.bucket] = done_per_bucket.get(order.bucket, 0) + 1
        else:
            _refuse(cur, ctx, oven, order, now)
        accepted.append(ok)
    if ledger:
        cur.executemany(st.ledger, ledger)
    if not whole and done_per_bucket:  # completions per bucket, taking the tally rows in bucket order (LOCK ORDER)
        buckets = sorted(done_per_bucket)
        if len(buckets) > 1 and st.tally_done_many:
            cur.execute(st.tally_lock, (buckets,))
            cur.execute(st.tally_done_many, (buckets, [done_per_bucket[b] for b in buckets]))
        else:
            for bucket in buckets:
                cur.execute(st.tally_done, (done_per_bucket[bucket], bucket))
        ctx.notify_finished(cur)
    refused = len(items) - sum(done_per_bucket.values())
    if refused:
        cur.execute(st.oven_cooked, (-refused, now, oven.id))
    claimed = claim(cur, ctx, oven, claim_next, now, hint) if claim_next else []
    return accepted, claimed


def _refuse(cur: Any, ctx: Ctx, oven: Who, order: Order, now: float) -> None:
    st = ctx.st
    cur.execute(st.order_now, (order.id,))
    row = cur.fetchone()
    state, current = (row[0], int(row[2])) if row else (None, None)
    if row is None:
        code = RefusalCode.NO_SUCH_ORDER
    elif state == "cooking" and current != order.fence:
        code = RefusalCode.RECOOKING
    elif state == "done":
        code = RefusalCode.ALREADY_DONE
    else:
        code = RefusalCode.TAKEN_BACK
    cur.execute(st.refusal, {"id": order.id, "oven": oven.id, "name": oven.name, "fence": order.fence, "now": now,
                             "code": code.value, "current_fence": current, "order_state": state})
    cur.execute(st.tally_refused, (order.bucket,))
    ctx.record(cur, now, EventKind.REFUSED, oven.name, order.id, code=code.value, fence=order.fence,
               current_fence=current, order_state=state)


def fail(cur: Any, ctx: Ctx, oven: Who, order: Order, error: str, backoff: float, limit: int,
         now: float, traceback: str | None = None) -> str | None:
    """Queued again after ``backoff`` or burnt at ``limit`` attempts (cancelled if a cancel was asked meanwhile);
    None if the claim was already stale."""
    st = ctx.st
    cur.execute(st.fail, {"max_attempts": limit, "run_at": now + backoff, "error": error, "now": now,
                          "id": order.id, "oven": oven.id, "fence": order.fence, "traceback": traceback})
    row = cur.fetchone()
    if row is None:
        return None
    if row[0] in ("cancelled", "burnt"):
        ctx.notify_finished(cur)
    if row[0] == "cancelled":
        cur.execute(st.tally_cancelled, (1, order.bucket))
        ctx.record(cur, now, EventKind.CANCELLED, oven.name, order.id, was="cooking", error=error)
    elif row[0] == "burnt":
        cur.execute(st.tally_burnt, (1, order.bucket))
        ctx.record(cur, now, EventKind.BURNT, oven.name, order.id, attempts=order.attempt, error=error)
    else:
        cur.execute(st.tally_retried, (order.bucket,))
        ctx.record(cur, now, EventKind.RETRY, oven.name, order.id, attempt=order.attempt, error=error,
                   backoff=round(backoff, 3))
    return str(row[0])


def cancelled(cur: Any, ctx: Ctx, oven: Who, order: Order, now: float) -> bool:
    """The oven stopped an order whose cancel it heard: cancelled, if this claim still holds it."""
    cur.execute(ctx.st.cancelled, {"now": now, "id": order.id, "oven": oven.id, "fence": order.fence})
    row = cur.fetchone()
    if row is None:
        return False
    cur.execute(ctx.st.tally_cancelled, (1, int(row[0])))
    ctx.record(cur, now, EventKind.CANCELLED, oven.name, order.id, was="cooking")
    ctx.notify_finished(cur)
    return True


def release(cur: Any, ctx: Ctx, oven: Who, order: Order | None, now: float) -> int:
    """Hand orders back without counting an attempt (graceful shutdown); one asked to cancel ends cancelled."""
    st = ctx.st
    if order is not None:
        cur.execute(st.release_one, {"now": now, "id": order.id, "oven": oven.id, "fence": order.fence})
    else:
        cur.execute(st.release_oven, {"now": now, "oven": oven.id})
    rows = _handed_back(cur, ctx, oven, cur.fetchall(), now)
    if rows:
        ctx.notify(cur)
    return len(rows)


def _handed_back(cur: Any, ctx: Ctx, oven: Who, rows: list, now: float, each: bool = True) -> list:
    """Events for orders handed back (``each``: a 'released' one per order; a leave records one for all), and
    the tally of those that ended cancelled (in bucket order)."""
    cancelled: dict[int, int] = {}
    for order_id, bucket, state in sorted(rows):
        if state == "cancelled":
            cancelled[int(bucket)] = cancelled.get(int(bucket), 0) + 1
            ctx.record(cur, now, EventKind.CANCELLED, oven.name, int(order_id), was="cooking")
        elif each:
            ctx.record(cur, now, EventKind.RELEASED, oven.name, int(order_id))
    for bucket in sorted(cancelled):
        cur.execute(ctx.st.tally_cancelled, (cancelled[bucket], bucket))
    if cancelled:
        ctx.notify_finished(cur)
    return rows


def leave(cur: Any, ctx: Ctx, oven: Who, now: float) -> None:
    """Release unfinished orders, leave the ring, hand buckets to the others."""
    st = ctx.st
    cur.execute(st.oven_leave, (now, oven.id))
    left = cur.rowcount == 1
    cur.execute(st.release_oven, {"now": now, "oven": oven.id})
    released = len(_handed_back(cur, ctx, oven, cur.fetchall(), now, each=False))
    if left:
        ctx.record(cur, now, EventKind.LEAVE, oven.name, None, released=released)
        rebalance_in(cur, ctx, now)
