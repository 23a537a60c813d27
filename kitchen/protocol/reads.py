"""Reading the shop: one consistent snapshot for dashboards, and listings for the CLI and the TUI.

Counts come from the per-bucket tally and the (small) set of cooking orders, never from counting the
orders table, so a refresh stays fast with a million orders. Every read returns the types of
``kitchen.core.views``: facts (codes, kinds, JSON data), never sentences; the faces make those.
"""

from __future__ import annotations

import json
from typing import Any

from kitchen.core.errors import UnknownTicket
from kitchen.core.events import EventKind, RefusalCode
from kitchen.core.orders import loads_payload
from kitchen.core.views import (
    WAITING_COUNT_CAP,
    BucketView,
    BurntOrder,
    EventRow,
    HeldOrder,
    LedgerRow,
    LedgerTotals,
    OrderCounts,
    OvenView,
    RecentOrder,
    RefusalRow,
    Snapshot,
    TicketView,
)

from . import periodic
from .context import Ctx

RECENT_GONE_OVENS = 12
_OVEN_KEYS = ("id", "name", "host", "pid", "state", "joined_at", "heartbeat_at", "died_at", "cooked", "menu")


def _json(text: Any) -> Any:
    try:
        return json.loads(text) if text else None
    except (ValueError, TypeError, RecursionError):
        return None


def _refusal_code(code: str | None) -> RefusalCode | None:
    try:
        return RefusalCode(code) if code else None
    except ValueError:
        return None


def _event_kind(kind: str) -> EventKind | str:
    try:
        return EventKind(kind)
    except ValueError:
        return kind


def snapshot(cur: Any, ctx: Ctx, now: float) -> Snapshot:
    st = ctx.st
    cur.execute(st.tally_totals)
    submitted, done, burnt, dups, refused, requeued, retried, cancelled = (int(v or 0) for v in cur.fetchone())
    cur.execute(st.cooking_orders)
    cooking = [dict(zip(("id", "oven_id", "recipe", "customer", "progress", "attempt", "fence", "bucket",
                         "started_at"), r)) for r in cur.fetchall()]
    cur.execute(st.alive_oven_rows)
    alive = [dict(zip(_OVEN_KEYS, r)) for r in cur.fetchall()]
    cur.execute(st.gone_oven_rows, (RECENT_GONE_OVENS,))
    gone = [dict(zip(_OVEN_KEYS, r)) for r in cur.fetchall()]
    ovens = sorted(alive + gone, key=lambda o: o["id"])
    names = {o["id"]: o["name"] for o in ovens}
    cur.execute(st.bucket_rows)
    buckets = [dict(zip(("bucket", "oven_id", "prev_oven_id", "generation", "moved_at"), r)) for r in cur.fetchall()]
    missing = ({b["oven_id"] for b in buckets} | {b["prev_oven_id"] for b in buckets}) - set(names) - {None}
    for oven_id in sorted(missing):
        cur.execute(st.oven_name, (oven_id,))
        row = cur.fetchone()
        if row is not None:
            names[oven_id] = row[0]
    cur.execute(st.current_generation)
    generation = int(cur.fetchone()[0])
    owned: dict[int, list[int]] = {}
    for b in buckets:
        owned.setdefault(b["oven_id"], []).append(b["bucket"])
    current: dict[int, list[dict]] = {}
    for c in cooking:
        current.setdefault(c["oven_id"], []).append(c)
    oven_rows = []
    owner_of = {b["bucket"]: b["oven_id"] for b in buckets}
    for o in ovens:
        mine = current.get(o["id"], [])
        first = mine[0] if mine else None
        owner = owner_of.get(first["bucket"]) if first else None
        oven_rows.append(OvenView(
            id=o["id"], name=o["name"], host=o["host"], pid=o["pid"], state=o["state"],
            heartbeat_age=round(max(0.0, now - o["heartbeat_at"]), 3),
            buckets=owned.get(o["id"], []) if o["state"] == "alive" else [],
            current_order=first["id"] if first else None,
            current_recipe=first["recipe"] if first else None,
            progress=first["progress"] if first else None,
            cooking=[c["id"] for c in mine],
            cooked=o["cooked"], joined_at=o["joined_at"], died_at=o["died_at"], menu=_menu(o["menu"]),
            current_from=names.get(owner) if owner is not None and owner != o["id"] else None,
            held=[HeldOrder(c["id"], c["recipe"], int(c["progress"] or 0)) for c in mine],
        ))
    return Snapshot(
        database=ctx.store.label,
        now=now,
        orders=OrderCounts(queued=submitted - done - burnt - cancelled - len(cooking), cooking=len(cooking),
                           done=done, burnt=burnt, submitted=submitted, cancelled=cancelled),
        ovens=oven_rows,
        buckets=[BucketView(bucket=b["bucket"], oven_id=b["oven_id"], oven=names.get(b["oven_id"]),
                            prev_oven=names.get(b["prev_oven_id"]), generation=b["generation"],
                            moved_at=b["moved_at"]) for b in buckets],
        bucket_count=ctx.buckets,
        ring_generation=generation,
        ledger=LedgerTotals(completions=done, duplicate_submissions=dups, refused_completions=refused),
        requeued=requeued,
        retried=retried,
        heartbeat_timeout=ctx.settings.heartbeat_timeout,
        no_oven_can_cook=_no_oven_can_cook(cur, ctx, [_menu(o["menu"]) for o in alive]),
        schedule=periodic.schedule_rows(cur, ctx),
    )


def _menu(text: Any) -> list[str] | None:
    names = _json(text)
    return [str(n) for n in names] if isinstance(names, list) else None


def _no_oven_can_cook(cur: Any, ctx: Ctx, menus: list[list[str] | None]) -> dict[str, int]:
    """Queued orders per recipe that no live oven's menu has, among the next WAITING_COUNT_CAP queued orders
    (one walk of orders_ready: a refresh never reads the whole queue). Nothing to say while no oven is alive
    (nothing cooks) or one cooks anything."""
    if not menus or any(m is None for m in menus):
        return {}
    known = {name for m in menus for name in m or ()}
    cur.execute(ctx.st.waiting_recipes, (WAITING_COUNT_CAP,))
    return {str(recipe): int(n) for recipe, n in cur.fetchall() if recipe not in known}


def ticket(cur: Any, ctx: Ctx, number: int) -> TicketView:
    cur.execute(ctx.st.ticket, (number,))
    row = cur.fetchone()
    if row is None:
        raise UnknownTicket(f"no order with ticket {number}")
    (order_id, state, recipe, customer, key, priority, bucket, attempt, fence, oven_id, progress, payload, result,
     error, created_at, run_at, started_at, finished_at, traceback) = row
    oven = None
    if oven_id is not None:
        cur.execute(ctx.st.oven_name, (oven_id,))
        found = cur.fetchone()
        oven = found[0] if found else None
    return TicketView(
        ticket=order_id, state=state, recipe=recipe, customer=customer, key=key, priority=priority,
        bucket=bucket, attempts=attempt, fence=fence, oven=oven, progress=progress,
        payload=loads_payload(payload), result=_json(result), error=error, created_at=created_at, run_at=run_at,
        finished_at=finished_at, started_at=started_at, traceback=traceback,
    )


def ledger(cur: Any, ctx: Ctx, limit: int) -> list[LedgerRow]:
    """Most recent accepted completions, newest first."""
    cur.execute(ctx.st.ledger_rows, (limit,))
    return [LedgerRow(*r) for r in cur.fetchall()]


def refusals(cur: Any, ctx: Ctx, limit: int) -> list[RefusalRow]:
    """Most recent refused (late or zombie) completions, newest first."""
    cur.execute(ctx.st.refusal_rows, (limit,))
    out = []
    for r in cur.fetchall():
        (row_id, order_id, oven_id, oven_name, fence, at, reason, code, current_fence, order_state) = r
        out.append(RefusalRow(id=row_id, order_id=order_id, oven_id=oven_id, oven_name=oven_name, fence=fence,
                              at=at, code=_refusal_code(code), current_fence=current_fence,
                              order_state=order_state, legacy_reason=reason or ""))
    return out


def _event(r: tuple) -> EventRow:
    row_id, at, kind, oven_name, order_id, detail, data = r
    facts = _json(data)
    return EventRow(id=row_id, at=at, kind=_event_kind(kind), oven_name=oven_name, order_id=order_id,
                    data=facts if isinstance(facts, dict) else None, legacy_detail=detail or "")


def events(cur: Any, ctx: Ctx, after: int, limit: int) -> list[EventRow]:
    """Events newer than ``after`` (an event id), oldest first, at most ``limit`` of the newest."""
    cur.execute(ctx.st.events_after, (after, limit))
    return [_event(r) for r in reversed(cur.fetchall())]


def last_event(cur: Any, ctx: Ctx, kind: EventKind | str) -> EventRow | None:
    """The newest event of one kind, or None."""
    cur.execute(ctx.st.last_event_of_kind, (kind.value if isinstance(kind, EventKind) else kind,))
    row = cur.fetchone()
    return _event(row) if row else None


def recent_orders(cur: Any, ctx: Ctx, limit: int) -> list[RecentOrder]:
    """The newest orders with their state, newest first."""
    cur.execute(ctx.st.recent_orders, (limit,))
    return [RecentOrder(*r) for r in cur.fetchall()]


def burnt(cur: Any, ctx: Ctx, limit: int) -> list[BurntOrder]:
    """Dead-lettered orders, oldest first."""
    cur.execute(ctx.st.burnt_orders, (limit,))
    return [BurntOrder(*r) for r in cur.fetchall()]


def completion_times(cur: Any, ctx: Ctx, limit: int) -> list[float]:
    """The ledger's newest completion times, newest first (the TUI's throughput sparkline)."""
    cur.execute(ctx.st.ledger_times, (limit,))
    return [float(r[0]) for r in cur.fetchall()]


def oldest_waiting(cur: Any, ctx: Ctx, now: float) -> float | None:
    """Seconds the next ready order (the one a claim takes first) has been ready; None: nothing is ready."""
    cur.execute(ctx.st.next_ready, (now,))
    row = cur.fetchone()
    return None if row is None else max(0.0, now - float(row[0]))


def latencies(cur: Any, ctx: Ctx, after: int, limit: int) -> list[tuple[int, float, float]]:
    """(ledger id, claim wait, order-to-done seconds) of completions after ledger id ``after``, oldest first."""
    cur.execute(ctx.st.latencies, (after, limit))
    return [(int(i), max(0.0, float(w or 0.0)), max(0.0, float(d or 0.0))) for i, w, d in cur.fetchall()]
