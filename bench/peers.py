"""The peers, each used as its authors intend, and the raw SQLite floor.

Every peer runs in this process on a fresh database: put N one by one (timed: its "submit one by one"),
then drain them with one consumer calling a no-op per job (timed). The durability reported for a peer is
its connection's effective ``PRAGMA synchronous``, read back after it opened, not what we assume.

- huey ``SqliteStorage``: ``enqueue`` / ``dequeue``. Its default leaves ``synchronous`` at SQLite's FULL;
  ``fsync=False`` sets it OFF. Dequeue deletes the row: at-most-once, no lease, no ack (a consumer killed
  after dequeue loses the job). Measured at the storage layer (no pickling of a Task, no result store write):
  the most favourable reading of huey.
- persist-queue ``SQLiteAckQueue``: ``put`` / ``get`` / ``ack``; one consumer (it is not multi-process safe).
  WAL, synchronous left at SQLite's default (FULL).
- litequeue ``LiteQueue``: ``put`` / ``pop`` / ``done``; it sets WAL + synchronous NORMAL itself.
- floor: kitchen's own schema (partial index ``orders_ready``) and kitchen's own claim / complete / ledger SQL
  text (the constants of ``kitchen.store.sql``), run through plain ``sqlite3`` with no engine around it. Per
  order: one claim transaction and one complete (+ ledger row) transaction. Batched: 100 claimed in one
  transaction, 100 completed in one. Submit floor: kitchen's INSERT for a keyless order
  (``INSERT_PLAIN_RETURNING``), one transaction per order.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from .common import SYNC_NAMES, checkpoint, fresh_dir


def _sync(con: sqlite3.Connection) -> str:
    return SYNC_NAMES.get(con.execute("PRAGMA synchronous").fetchone()[0], "?")


def _payload(i: int) -> bytes:
    return json.dumps({"recipe": "noop", "payload": {"i": i}}).encode()


def noop(_item: Any) -> None:
    return None


def huey(n: int, fsync: bool | None) -> dict[str, Any]:
    from huey.storage import SqliteStorage

    with fresh_dir("huey") as d:
        s = SqliteStorage(name="bench", filename=str(d / "huey.db"), fsync=fsync)
        sync = _sync(s.conn)
        items = [_payload(i) for i in range(n)]
        t = time.perf_counter()
        for item in items:
            s.enqueue(item)
        put = n / (time.perf_counter() - t)
        t = time.perf_counter()
        got = 0
        while True:
            data = s.dequeue()
            if data is None:
                break
            noop(data)
            got += 1
        drain = n / (time.perf_counter() - t)
        assert got == n and s.queue_size() == 0, (got, n)
        s.close()
    return {"submit": put, "drain": drain, "sync": sync}


def persist_queue(n: int) -> dict[str, Any]:
    from persistqueue import SQLiteAckQueue
    from persistqueue.exceptions import Empty

    with fresh_dir("persistqueue") as d:
        q = SQLiteAckQueue(str(d / "pq"), auto_commit=True)
        sync = _sync(q._conn)
        items = [{"recipe": "noop", "payload": {"i": i}} for i in range(n)]
        t = time.perf_counter()
        for item in items:
            q.put(item)
        put = n / (time.perf_counter() - t)
        t = time.perf_counter()
        got = 0
        while True:
            try:
                item = q.get(block=False)
            except Empty:
                break
            noop(item)
            q.ack(item)
            got += 1
        drain = n / (time.perf_counter() - t)
        assert got == n and q.acked_count() == n, (got, q.acked_count())
        q.close()
    return {"submit": put, "drain": drain, "sync": sync}


def litequeue(n: int) -> dict[str, Any]:
    from litequeue import LiteQueue

    with fresh_dir("litequeue") as d:
        q = LiteQueue(str(d / "lq.db"))
        sync = _sync(q.conn)
        items = [_payload(i).decode() for i in range(n)]
        t = time.perf_counter()
        for item in items:
            q.put(item)
        put = n / (time.perf_counter() - t)
        t = time.perf_counter()
        got = 0
        while True:
            msg = q.pop()
            if msg is None:
                break
            noop(msg.data)
            q.done(msg.message_id)
            got += 1
        drain = n / (time.perf_counter() - t)
        done = q.conn.execute(f"SELECT count(*) FROM {q.table} WHERE status = 2").fetchone()[0]
        assert got == n and done == n, (got, done)
        q.conn.close()
    return {"submit": put, "drain": drain, "sync": sync}


# -- the floor: kitchen's SQL without kitchen ---------------------------------------------------------------------


def _floor_sql() -> dict[str, str]:
    """kitchen's own statement text (SQLite dialect: the shared text as is) for the floor."""
    from kitchen.store import sql

    return {"claim": sql.CLAIM, "complete": sql.COMPLETE, "ledger": sql.LEDGER,
            "insert": sql.INSERT_PLAIN_RETURNING}


def _floor_db(d: Path, n: int) -> tuple[Path, int]:
    """kitchen's schema with one alive oven owning every bucket, and n queued orders."""
    from kitchen import Kitchen

    from .kitchen_bench import FILL_BATCH, noop_orders

    db = d / "floor.db"
    with Kitchen.open(str(db)) as k:
        for start in range(0, n, FILL_BATCH):
            k.submit_many(noop_orders(start, min(n, start + FILL_BATCH)))
        oven_id = k.join("floor").id
    checkpoint(db)
    return db, oven_id


def _connect(db: Path, sync: str) -> sqlite3.Connection:
    con = sqlite3.connect(str(db), isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(f"PRAGMA synchronous={sync}")
    return con


def floor_drain(n: int, sync: str, per_tx: int) -> float:
    """Claim (per_tx per transaction) then complete + ledger row (per_tx per transaction), kitchen's SQL."""
    sql = _floor_sql()
    claim, complete, ledger = sql["claim"], sql["complete"], sql["ledger"]
    with fresh_dir("floor") as d:
        db, oven = _floor_db(d, n)
        con = _connect(db, sync)
        ex = con.execute
        done = 0
        t = time.perf_counter()
        while True:
            now = time.time()
            ex("BEGIN IMMEDIATE")
            rows = ex(claim, {"oven": oven, "lease_until": now + 30, "now": now, "limit": per_tx}).fetchall()
            ex("COMMIT")
            if not rows:
                break
            for r in rows:  # ORDER_COLUMNS: id, recipe, customer, payload, priority, bucket, attempt, fence, key
                noop(r[3])
            now = time.time()
            ex("BEGIN IMMEDIATE")
            for r in rows:
                params = {"now": now, "result": None, "id": r[0], "oven": oven, "fence": r[7], "name": "floor"}
                if ex(complete, params).rowcount == 1:
                    ex(ledger, params)
                    done += 1
            ex("COMMIT")
        rate = n / (time.perf_counter() - t)
        left = ex("SELECT count(*) FROM orders WHERE state <> 'done'").fetchone()[0]
        rows = ex("SELECT count(*) FROM ledger").fetchone()[0]
        con.close()
        assert done == n and left == 0 and rows == n, (done, left, rows)
    return rate


def floor_submit(n: int, sync: str) -> float:
    """kitchen's INSERT, one transaction per order, values prepared outside the timing."""
    from kitchen import Kitchen

    insert = _floor_sql()["insert"]
    with fresh_dir("floor-submit") as d:
        db = d / "floor.db"
        Kitchen.open(str(db)).close()
        con = _connect(db, sync)
        ex = con.execute
        now = time.time()
        # recipe, customer, payload, priority, bucket, run_at, created_at
        rows = [("noop", None, json.dumps({"i": i}), 0, i % 64, now, now) for i in range(n)]
        t = time.perf_counter()
        for row in rows:
            ex("BEGIN IMMEDIATE")
            ex(insert, row).fetchone()
            ex("COMMIT")
        rate = n / (time.perf_counter() - t)
        assert ex("SELECT count(*) FROM orders").fetchone()[0] == n
        con.close()
    return rate
