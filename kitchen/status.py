"""Reading the shop: one consistent snapshot for dashboards, and listings for the CLI and the TUI.

Counts come from the per-bucket tally and the (small) set of cooking orders, never from counting the
orders table, so a refresh stays fast with a million orders. State filters are SQL literals so SQLite can
use the partial indexes (a bound parameter hides the state from the planner and scans the table).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from peewee import SQL

from .errors import UnknownTicket
from .orders import loads_payload

if TYPE_CHECKING:
    from .engine import Kitchen

RECENT_GONE_OVENS = 12


def snapshot(k: "Kitchen") -> dict[str, Any]:
    return k.backend.read(_snapshot, k, k.clock())


def _snapshot(cur, k: "Kitchen", now: float) -> dict[str, Any]:
    M = k.models
    cur.execute("SELECT sum(submitted), sum(done), sum(burnt), sum(duplicates), sum(refused), sum(requeued),"
                " sum(retried) FROM tally")
    submitted, done, burnt, dups, refused, requeued, retried = (int(v or 0) for v in cur.fetchone())
    cooking = list(M.Order.select(M.Order.id, M.Order.oven_id, M.Order.recipe, M.Order.customer,
                                  M.Order.progress, M.Order.attempt, M.Order.fence, M.Order.bucket,
                                  M.Order.started_at)
                   .where(SQL("state = 'cooking'")).dicts())
    cooking.sort(key=lambda c: c["id"])
    alive = list(M.Oven.select().where(M.Oven.state == "alive").order_by(M.Oven.id).dicts())
    gone = list(M.Oven.select().where(M.Oven.state != "alive").order_by(M.Oven.id.desc())
                .limit(RECENT_GONE_OVENS).dicts())
    ovens = sorted(alive + gone, key=lambda o: o["id"])
    names = {o["id"]: o["name"] for o in ovens}
    buckets = list(M.Bucket.select().order_by(M.Bucket.bucket).dicts())
    missing = {b["oven_id"] for b in buckets} | {b["prev_oven_id"] for b in buckets}
    missing -= set(names) | {None}
    if missing:
        names.update({o.id: o.name for o in M.Oven.select(M.Oven.id, M.Oven.name).where(M.Oven.id.in_(missing))})
    generation = int(M.Meta.get_by_id("ring_generation").value)
    owned: dict[int, list[int]] = {}
    for b in buckets:
        owned.setdefault(b["oven_id"], []).append(b["bucket"])
    current: dict[int, list[dict]] = {}
    for c in cooking:
        current.setdefault(c["oven_id"], []).append(c)
    oven_rows = []
    for o in ovens:
        mine = current.get(o["id"], [])
        first = mine[0] if mine else None
        oven_rows.append({
            "id": o["id"], "name": o["name"], "host": o["host"], "pid": o["pid"], "state": o["state"],
            "heartbeat_age": round(max(0.0, now - o["heartbeat_at"]), 3),
            "buckets": owned.get(o["id"], []) if o["state"] == "alive" else [],
            "current_order": first["id"] if first else None,
            "current_recipe": first["recipe"] if first else None,
            "progress": first["progress"] if first else None,
            "cooking": [c["id"] for c in mine],
            "cooked": o["cooked"], "joined_at": o["joined_at"], "died_at": o["died_at"],
        })
    return {
        "database": k.backend.label,
        "now": now,
        "orders": {"queued": submitted - done - burnt - len(cooking), "cooking": len(cooking), "done": done,
                   "burnt": burnt, "submitted": submitted},
        "ovens": oven_rows,
        "buckets": [{"bucket": b["bucket"], "oven_id": b["oven_id"], "oven": names.get(b["oven_id"]),
                     "prev_oven": names.get(b["prev_oven_id"]), "generation": b["generation"],
                     "moved_at": b["moved_at"]} for b in buckets],
        "bucket_count": k.buckets,
        "ring_generation": generation,
        "ledger": {"completions": done, "duplicate_submissions": dups, "refused_completions": refused},
        "requeued": requeued,
        "retried": retried,
        "heartbeat_timeout": k.settings.heartbeat_timeout,
    }


def _json(text: str | bytes | None) -> Any:
    try:
        return json.loads(text) if text else None
    except (ValueError, TypeError):
        return None


def ticket(k: "Kitchen", number: int) -> dict[str, Any]:
    def tx(cur):
        M = k.models
        fields = [f for f in M.Order._meta.sorted_fields if f.name not in ("payload", "result")]
        row = M.Order.select(*fields).where(M.Order.id == number).dicts().first()
        if row is None:
            raise UnknownTicket(f"no order with ticket {number}")
        # Raw values: a payload some other program stored as bytes must not break a lookup.
        cur.execute(k.backend.sql("SELECT payload, result FROM orders WHERE id = ?"), (number,))
        row["payload"], row["result"] = cur.fetchone()
        oven = M.Oven.get_or_none(M.Oven.id == row["oven_id"]) if row["oven_id"] is not None else None
        return {
            "ticket": row["id"], "state": row["state"], "recipe": row["recipe"], "customer": row["customer"],
            "key": row["dedup_key"], "priority": row["priority"], "bucket": row["bucket"],
            "attempts": row["attempt"], "fence": row["fence"], "oven": oven.name if oven else None,
            "progress": row["progress"], "payload": loads_payload(row["payload"]),
            "result": _json(row["result"]), "error": row["error"],
            "created_at": row["created_at"], "run_at": row["run_at"], "finished_at": row["finished_at"],
        }

    return k.backend.read(tx)


def ledger(k: "Kitchen", limit: int = 20) -> list[dict[str, Any]]:
    """Most recent accepted completions, newest first."""
    M = k.models
    return k.backend.read(lambda cur: list(M.Ledger.select().order_by(M.Ledger.id.desc()).limit(limit).dicts()))


def refusals(k: "Kitchen", limit: int = 20) -> list[dict[str, Any]]:
    """Most recent refused (late or zombie) completions, newest first."""
    M = k.models
    return k.backend.read(lambda cur: list(M.Refusal.select().order_by(M.Refusal.id.desc()).limit(limit).dicts()))


def events(k: "Kitchen", after: int = 0, limit: int = 50) -> list[dict[str, Any]]:
    """Events newer than ``after`` (an event id), oldest first, at most ``limit`` of the newest."""
    M = k.models
    def tx(cur):
        rows = (M.Event.select().where(M.Event.id > after).order_by(M.Event.id.desc()).limit(limit).dicts())
        return list(reversed(list(rows)))

    return k.backend.read(tx)


def recent_orders(k: "Kitchen", limit: int = 10) -> list[dict[str, Any]]:
    """The newest orders with their state, newest first."""
    M = k.models
    fields = (M.Order.id, M.Order.recipe, M.Order.customer, M.Order.state, M.Order.attempt, M.Order.bucket,
              M.Order.progress, M.Order.priority, M.Order.error)
    return k.backend.read(lambda cur: list(M.Order.select(*fields).order_by(M.Order.id.desc()).limit(limit).dicts()))


def burnt(k: "Kitchen", limit: int = 50) -> list[dict[str, Any]]:
    """Dead-lettered orders, oldest first."""
    M = k.models
    fields = (M.Order.id, M.Order.recipe, M.Order.customer, M.Order.attempt, M.Order.error, M.Order.finished_at)
    return k.backend.read(lambda cur: list(M.Order.select(*fields).where(SQL("state = 'burnt'"))
                                           .order_by(M.Order.id).limit(limit).dicts()))
