"""What each statement of kitchen's hot transactions costs: plain sqlite3 on kitchen's own schema.

    uv run --group dev --group bench python -m bench.anatomy [-n 10000]

Drain: the oven loop at prefetch 1 commits one transaction per order (group commit: complete + ledger row +
tally + oven counter + claim of the next order). Each variant drops or changes one piece and reports orders/s
and WAL frames (pages written) per transaction, at NORMAL and FULL. Submit: kitchen's INSERT + tally update
against variants. Variants that change the schema are prototypes of engine changes (see bench/README.md),
measured here so their gain is known before anyone edits kitchen/.
Also: two processes running the floor's per-order claim/complete with SQLite's busy handler vs. a flock()
queue in front of BEGIN IMMEDIATE (how much the busy handler's millisecond sleeps cost a second oven).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import multiprocessing as mp
import os
import sqlite3
import time
from pathlib import Path

from .common import fresh_dir

PARTIAL_DEDUP = ('DROP INDEX "orders_dedup_key"',
                 'CREATE UNIQUE INDEX "orders_dedup_key" ON "orders" ("dedup_key") WHERE dedup_key IS NOT NULL')
LEDGER_BY_ORDER = ('DROP TABLE ledger',
                   'CREATE TABLE ledger (order_id INTEGER PRIMARY KEY, oven_id INTEGER NOT NULL,'
                   ' oven_name TEXT NOT NULL, fence INTEGER NOT NULL, at REAL NOT NULL)')


def _sql() -> dict[str, str]:
    from kitchen.sql import TEXT

    return {k: v.replace("{skip_locked}", "") for k, v in TEXT.items()}


def _db(d: Path, n: int, schema_changes: tuple[str, ...] = ()) -> tuple[Path, int]:
    from kitchen import Kitchen

    from .kitchen_bench import FILL_BATCH, noop_orders

    db = d / "a.db"
    with Kitchen.open(str(db)) as k:
        for s in range(0, n, FILL_BATCH):
            k.submit_many(noop_orders(s, min(n, s + FILL_BATCH)))
        oven = k.join("anatomy").id
    con = sqlite3.connect(str(db), isolation_level=None)
    for stmt in schema_changes:
        con.execute(stmt)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return db, oven


def _connect(db: Path, sync: str) -> sqlite3.Connection:
    con = sqlite3.connect(str(db), isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(f"PRAGMA synchronous={sync}")
    con.execute("PRAGMA wal_autocheckpoint=0")  # frames per transaction = WAL growth / frame size
    return con


def _frames(db: Path) -> int:
    wal = Path(str(db) + "-wal")
    return max(0, (wal.stat().st_size - 32) // (4096 + 24)) if wal.exists() else 0


DRAIN_VARIANTS = {
    "kitchen group commit (complete+ledger+tally+oven_cooked+claim next)": ("ledger", "tally", "cooked"),
    "- oven_cooked update (count it in the heartbeat instead)": ("ledger", "tally"),
    "- oven_cooked - tally_done": ("ledger",),
    "- oven_cooked, ledger keyed by order_id (no 2nd index)": ("ledger_pk", "tally"),
    "state machine only (complete + claim next; no ledger/tally/counter)": (),
}


def drain_variant(n: int, sync: str, parts: tuple[str, ...]) -> dict[str, float]:
    q = _sql()
    changes = LEDGER_BY_ORDER if "ledger_pk" in parts else ()
    ledger_sql = ("INSERT INTO ledger (order_id, oven_id, oven_name, fence, at) VALUES (?, ?, ?, ?, ?)"
                  " ON CONFLICT (order_id) DO NOTHING")
    with fresh_dir("anatomy") as d:
        db, oven = _db(d, n, changes)
        con = _connect(db, sync)
        ex = con.execute
        now = time.time()
        ex("BEGIN IMMEDIATE")
        held = ex(q["claim"], (oven, now + 30, now, now, oven, oven, 1)).fetchall()
        ex("COMMIT")
        f0, t, done = _frames(db), time.perf_counter(), 0
        while held:
            r = held[0]
            now = time.time()
            ex("BEGIN IMMEDIATE")
            if ex(q["complete"], (now, None, r[0], oven, r[7])).rowcount == 1:
                done += 1
                if "ledger" in parts or "ledger_pk" in parts:
                    ex(ledger_sql if "ledger_pk" in parts else q["ledger"], (r[0], oven, "anatomy", r[7], now))
                if "tally" in parts:
                    ex(q["tally_done"], (1, r[5]))
                if "cooked" in parts:
                    ex(q["oven_cooked"], (1, oven))
            held = ex(q["claim"], (oven, now + 30, now, now, oven, oven, 1)).fetchall()
            ex("COMMIT")
        dt = time.perf_counter() - t
        frames = _frames(db) - f0
        con.close()
        assert done == n
    return {"orders_per_s": n / dt, "frames_per_tx": frames / n}


SUBMIT_VARIANTS = {
    "kitchen submit SQL (INSERT .. RETURNING + tally update)": ("tally",),
    "INSERT only (the floor)": (),
    "INSERT + tally, dedup_key index partial (WHERE dedup_key IS NOT NULL)": ("tally", "partial"),
}


def submit_variant(n: int, sync: str, parts: tuple[str, ...]) -> dict[str, float]:
    from kitchen import Kitchen

    q = _sql()
    insert = q["insert_order"]
    if "partial" in parts:
        insert = insert.replace("ON CONFLICT (dedup_key) DO NOTHING",
                                "ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING")
    with fresh_dir("anatomy-submit") as d:
        db = d / "s.db"
        Kitchen.open(str(db)).close()
        if "partial" in parts:
            c = sqlite3.connect(str(db), isolation_level=None)
            for s in PARTIAL_DEDUP:
                c.execute(s)
            c.close()
        con = _connect(db, sync)
        ex = con.execute
        now = time.time()
        rows = [(None, "noop", None, json.dumps({"i": i}), 0, i % 64, now, now) for i in range(n)]
        f0, t = _frames(db), time.perf_counter()
        for row in rows:
            ex("BEGIN IMMEDIATE")
            ex(insert, row).fetchone()
            if "tally" in parts:
                ex(q["tally_submit"], (1, 0, row[5]))
            ex("COMMIT")
        dt = time.perf_counter() - t
        frames = _frames(db) - f0
        con.close()
    return {"orders_per_s": n / dt, "frames_per_tx": frames / n}


# -- two writers: SQLite's busy handler vs a flock queue ------------------------------------------------------------


def _writer(db: str, oven: int, mode: str, batch: int, go, out) -> None:
    q = _sql()
    con = sqlite3.connect(db, isolation_level=None, timeout=5.0)
    con.execute("PRAGMA synchronous=NORMAL")
    ex = con.execute
    lock = os.open(db + ".writelock", os.O_CREAT | os.O_RDWR, 0o600) if mode != "busy" else None

    def take() -> None:
        if mode == "block":  # sleep in the kernel until the holder unlocks
            fcntl.flock(lock, fcntl.LOCK_EX)
            return
        # "poll": non-blocking tries with growing sleeps, capped at 2 ms (kitchen/gate.py's shape);
        # "poll100": the same capped at 100 µs
        delay, cap = 0.00002, (0.0001 if mode == "poll100" else 0.002)
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                time.sleep(delay)
                delay = min(delay * 1.5, cap)

    def tx(fn):
        if lock is not None:
            take()
        try:
            ex("BEGIN IMMEDIATE")
            try:
                result = fn()
            except BaseException:
                ex("ROLLBACK")
                raise
            ex("COMMIT")
            return result
        finally:
            if lock is not None:
                fcntl.flock(lock, fcntl.LOCK_UN)

    go.wait()
    done = 0
    held = tx(lambda: ex(q["claim"], (oven, time.time() + 30, 0, time.time(), oven, oven, batch)).fetchall())
    while held:
        rows = held

        def step():
            now = time.time()
            for r in rows:
                ex(q["complete"], (now, None, r[0], oven, r[7]))
                ex(q["ledger"], (r[0], oven, "w", r[7], now))
                ex(q["tally_done"], (1, r[5]))
            ex(q["oven_cooked"], (len(rows), oven))
            return ex(q["claim"], (oven, now + 30, now, now, oven, oven, batch)).fetchall()

        held = tx(step)
        done += len(rows)
    out.put((done, time.monotonic()))


def two_writers(n: int, writers: int, mode: str, batch: int = 1) -> float:
    """``writers`` processes, each owning half the buckets, kitchen's group-commit transaction per order."""
    from kitchen import Kitchen

    from .kitchen_bench import FILL_BATCH, noop_orders

    with fresh_dir("anatomy-writers") as d:
        db = d / "w.db"
        with Kitchen.open(str(db)) as k:
            for s in range(0, n, FILL_BATCH):
                k.submit_many(noop_orders(s, min(n, s + FILL_BATCH)))
            ids = [k.join(f"w{i}").id for i in range(writers)]
        ctx = mp.get_context("fork")
        go, out = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_writer, args=(str(db), oid, mode, batch, go, out)) for oid in ids]
        for p in procs:
            p.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        go.set()
        results = [out.get(timeout=300) for _ in procs]
        for p in procs:
            p.join()
        assert sum(r[0] for r in results) == n, results
        return n / (max(r[1] for r in results) - t0)


def batch_prototype(n: int, batch: int = 1000) -> dict[str, float]:
    """submit_many as is vs a prototype: same validation (Kitchen._prepare), ids assigned inside the write
    transaction (max(id)+1..., safe under BEGIN IMMEDIATE), one executemany INSERT, bucket = stable_hash(customer
    or order id) as issue 2 specifies, one tally update per bucket. Keyless orders only (keyed ones would keep
    the per-row ON CONFLICT path)."""
    from kitchen import Kitchen
    from kitchen.hashing import bucket_for
    from kitchen.sql import TEXT

    from .kitchen_bench import noop_orders

    ins = ("INSERT INTO orders (id, dedup_key, recipe, customer, payload, priority, bucket, state, run_at, created_at,"
           " attempt, fence, progress) VALUES (?, NULL, ?, ?, ?, ?, ?, 'queued', ?, ?, 0, 0, 0)")
    out = {}
    with fresh_dir("anatomy-batch") as d:
        k = Kitchen.open(str(d / "k.db"))
        specs = [noop_orders(s, min(n, s + batch)) for s in range(0, n, batch)]
        t = time.perf_counter()
        for chunk in specs:
            k.submit_many(chunk)
        out["submit_many as is"] = n / (time.perf_counter() - t)

        def tx(cur, prepared, now):
            cur.execute("SELECT coalesce(max(id), 0) FROM orders")
            base = cur.fetchone()[0]
            rows, per = [], {}
            for i, o in enumerate(prepared, 1):
                b = bucket_for(o.customer or str(base + i), k.buckets)
                per[b] = per.get(b, 0) + 1
                rows.append((base + i, o.recipe, o.customer, o.payload_json, o.priority, b, now + o.delay, now))
            cur.executemany(ins, rows)
            for b, c in per.items():
                cur.execute(TEXT["tally_submit"], (c, 0, b))
            return len(rows)

        t = time.perf_counter()
        for chunk in specs:
            prepared = [k._prepare(s["recipe"], s.get("payload"), None, None, 0, 0.0) for s in chunk]
            k.backend.write(tx, prepared, time.time())
        out["prototype: explicit ids + executemany"] = n / (time.perf_counter() - t)
        t = time.perf_counter()
        for chunk in specs:
            [k._prepare(s["recipe"], s.get("payload"), None, None, 0, 0.0) for s in chunk]
        out["  (validation alone, Kitchen._prepare)"] = n / (time.perf_counter() - t)
        k.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.anatomy")
    p.add_argument("-n", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--only", default="drain,submit,batch,writers")
    a = p.parse_args(argv)
    only = a.only.split(",")

    def best(fn, *args):
        runs = [fn(*args) for _ in range(a.repeats)]
        runs.sort(key=lambda r: r["orders_per_s"] if isinstance(r, dict) else r)
        return runs[len(runs) // 2]

    if "drain" in only:
        anatomy_drain(a, best)
    if "submit" in only:
        anatomy_submit(a, best)
    if "batch" in only:
        print(f"\nBatch submit, {10 * a.n:,} orders in calls of 1,000, NORMAL:")
        print("| variant | orders/s |\n|---|---:|")
        for label, rate in batch_prototype(10 * a.n).items():
            print(f"| {label} | {rate:,.0f} |", flush=True)
    if "writers" in only:
        anatomy_writers(a)
    return 0


def anatomy_drain(a, best) -> None:
    print(f"Drain, one transaction per order (prefetch 1), {a.n:,} orders, median of {a.repeats}:")
    print("| variant | NORMAL orders/s | FULL orders/s | WAL frames/tx |\n|---|---:|---:|---:|")
    for label, parts in DRAIN_VARIANTS.items():
        nr = best(drain_variant, a.n, "NORMAL", parts)
        fr = best(drain_variant, max(a.n // 2, 1000), "FULL", parts)
        print(f"| {label} | {nr['orders_per_s']:,.0f} | {fr['orders_per_s']:,.0f} | {nr['frames_per_tx']:.2f} |",
              flush=True)


def anatomy_submit(a, best) -> None:
    print(f"\nSubmit one by one, {a.n:,} orders, median of {a.repeats}:")
    print("| variant | NORMAL orders/s | WAL frames/tx |\n|---|---:|---:|")
    for label, parts in SUBMIT_VARIANTS.items():
        nr = best(submit_variant, a.n, "NORMAL", parts)
        print(f"| {label} | {nr['orders_per_s']:,.0f} | {nr['frames_per_tx']:.2f} |", flush=True)


def anatomy_writers(a) -> None:
    print(f"\nWriters in separate processes, kitchen's group-commit transaction, NORMAL, {a.n:,} orders, median of "
          f"{a.repeats}:")
    print("| orders per tx | writers | SQLite busy handler only | flock, blocking (kernel wake-up) |"
          " flock polled, sleeps 20 µs → 2 ms (kitchen/gate.py's shape) | flock polled, sleeps capped at 100 µs |"
          "\n|---|---|---:|---:|---:|---:|")
    for batch in (1, 32):
        for w in (1, 2):
            cells = []
            for mode in ("busy", "block", "poll", "poll100"):
                runs = sorted(two_writers(a.n, w, mode, batch) for _ in range(a.repeats))
                cells.append(f"{runs[len(runs) // 2]:,.0f}")
            print(f"| {batch} | {w} | " + " | ".join(cells) + " |", flush=True)

if __name__ == "__main__":
    raise SystemExit(main())
