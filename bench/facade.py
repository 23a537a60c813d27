"""What the public facade costs per order: kitchen's Oven.claim/complete loop against a bare sqlite3 floor,
for the working tree and for other git revisions, side by side in one run.

- bare floor: kitchen's own tables (created by the working tree's kitchen), drained in plain sqlite3 with two
  transactions per order (claim; complete + ledger row). Its SQL lives here, so it does not move with kitchen.
- kitchen, working tree: ``Kitchen.open`` + ``join`` + ``claim()`` / ``complete(order, None)`` until empty.
- kitchen, REV: the same loop on a temporary ``git worktree`` of REV (default HEAD).

Every run is a child process (two kitchen versions never share an interpreter) on a fresh database of N keyless
``noop`` orders; only the drain is timed. Runs are interleaved (rev, working tree, floor, ...) per repeat.

    python3 -m uv run --group dev --group bench python -m bench.facade [--rev REV ...] [-n N] [--repeats R]
        [--durability normal,full]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Wall clock by default; ``--cpu``: the process's own CPU seconds, which other processes on a busy machine
# barely move (an A/B on a shared machine; it leaves out time spent waiting on the disk or for a lock).
TIMER = {"wall": time.perf_counter, "cpu": time.process_time}
FLOOR_CLAIM = (
    "UPDATE orders SET state = 'cooking', oven_id = ?, lease_until = ?, started_at = ?, attempt = attempt + 1,"
    " fence = fence + 1, progress = 0, finished_at = NULL"
    " WHERE id IN (SELECT id FROM orders WHERE state = 'queued' AND run_at <= ? ORDER BY priority DESC, id LIMIT 1)"
    " RETURNING id, fence")
FLOOR_COMPLETE = ("UPDATE orders SET state = 'done', finished_at = ?, result = NULL"
                  " WHERE id = ? AND state = 'cooking' AND fence = ?")
FLOOR_LEDGER = "INSERT INTO ledger (order_id, oven_id, oven_name, fence, at) VALUES (?, ?, ?, ?, ?)"


# -- child side: one measured run, on whichever kitchen PYTHONPATH names -------------------------------------------


def _fill(db: str, n: int, durability: str) -> None:
    from kitchen import Kitchen

    k = Kitchen.open(db, durability=durability)
    k.submit_many([{"recipe": "noop"} for _ in range(n)])
    k.close()  # last connection: the WAL is checkpointed, both drains start from the same file state


def _verify(db: str, n: int) -> None:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        ledger, distinct = con.execute("SELECT count(*), count(DISTINCT order_id) FROM ledger").fetchone()
        states = dict(con.execute("SELECT state, count(*) FROM orders GROUP BY state").fetchall())
    finally:
        con.close()
    if ledger != n or distinct != n or states != {"done": n}:
        raise RuntimeError(f"{db}: drain not exactly once: ledger {ledger} rows ({distinct} distinct), "
                           f"orders by state {states}, expected {n} done")


def drain_facade(db: str, n: int, durability: str, clock=time.perf_counter) -> float:
    from kitchen import Kitchen

    _fill(db, n, durability)
    k = Kitchen.open(db, durability=durability)
    oven = k.join("bench")
    done = 0
    t = clock()
    while (order := oven.claim()) is not None:
        done += oven.complete(order, None)
    dt = clock() - t
    k.close()
    if done != n:
        raise RuntimeError(f"{done} completions accepted, expected {n}")
    _verify(db, n)
    return n / dt


def drain_floor(db: str, n: int, durability: str, clock=time.perf_counter) -> float:
    _fill(db, n, durability)
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode = wal")
    con.execute(f"PRAGMA synchronous = {2 if durability == 'full' else 1}")
    ex, oven = con.execute, 1
    done = 0
    t = clock()
    while True:
        now = time.time()
        ex("BEGIN IMMEDIATE")
        row = ex(FLOOR_CLAIM, (oven, now + 30.0, now, now)).fetchone()
        ex("COMMIT")
        if row is None:
            break
        now = time.time()
        ex("BEGIN IMMEDIATE")
        if ex(FLOOR_COMPLETE, (now, row[0], row[1])).rowcount == 1:
            ex(FLOOR_LEDGER, (row[0], oven, "floor", row[1], now))
            done += 1
        ex("COMMIT")
    dt = clock() - t
    con.close()
    if done != n:
        raise RuntimeError(f"floor: {done} completions, expected {n}")
    _verify(db, n)
    return n / dt


def child(what: str, n: int, durability: str, timer: str = "wall") -> None:
    import kitchen

    with tempfile.TemporaryDirectory(prefix="facade-") as d:
        rate = (drain_floor if what == "floor" else drain_facade)(str(Path(d) / "kitchen.db"), n, durability,
                                                                  TIMER[timer])
    print(json.dumps({"rate": rate, "kitchen": kitchen.__file__}))


# -- parent side: worktrees, interleaving, the table ---------------------------------------------------------------


def run_child(root: Path, what: str, n: int, durability: str, timer: str = "wall") -> float:
    """One measured run in a fresh interpreter whose ``kitchen`` is the one under ``root``."""
    env = dict(os.environ, PYTHONPATH=str(root))
    # -P: do not put bench/ (whose profile.py shadows the stdlib's) on sys.path; PYTHONPATH picks kitchen.
    cmd = [sys.executable, "-P", str(Path(__file__).resolve()), "--child", what, "-n", str(n),
           "--durability", durability, "--timer", timer]
    out = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{what} in {root} failed:\n{out.stderr}")
    got = json.loads(out.stdout.strip().splitlines()[-1])
    if not Path(got["kitchen"]).resolve().is_relative_to(root.resolve()):
        raise RuntimeError(f"child under {root} imported kitchen from {got['kitchen']}")
    return got["rate"]


def short_sha(rev: str) -> str:
    return subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rev", action="append", help="git revision to compare (repeatable; default HEAD)")
    p.add_argument("-n", type=int, default=5000, help="orders per run (default 5000)")
    p.add_argument("--repeats", type=int, default=3, help="runs per figure (default 3)")
    p.add_argument("--durability", default="normal,full", help="comma-separated: normal,full")
    p.add_argument("--timer", choices=tuple(TIMER), default="wall",
                   help="wall: orders per second (default); cpu: orders per CPU-second of the draining process")
    p.add_argument("--child", choices=("floor", "facade"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    durabilities = [d.strip() for d in a.durability.split(",") if d.strip()]
    if a.child:
        return child(a.child, a.n, durabilities[0], a.timer)
    revs = a.rev or ["HEAD"]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="facade-wt-") as tmp:
        trees: dict[str, Path] = {}
        try:
            for i, rev in enumerate(revs):
                label = f"{rev} ({short_sha(rev)})"
                path = Path(tmp) / f"rev{i}"
                subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(path), rev], cwd=ROOT,
                               check=True)
                trees[label] = path
            order = [(f"kitchen {label}", path, "facade") for label, path in trees.items()]
            order += [("kitchen working tree", ROOT, "facade"), ("bare floor (sqlite3)", ROOT, "floor")]
            runs: dict[tuple[str, str], list[float]] = {}
            for r in range(a.repeats):
                for d in durabilities:
                    for name, root, what in order:
                        rate = run_child(root, what, a.n, d, a.timer)
                        runs.setdefault((d, name), []).append(rate)
                        print(f"  repeat {r + 1}/{a.repeats} {d:6} {name}: {rate:,.0f} orders/s", file=sys.stderr)
        finally:
            for path in trees.values():
                subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT)
    med = {key: statistics.median(v) for key, v in runs.items()}
    unit = "orders per CPU-second" if a.timer == "cpu" else "orders per second"
    print(f"\n{a.n:,} noop orders per run, {a.repeats} repeats; one claim + one complete transaction per order;"
          f" {unit}\n")
    print(f"{'durability':<11}| {'what':<30}| {'median orders/s (min–max)':<28}| vs floor")
    print("-" * 11 + "+" + "-" * 31 + "+" + "-" * 29 + "+" + "-" * 9)
    for d in durabilities:
        floor = med[(d, "bare floor (sqlite3)")]
        for name, _, _ in reversed(order):
            v = runs[(d, name)]
            cell = f"{med[(d, name)]:,.0f} ({min(v):,.0f}–{max(v):,.0f})"
            print(f"{d:<11}| {name:<30}| {cell:<28}| {med[(d, name)] / floor:.2f}")
    print()
    for d in durabilities:
        for label in trees:
            ratio = med[(d, "kitchen working tree")] / med[(d, f"kitchen {label}")]
            print(f"{d}: working tree vs {label}: {ratio:.3f}x")
    print(f"\ntotal time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
