"""The peewee models: one set per open database, so several kitchens can live in one process (tests do)."""

from __future__ import annotations

from types import SimpleNamespace

import peewee as pw

SCHEMA_VERSION = 1

STATES = ("queued", "cooking", "done", "burnt")


def build_models(db: pw.Database) -> SimpleNamespace:
    """Model classes bound to ``db``; table names are shared by every backend."""

    class Base(pw.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Meta(Base):
        key = pw.TextField(primary_key=True)
        value = pw.TextField()

        class Meta:
            table_name = "kitchen_meta"

    class Order(Base):
        id = pw.BigAutoField()
        dedup_key = pw.TextField(null=True)  # unique where set: see orders_dedup in INDEXES
        recipe = pw.TextField()
        customer = pw.TextField(null=True)
        payload = pw.TextField()
        priority = pw.IntegerField(default=0)
        bucket = pw.IntegerField()
        state = pw.TextField()
        run_at = pw.DoubleField()
        created_at = pw.DoubleField()
        started_at = pw.DoubleField(null=True)
        finished_at = pw.DoubleField(null=True)
        attempt = pw.IntegerField(default=0)
        fence = pw.IntegerField(default=0)
        oven_id = pw.BigIntegerField(null=True)
        lease_until = pw.DoubleField(null=True)
        progress = pw.IntegerField(default=0)
        result = pw.TextField(null=True)
        error = pw.TextField(null=True)

        class Meta:
            table_name = "orders"

    class Oven(Base):
        id = pw.BigAutoField()
        name = pw.TextField()
        host = pw.TextField()
        pid = pw.IntegerField()
        state = pw.TextField()
        joined_at = pw.DoubleField()
        heartbeat_at = pw.DoubleField()
        died_at = pw.DoubleField(null=True)
        cooked = pw.IntegerField(default=0)

        class Meta:
            table_name = "ovens"

    class Bucket(Base):
        bucket = pw.IntegerField(primary_key=True)
        oven_id = pw.BigIntegerField(null=True)
        prev_oven_id = pw.BigIntegerField(null=True)
        generation = pw.IntegerField(default=0)
        moved_at = pw.DoubleField(null=True)

        class Meta:
            table_name = "buckets"

    class Ledger(Base):
        id = pw.BigAutoField()
        order_id = pw.BigIntegerField(unique=True)
        oven_id = pw.BigIntegerField()
        oven_name = pw.TextField()
        fence = pw.IntegerField()
        at = pw.DoubleField()

        class Meta:
            table_name = "ledger"

    class Refusal(Base):
        id = pw.BigAutoField()
        order_id = pw.BigIntegerField()
        oven_id = pw.BigIntegerField()
        oven_name = pw.TextField()
        fence = pw.IntegerField()
        at = pw.DoubleField()
        reason = pw.TextField()

        class Meta:
            table_name = "refusals"

    class Event(Base):
        id = pw.BigAutoField()
        at = pw.DoubleField()
        kind = pw.TextField()
        oven_name = pw.TextField(null=True)
        order_id = pw.BigIntegerField(null=True)
        detail = pw.TextField(default="")

        class Meta:
            table_name = "events"

    class Tally(Base):
        """Per-bucket counters, written in the same transaction as the change they count.

        Sharding by bucket keeps ovens (who cook disjoint buckets) off each other's rows, and status
        reads sum B small rows instead of counting a million orders.
        """

        bucket = pw.IntegerField(primary_key=True)
        submitted = pw.BigIntegerField(default=0)
        done = pw.BigIntegerField(default=0)
        burnt = pw.BigIntegerField(default=0)
        duplicates = pw.BigIntegerField(default=0)
        refused = pw.BigIntegerField(default=0)
        requeued = pw.BigIntegerField(default=0)
        retried = pw.BigIntegerField(default=0)

        class Meta:
            table_name = "tally"

    return SimpleNamespace(Meta=Meta, Order=Order, Oven=Oven, Bucket=Bucket, Ledger=Ledger,
                           Refusal=Refusal, Event=Event, Tally=Tally,
                           all=[Meta, Order, Oven, Bucket, Ledger, Refusal, Event, Tally])


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
