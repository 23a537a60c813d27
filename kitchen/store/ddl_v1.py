"""Schema version 1, exactly as the first release created it, for each dialect.

Frozen: a new database is made at version 1 and then upgraded by the migrations in schema.py, so this
text never changes (a change goes in a new migration).
"""

from __future__ import annotations

from typing import Any

SQLITE_TABLES = (
    'CREATE TABLE IF NOT EXISTS "kitchen_meta" ("key" TEXT NOT NULL PRIMARY KEY, "value" TEXT NOT NULL)',
    'CREATE TABLE IF NOT EXISTS "orders" ("id" INTEGER NOT NULL PRIMARY KEY, "dedup_key" TEXT, "recipe" TEXT NOT NULL,'
    ' "customer" TEXT, "payload" TEXT NOT NULL, "priority" INTEGER NOT NULL, "bucket" INTEGER NOT NULL,'
    ' "state" TEXT NOT NULL, "run_at" REAL NOT NULL, "created_at" REAL NOT NULL, "started_at" REAL,'
    ' "finished_at" REAL, "attempt" INTEGER NOT NULL, "fence" INTEGER NOT NULL, "oven_id" INTEGER,'
    ' "lease_until" REAL, "progress" INTEGER NOT NULL, "result" TEXT, "error" TEXT)',
    'CREATE TABLE IF NOT EXISTS "ovens" ("id" INTEGER NOT NULL PRIMARY KEY, "name" TEXT NOT NULL, "host" TEXT NOT NULL,'
    ' "pid" INTEGER NOT NULL, "state" TEXT NOT NULL, "joined_at" REAL NOT NULL, "heartbeat_at" REAL NOT NULL,'
    ' "died_at" REAL, "cooked" INTEGER NOT NULL)',
    'CREATE TABLE IF NOT EXISTS "buckets" ("bucket" INTEGER NOT NULL PRIMARY KEY, "oven_id" INTEGER,'
    ' "prev_oven_id" INTEGER, "generation" INTEGER NOT NULL, "moved_at" REAL)',
    'CREATE TABLE IF NOT EXISTS "ledger" ("id" INTEGER NOT NULL PRIMARY KEY, "order_id" INTEGER NOT NULL,'
    ' "oven_id" INTEGER NOT NULL, "oven_name" TEXT NOT NULL, "fence" INTEGER NOT NULL, "at" REAL NOT NULL)',
    'CREATE UNIQUE INDEX IF NOT EXISTS "ledger_order_id" ON "ledger" ("order_id")',
    'CREATE TABLE IF NOT EXISTS "refusals" ("id" INTEGER NOT NULL PRIMARY KEY, "order_id" INTEGER NOT NULL,'
    ' "oven_id" INTEGER NOT NULL, "oven_name" TEXT NOT NULL, "fence" INTEGER NOT NULL, "at" REAL NOT NULL,'
    ' "reason" TEXT NOT NULL)',
    'CREATE TABLE IF NOT EXISTS "events" ("id" INTEGER NOT NULL PRIMARY KEY, "at" REAL NOT NULL, "kind" TEXT NOT NULL,'
    ' "oven_name" TEXT, "order_id" INTEGER, "detail" TEXT NOT NULL)',
    'CREATE TABLE IF NOT EXISTS "tally" ("bucket" INTEGER NOT NULL PRIMARY KEY, "submitted" INTEGER NOT NULL,'
    ' "done" INTEGER NOT NULL, "burnt" INTEGER NOT NULL, "duplicates" INTEGER NOT NULL, "refused" INTEGER NOT NULL,'
    ' "requeued" INTEGER NOT NULL, "retried" INTEGER NOT NULL)',
)

POSTGRES_TABLES = (
    'CREATE TABLE IF NOT EXISTS "kitchen_meta" ("key" TEXT NOT NULL PRIMARY KEY, "value" TEXT NOT NULL)',
    'CREATE TABLE IF NOT EXISTS "orders" ("id" BIGSERIAL NOT NULL PRIMARY KEY, "dedup_key" TEXT,'
    ' "recipe" TEXT NOT NULL, "customer" TEXT, "payload" TEXT NOT NULL, "priority" INTEGER NOT NULL,'
    ' "bucket" INTEGER NOT NULL, "state" TEXT NOT NULL, "run_at" DOUBLE PRECISION NOT NULL,'
    ' "created_at" DOUBLE PRECISION NOT NULL, "started_at" DOUBLE PRECISION, "finished_at" DOUBLE PRECISION,'
    ' "attempt" INTEGER NOT NULL, "fence" INTEGER NOT NULL, "oven_id" BIGINT, "lease_until" DOUBLE PRECISION,'
    ' "progress" INTEGER NOT NULL, "result" TEXT, "error" TEXT)',
    'CREATE TABLE IF NOT EXISTS "ovens" ("id" BIGSERIAL NOT NULL PRIMARY KEY, "name" TEXT NOT NULL,'
    ' "host" TEXT NOT NULL, "pid" INTEGER NOT NULL, "state" TEXT NOT NULL, "joined_at" DOUBLE PRECISION NOT NULL,'
    ' "heartbeat_at" DOUBLE PRECISION NOT NULL, "died_at" DOUBLE PRECISION, "cooked" INTEGER NOT NULL)',
    'CREATE TABLE IF NOT EXISTS "buckets" ("bucket" INTEGER NOT NULL PRIMARY KEY, "oven_id" BIGINT,'
    ' "prev_oven_id" BIGINT, "generation" INTEGER NOT NULL, "moved_at" DOUBLE PRECISION)',
    'CREATE TABLE IF NOT EXISTS "ledger" ("id" BIGSERIAL NOT NULL PRIMARY KEY, "order_id" BIGINT NOT NULL,'
    ' "oven_id" BIGINT NOT NULL, "oven_name" TEXT NOT NULL, "fence" INTEGER NOT NULL,'
    ' "at" DOUBLE PRECISION NOT NULL)',
    'CREATE UNIQUE INDEX IF NOT EXISTS "ledger_order_id" ON "ledger" ("order_id")',
    'CREATE TABLE IF NOT EXISTS "refusals" ("id" BIGSERIAL NOT NULL PRIMARY KEY, "order_id" BIGINT NOT NULL,'
    ' "oven_id" BIGINT NOT NULL, "oven_name" TEXT NOT NULL, "fence" INTEGER NOT NULL,'
    ' "at" DOUBLE PRECISION NOT NULL, "reason" TEXT NOT NULL)',
    'CREATE TABLE IF NOT EXISTS "events" ("id" BIGSERIAL NOT NULL PRIMARY KEY, "at" DOUBLE PRECISION NOT NULL,'
    ' "kind" TEXT NOT NULL, "oven_name" TEXT, "order_id" BIGINT, "detail" TEXT NOT NULL)',
    'CREATE TABLE IF NOT EXISTS "tally" ("bucket" INTEGER NOT NULL PRIMARY KEY, "submitted" BIGINT NOT NULL,'
    ' "done" BIGINT NOT NULL, "burnt" BIGINT NOT NULL, "duplicates" BIGINT NOT NULL, "refused" BIGINT NOT NULL,'
    ' "requeued" BIGINT NOT NULL, "retried" BIGINT NOT NULL)',
)

INDEXES = (
    # Submission dedup: unique only where a key is given, so keyless orders (most) pay for no index entry.
    "CREATE UNIQUE INDEX IF NOT EXISTS orders_dedup ON orders (dedup_key) WHERE dedup_key IS NOT NULL",
    # Claim: walk ready orders by priority then age; bucket and run_at are read from the index itself.
    "CREATE INDEX IF NOT EXISTS orders_ready ON orders (priority DESC, id, bucket, run_at) WHERE state = 'queued'",
    # Heartbeat lease renewal, reaper requeue by oven, lease expiry: only cooking orders are indexed.
    "CREATE INDEX IF NOT EXISTS orders_cooking ON orders (oven_id, lease_until) WHERE state = 'cooking'",
    "CREATE INDEX IF NOT EXISTS orders_burnt ON orders (id) WHERE state = 'burnt'",
    "CREATE INDEX IF NOT EXISTS ovens_alive ON ovens (heartbeat_at) WHERE state = 'alive'",
    "CREATE INDEX IF NOT EXISTS ovens_name ON ovens (name, id)",
    # The TUI's "latest ring move" and event filters: newest event of a kind without scanning the log.
    "CREATE INDEX IF NOT EXISTS events_kind ON events (kind, id)",
)


def create_v1(cur: Any, tables: tuple[str, ...], compile_sql: Any, buckets: int, now: float) -> None:
    """Version 1's tables, indexes and rows: meta, one bucket row and one tally row per bucket."""
    for statement in tables + INDEXES:
        cur.execute(statement)
    for key, value in (("schema_version", 1), ("buckets", buckets), ("ring_generation", 0), ("created_at", now)):
        cur.execute(compile_sql("INSERT INTO kitchen_meta (key, value) VALUES (?, ?)"), (key, str(value)))
    every = [(b,) for b in range(buckets)]
    cur.executemany(compile_sql("INSERT INTO buckets (bucket, generation) VALUES (?, 0)"), every)
    cur.executemany(compile_sql("INSERT INTO tally (bucket, submitted, done, burnt, duplicates, refused, requeued,"
                                " retried) VALUES (?, 0, 0, 0, 0, 0, 0, 0)"), every)
