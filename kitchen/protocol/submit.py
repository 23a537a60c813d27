"""The order taker's transaction: insert orders (dedup by key), tally them, wake the ovens."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kitchen.core.errors import BadOrder
from kitchen.core.hashing import bucket_for
from kitchen.core.orders import NewOrder, Ticket, validate
from kitchen.store import Conflict

from .context import Ctx

ORDER_FIELDS = frozenset({"recipe", "payload", "customer", "key", "priority", "delay"})


def prepare_many(specs: Iterable[Mapping[str, Any]], payload_limit: int) -> list[NewOrder]:
    """Check every order first: one bad order refuses the whole batch before anything is written."""
    prepared = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, Mapping):
            raise BadOrder(f"order {i}: expected a mapping with at least 'recipe'")
        if not spec.keys() <= ORDER_FIELDS:
            unknown = set(spec) - ORDER_FIELDS
            raise BadOrder(f"order {i}: unknown field {sorted(unknown)[0]!r}")
        try:
            prepared.append(validate(spec.get("recipe"), spec.get("payload"), customer=spec.get("customer"),
                                     key=spec.get("key"), priority=spec.get("priority", 0),
                                     delay=spec.get("delay", 0.0), payload_limit=payload_limit))
        except BadOrder as exc:
            raise BadOrder(f"order {i}: {exc}") from None
    return prepared


def insert_many(cur: Any, ctx: Ctx, orders: list[NewOrder], now: float, inbox: bool = False) -> list[Ticket]:
    """Keyless orders go in bulk; a keyed one is inserted or, if its key is taken, answered with the first
    order's ticket (``duplicate=True``).

    ``inbox``: the transaction is an application's and may stay open for long (``Kitchen.submit(...,
    connection=)``), so it takes no lock another transaction waits for: its counts go to the insert-only
    ``tally_inbox`` (folded by the reaper), and an expired tombstone is ignored, not deleted."""
    st, buckets = ctx.st, ctx.buckets
    tickets: list[Ticket] = []
    new_per_bucket: dict[int, int] = {}
    dup_per_bucket: dict[int, int] = {}
    plain: list[tuple] = []
    for o in orders:
        bucket = bucket_for(o.routing, buckets)
        if o.key is None:
            plain.append((o.recipe, o.customer, o.payload_json, o.priority, bucket, now + o.delay, now))
            new_per_bucket[bucket] = new_per_bucket.get(bucket, 0) + 1
            continue
        if plain:
            tickets += _insert_plain(cur, ctx, plain)
            plain = []
        ticket = _insert_keyed(cur, ctx, o, bucket, now, inbox)
        tickets.append(ticket)
        counts = dup_per_bucket if ticket.duplicate else new_per_bucket
        counts[ticket.bucket] = counts.get(ticket.bucket, 0) + 1
    if plain:
        tickets += _insert_plain(cur, ctx, plain)
    if new_per_bucket:
        ctx.notify(cur)
    for bucket in sorted(set(new_per_bucket) | set(dup_per_bucket)):
        new, dup = new_per_bucket.get(bucket, 0), dup_per_bucket.get(bucket, 0)
        if inbox:
            cur.execute(st.inbox_submit, (bucket, new, dup))
        else:
            cur.execute(st.tally_submit, (new, dup, bucket))
    return tickets


def _insert_keyed(cur: Any, ctx: Ctx, o: NewOrder, bucket: int, now: float, inbox: bool) -> Ticket:
    """A new order, or the ticket of the order holding its key: unfinished, or finished less than
    ``dedup_window`` ago (its row, or its tombstone once the row was purged). An older key is freed here.

    While another transaction that inserted the same key is still open, the unique index makes this insert
    wait for it: its commit makes this one a duplicate, its rollback lets this one in."""
    st, window = ctx.st, ctx.settings.dedup_seconds
    cur.execute(st.tombstone, (o.key,))
    stone = cur.fetchone()
    if stone is not None:
        if float(stone[2]) > now:
            return Ticket(int(stone[0]), int(stone[1]), True)
        if not inbox:  # an expired tombstone is harmless; the purge drops it if this one does not
            cur.execute(st.drop_tombstone, (o.key, now))
    for _ in range(2):
        cur.execute(st.insert_order, {"key": o.key, "recipe": o.recipe, "customer": o.customer,
                                      "payload": o.payload_json, "priority": o.priority, "bucket": bucket,
                                      "run_at": now + o.delay, "now": now})
        row = cur.fetchone()
        if row is not None:
            return Ticket(int(row[0]), bucket, False)
        cur.execute(st.find_key, (o.key,))
        found = cur.fetchone()
        if found is None:  # the holder was purged between the insert and this read: start over
            raise Conflict("a dedup key's order vanished")
        number, first_bucket, state, finished_at = found
        if state in ("done", "burnt") and finished_at is not None and finished_at + window <= now:
            cur.execute(st.release_key, (number, now - window))  # compare-and-set: still finished that long ago
            if cur.fetchone() is not None:
                continue
        return Ticket(int(number), int(first_bucket), True)
    raise Conflict("a dedup key was taken again while it was being freed")


def _insert_plain(cur: Any, ctx: Ctx, rows: list[tuple]) -> list[Ticket]:
    if len(rows) == 1:
        cur.execute(ctx.st.insert_plain_returning, rows[0])
        return [Ticket(int(cur.fetchone()[0]), rows[0][4], False)]
    ids = ctx.store.dialect.bulk_insert(cur, ctx.st.insert_plain, rows)
    return [Ticket(order_id, row[4], False) for order_id, row in zip(ids, rows)]
