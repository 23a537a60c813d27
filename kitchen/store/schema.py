"""Create the schema on first use, upgrade older ones in place, refuse newer or foreign databases.

A new database is made at version 1 (the tables of ``ddl_v1.py``, exactly as the first release made them)
and then upgraded like any old one, so every upgrade path is the one fresh databases take too. Upgrades
run in one write transaction under the dialect's schema lock and re-read the version inside it: two
processes opening an old database at once upgrade it once.

To change the schema: append a ``Migration`` (plain SQL per step; a dialect's own text where it differs),
bump nothing else — ``SCHEMA_VERSION`` is the last migration's number — and add an upgrade test.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kitchen.core.errors import SchemaError
from kitchen.core.events import EventKind

from .ddl_v1 import INDEXES, create_v1
from .dialect import Dialect
from .store import Store

MAX_BUCKETS = 4096
KITCHEN_TABLES = ("kitchen_meta", "orders", "ovens", "buckets", "ledger", "refusals", "events", "tally",
                  "tally_inbox")


@dataclass(frozen=True)
class Migration:
    """One step up: ``version`` is the schema version after it runs."""

    version: int
    what: str
    up: Callable[[Any, Dialect], None]


# The first release's refusal sentences (oven.py's _refuse), read back into code, current fence and order state.
_V1_REFUSALS = (
    (re.compile(r"stale fence -?\d+: order is being re-cooked under fence (-?\d+)"), "recooking", "cooking"),
    (re.compile(r"stale fence -?\d+: order already done \(fence (-?\d+)\)"), "already_done", "done"),
    (re.compile(r"stale fence -?\d+: order was taken back \((\w+)\)"), "taken_back", None),
    (re.compile(r"no such order"), "no_such_order", None),
)


def _v1_refusal(reason: str) -> tuple[str | None, int | None, str | None]:
    """(code, current_fence, order_state) for a first-release refusal sentence; no code for text it never wrote."""
    for pattern, code, state in _V1_REFUSALS:
        found = pattern.fullmatch(reason)
        if found is None:
            continue
        if code == "taken_back":
            return code, None, found.group(1)
        if code == "no_such_order":
            return code, None, None
        return code, int(found.group(1)), state
    return None, None, None


def _v2_typed_events(cur: Any, dialect: Dialect) -> None:
    """Events carry their facts as JSON (``data``) and refusals a reason code: prose is made by the faces.

    Old events keep their sentence in ``detail`` (``data`` stays NULL). Old refusals keep their prose in
    ``reason``; their code, and the current fence and order state the sentence names, are read from it once,
    here, so they render as the same sentence (a sentence the first release never wrote keeps no code and is
    shown as it is).
    """
    cur.execute("ALTER TABLE events ADD COLUMN data TEXT")
    cur.execute("ALTER TABLE refusals ADD COLUMN code TEXT")
    cur.execute("ALTER TABLE refusals ADD COLUMN current_fence INTEGER")
    cur.execute("ALTER TABLE refusals ADD COLUMN order_state TEXT")
    cur.execute("SELECT DISTINCT reason FROM refusals")
    updates = [(*_v1_refusal(reason), reason) for (reason,) in cur.fetchall()]
    updates = [u for u in updates if u[0] is not None]
    if updates:
        cur.executemany(dialect.compile("UPDATE refusals SET code = ?, current_fence = ?, order_state = ?"
                                        " WHERE reason = ?"), updates)


# Before v3 two orders of one customer could cook at once; the lane backstop (a unique index) cannot be built
# over such a lane, so all but its oldest cooking order are handed back (no attempt counted, as a graceful
# release does). Their ovens' completions are then refused by the fence: cooked again, completed once.
_V3_HAND_BACK = (
    "UPDATE orders SET state = 'queued', lease_until = NULL, progress = 0, attempt = attempt - 1"
    " WHERE state = 'cooking' AND customer IS NOT NULL AND id > (SELECT min(c.id) FROM orders c"
    " WHERE c.state = 'cooking' AND c.customer = orders.customer) RETURNING id, customer")
V3_INDEXES = (
    # Lanes: a customer's queued orders by age (is an older one waiting?), and at most one cooking per customer.
    "CREATE INDEX IF NOT EXISTS orders_lane ON orders (customer, id) WHERE state = 'queued' AND customer IS NOT NULL",
    "CREATE UNIQUE INDEX IF NOT EXISTS orders_lane_cooking ON orders (customer)"
    " WHERE state = 'cooking' AND customer IS NOT NULL",
    # Status's "no oven can cook 'soup'": the distinct recipes waiting, without reading the queue.
    "CREATE INDEX IF NOT EXISTS orders_waiting_recipe ON orders (recipe) WHERE state = 'queued'",
)


def _v3_lanes_and_menus(cur: Any, dialect: Dialect) -> None:
    """Ovens record their menu (``ovens.menu``, a JSON list; NULL: cooks anything); indexes for customer lanes
    and for the recipes waiting. A lane with several orders cooking keeps its oldest (see ``_V3_HAND_BACK``);
    each order handed back is a 'released' event."""
    cur.execute("ALTER TABLE ovens ADD COLUMN menu TEXT")
    cur.execute(_V3_HAND_BACK)
    handed_back = sorted((int(order_id), str(customer)) for order_id, customer in cur.fetchall())
    if handed_back:
        now = time.time()
        events = [(now, EventKind.RELEASED.value, order_id, json.dumps({"why": "lane", "customer": customer}))
                  for order_id, customer in handed_back]
        cur.executemany(dialect.compile("INSERT INTO events (at, kind, oven_name, order_id, detail, data)"
                                        " VALUES (?, ?, NULL, ?, '', ?)"), events)
    for statement in V3_INDEXES:
        cur.execute(statement)


# The ready index carries everything a claim or status tests of a candidate (recipe, customer, and state —
# constant here, but SQLite reads the table for a column the index lacks), so skipping a candidate never reads
# its row and status's "which recipes wait" is a walk of the index alone. It replaces v3's
# orders_waiting_recipe: a second index on every queued order cost each submit and claim ~10% (bench/RESULTS.md).
V4_READY = ("CREATE INDEX IF NOT EXISTS orders_ready ON orders (priority DESC, id, bucket, run_at, recipe, customer,"
            " state) WHERE state = 'queued'")


def _v4_ready_covers_recipe(cur: Any, dialect: Dialect) -> None:
    """One index over the queue instead of two: orders_ready covers a claim's tests; orders_waiting_recipe goes."""
    cur.execute("DROP INDEX IF EXISTS orders_waiting_recipe")
    cur.execute("DROP INDEX IF EXISTS orders_ready")
    cur.execute(V4_READY)


def _v5_tracebacks_and_cancel(cur: Any, dialect: Dialect) -> None:
    """A failure keeps its traceback beside its error (``orders.traceback``); orders can be cancelled: when a
    cancel was asked (``orders.cancel_at``, also set on a cooking order its oven is still to hear about) and a
    per-bucket count of cancelled orders (``tally.cancelled``), so status stays O(buckets)."""
    cur.execute("ALTER TABLE orders ADD COLUMN traceback TEXT")
    cur.execute("ALTER TABLE orders ADD COLUMN cancel_at DOUBLE PRECISION")
    cur.execute("ALTER TABLE tally ADD COLUMN cancelled BIGINT NOT NULL DEFAULT 0")


V6_RETENTION = (
    # A key whose order was purged inside its dedup window still dedups until ``until`` (then it is free).
    "CREATE TABLE IF NOT EXISTS dedup_tombstones (dedup_key TEXT NOT NULL PRIMARY KEY, order_id BIGINT NOT NULL,"
    " bucket INTEGER NOT NULL, until DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX IF NOT EXISTS dedup_tombstones_until ON dedup_tombstones (until)",
    # The purge: burnt orders by age (done ones are found through the ledger, in completion order, so the
    # completion path maintains no extra index), and a purged order's events and refusals (both rare rows).
    "CREATE INDEX IF NOT EXISTS orders_burnt_at ON orders (finished_at) WHERE state = 'burnt'",
    "CREATE INDEX IF NOT EXISTS events_order ON events (order_id) WHERE order_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS refusals_order ON refusals (order_id)",
)


def _v6_retention(cur: Any, dialect: Dialect) -> None:
    """Retention: dedup tombstones and the indexes the purge walks. Nothing is purged here: the reaper does it
    in small batches once the database is open (an old database's whole history at once would be one long
    write). SQLite's auto_vacuum mode is fixed when a file is made (see SqliteDialect.after_connect); an
    older file keeps reusing its free pages instead of shrinking."""
    for statement in V6_RETENTION:
        cur.execute(statement)


def _v7_tally_inbox(cur: Any, dialect: Dialect) -> None:
    """An insert-only inbox beside the per-bucket tally. A submit inside an application's own transaction
    (``submit(..., connection=conn)``) may stay open for long: it must not hold a ``tally`` row, which every
    completion in its bucket updates. It inserts its counts here instead; readers add the inbox to the tally,
    and the reaper folds it in with short transactions. Both engines get the table (one schema everywhere),
    though only PostgreSQL writes to it."""
    cur.execute(f"CREATE TABLE IF NOT EXISTS tally_inbox (id {dialect.id_column}, bucket INTEGER NOT NULL,"
                " submitted BIGINT NOT NULL, duplicates BIGINT NOT NULL)")


V8_ALIVE = "CREATE INDEX IF NOT EXISTS ovens_alive ON ovens (id) WHERE state = 'alive'"


def _v8_alive_ovens_by_id(cur: Any, dialect: Dialect) -> None:
    """Live ovens indexed by id, no longer by ``heartbeat_at``: every heartbeat, and every completion (which
    counts as one), rewrote the old index's entry: one more page written per oven transaction on SQLite, and
    no HOT update of the oven's row on PostgreSQL. The reaper tests ``heartbeat_at`` on the few live rows."""
    cur.execute("DROP INDEX IF EXISTS ovens_alive")
    cur.execute(V8_ALIVE)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(2, "typed events and refusal codes", _v2_typed_events),
    Migration(3, "customer lanes, oven menus, waiting recipes", _v3_lanes_and_menus),
    Migration(4, "one covering index over the queue", _v4_ready_covers_recipe),
    Migration(5, "tracebacks, cancelled orders", _v5_tracebacks_and_cancel),
    Migration(6, "retention: dedup tombstones, purge indexes", _v6_retention),
    Migration(7, "tally inbox for submits on an application's connection", _v7_tally_inbox),
    Migration(8, "live ovens indexed by id, not by heartbeat", _v8_alive_ovens_by_id),
)
SCHEMA_VERSION = MIGRATIONS[-1].version if MIGRATIONS else 1


def ensure_schema(store: Store, buckets: int, now: float) -> int:
    """Create or upgrade the tables if needed; return the database's fixed bucket count."""
    dialect = store.dialect
    dialect.check_target(store)
    if "kitchen_meta" not in store.read(dialect.tables):
        store.write(_create, dialect, buckets, now)
    meta = _checked_meta(store, store.read(_meta))
    if meta["schema_version"] < SCHEMA_VERSION:
        store.write(_upgrade, store)
    return meta["buckets"]


def _meta(cur: Any) -> dict[str, str]:
    cur.execute("SELECT key, value FROM kitchen_meta")
    return {str(k): str(v) for k, v in cur.fetchall()}


def _checked_meta(store: Store, meta: dict[str, str]) -> dict[str, int]:
    """Whole numbers in range, or one SchemaError line: a tampered table must not route orders anywhere."""
    where = store.label
    out: dict[str, int] = {}
    for key in ("schema_version", "buckets", "ring_generation"):
        if key not in meta:
            raise SchemaError(f"{where} has an incomplete kitchen schema (kitchen_meta has no {key})")
        try:
            out[key] = int(meta[key])
        except ValueError:
            raise SchemaError(f"{where}: kitchen_meta {key} is {meta[key][:40]!r}, not a whole number") from None
    if out["schema_version"] > SCHEMA_VERSION:
        raise SchemaError(f"{where} has schema version {out['schema_version']}, newer than this kitchen's "
                          f"{SCHEMA_VERSION}; upgrade kitchen-queue")
    if out["schema_version"] < 1:
        raise SchemaError(f"{where} has an incomplete kitchen schema (version {out['schema_version']})")
    if not 1 <= out["buckets"] <= MAX_BUCKETS:
        raise SchemaError(f"{where}: kitchen_meta buckets is {out['buckets']}, outside 1..{MAX_BUCKETS}")
    return out


def _create(cur: Any, dialect: Dialect, buckets: int, now: float) -> None:
    dialect.lock_schema(cur)
    existing = dialect.tables(cur)
    if "kitchen_meta" in existing:
        return
    if existing - {"sqlite_sequence"} and not dialect.shares_database:
        raise SchemaError(f"{dialect.target.label} already holds other tables; it is not a kitchen database")
    clash = sorted(existing & set(KITCHEN_TABLES))
    if clash:  # an application's table of the same name: never create beside it, alter it, or write into it
        raise SchemaError(f"{dialect.target.label}: schema {dialect.target.schema} already has a table {clash[0]!r}"
                          " that is not kitchen's; give kitchen a schema of its own (?schema=NAME)")
    create_v1(cur, dialect.v1_tables, dialect.compile, buckets, now)


def _upgrade(cur: Any, store: Store) -> None:
    dialect = store.dialect
    dialect.lock_schema(cur)
    version = _checked_meta(store, _meta(cur))["schema_version"]
    for step in MIGRATIONS:
        if step.version > version:
            step.up(cur, dialect)
            version = step.version
    cur.execute(dialect.compile("UPDATE kitchen_meta SET value = ? WHERE key = 'schema_version'"), (str(version),))
    for statement in INDEXES:
        cur.execute(statement)
