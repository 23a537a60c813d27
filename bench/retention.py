"""Retention soak: a steady stream of orders through a real oven with a short ``keep_done``; the database
file should plateau. Then the drain rate of one oven while its reaper purges a backlog, against the same
drain with nothing to purge.

    python -m bench.retention --minutes 3            # soak 3 min at 200 orders/s, keep_done 30s; then drains
    python -m bench.retention --minutes 30 --keep 5m --every 60 --drains 0   # the issue's 30-minute soak

SQLite only (the file size is the point). Prints one table; nothing is written to RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from kitchen import Kitchen

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = {"pad": "x" * 200}


def write_ini(folder: Path, keep: str, reap_interval: float) -> Path:
    ini = folder / "kitchen.ini"
    ini.write_text(f"[kitchen]\ndatabase = {folder / 'kitchen.db'}\nkeep_done = {keep}\nkeep_events = {keep}\n"
                   f"reap_interval = {reap_interval}\n")
    return ini


def oven(ini: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "KITCHEN_CONFIG": str(ini)}
    env.pop("KITCHEN_DB", None)
    return subprocess.Popen([sys.executable, "-m", "kitchen", "run", "--log-level", "warning", *extra],
                            cwd=ROOT, env=env)


def sizes(db: Path) -> tuple[float, float, int, int]:
    """(file MB, -wal MB, order rows, free pages)."""
    wal = Path(f"{db}-wal")
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    finally:
        conn.close()
    return db.stat().st_size / 1e6, (wal.stat().st_size / 1e6 if wal.exists() else 0.0), rows, free


def soak(minutes: float, rate: float, keep: str, every: float) -> list[tuple]:
    samples: list[tuple] = []
    with tempfile.TemporaryDirectory(prefix="kitchen-retention-") as tmp:
        folder = Path(tmp)
        ini = write_ini(folder, keep, 1.0)
        db = folder / "kitchen.db"
        k = Kitchen.open(str(db), keep_done=keep, keep_events=keep)
        proc = oven(ini, "--prefetch", "16")
        stop = threading.Event()
        submitted = [0]

        def produce() -> None:
            step, start = 0.05, time.monotonic()
            while not stop.is_set():
                due = int((time.monotonic() - start) * rate) - submitted[0]
                if due > 0:
                    k.submit_many([{"recipe": "noop", "payload": PAYLOAD}] * due)
                    submitted[0] += due
                stop.wait(step)

        producer = threading.Thread(target=produce, daemon=True)
        start = time.monotonic()
        producer.start()
        try:
            end = start + minutes * 60
            next_sample = start + every
            while time.monotonic() < end:
                time.sleep(max(0.0, min(next_sample, end) - time.monotonic()))
                mb, wal, rows, free = sizes(db)
                done = k.status().orders.done
                samples.append((round(time.monotonic() - start), mb, wal, rows, free, done, submitted[0]))
                print(f"  t={samples[-1][0]:>5}s  file {mb:7.2f} MB  wal {wal:6.2f} MB  rows {rows:>7}"
                      f"  free pages {free:>5}  done {done:>8}  submitted {submitted[0]:>8}", flush=True)
                next_sample += every
        finally:
            stop.set()
            producer.join()
            proc.terminate()
            proc.wait(30)
            k.close()
    return samples


def drain_rate(purge: bool, backlog: int, n: int) -> float:
    """Orders/s of one oven (prefetch 1) draining ``n`` orders, first completion to last (from the ledger),
    while its reaper purges ``backlog`` old done orders (``purge``) or has nothing to purge."""
    with tempfile.TemporaryDirectory(prefix="kitchen-drain-") as tmp:
        folder = Path(tmp)
        db = folder / "kitchen.db"
        with Kitchen.open(str(db)) as k:
            k.submit_many([{"recipe": "noop", "payload": PAYLOAD}] * backlog)
        oven(write_ini(folder, "forever", 0.25), "--burst", "--prefetch", "64").wait(600)  # the old done orders
        time.sleep(2.5)  # ... now older than keep_done = 2s
        with Kitchen.open(str(db)) as k:
            k.submit_many([{"recipe": "noop", "payload": PAYLOAD}] * n)
        ini = write_ini(folder, "2s" if purge else "forever", 0.25)
        proc = oven(ini, "--burst", "--prefetch", "1")
        proc.wait(600)
        conn = sqlite3.connect(db)
        try:
            first, last, count = conn.execute(
                "SELECT min(at), max(at), count(*) FROM ledger WHERE order_id > ?", (backlog,)).fetchone()
            left = conn.execute("SELECT count(*) FROM orders WHERE id <= ?", (backlog,)).fetchone()[0]
        finally:
            conn.close()
        assert count == n, f"{count} of {n} drained"
        print(f"  purge {'on ' if purge else 'off'}: {n / (last - first):8.0f} orders/s"
              f"  (old orders left: {left} of {backlog})", flush=True)
        return n / (last - first)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.retention", description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=3.0, help="soak length (the issue's figure: 30)")
    p.add_argument("--rate", type=float, default=200.0, help="orders per second submitted")
    p.add_argument("--keep", default="30s", help="keep_done during the soak (the issue's figure: 5m)")
    p.add_argument("--every", type=float, default=None, help="seconds between samples (default: minutes*6)")
    p.add_argument("--drains", type=int, default=3, help="drain pairs (purge on / off), alternated")
    p.add_argument("--drain-n", type=int, default=20000, help="orders per drain")
    p.add_argument("--backlog", type=int, default=20000, help="old done orders to purge during a drain")
    args = p.parse_args(argv)
    every = args.every or max(5.0, args.minutes * 6)
    if args.minutes > 0:
        print(f"soak: {args.minutes:g} min at {args.rate:g} orders/s, keep_done {args.keep}, one oven prefetch 16")
        samples = soak(args.minutes, args.rate, args.keep, every)
        tail = [s[1] + s[2] for s in samples[len(samples) // 2:]]
        if tail:
            mean = statistics.mean(tail)
            spread = max(abs(x - mean) / mean for x in tail)
            print(f"second half: file+wal {min(tail):.2f}..{max(tail):.2f} MB, within ±{spread:.0%} of its mean")
    on: list[float] = []
    off: list[float] = []
    for i in range(args.drains):
        for purge in ((True, False) if i % 2 == 0 else (False, True)):
            (on if purge else off).append(drain_rate(purge, args.backlog, args.drain_n))
    if on and off:
        print(f"drain, 1 oven, prefetch 1, {args.drain_n} orders: purging {statistics.median(on):.0f}/s vs"
              f" not {statistics.median(off):.0f}/s = {statistics.median(on) / statistics.median(off):.2f}x (medians)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
