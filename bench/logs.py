"""Log-level drain comparison: one real oven (`kitchen run --burst`) draining no-op orders at the default
log level (info) against `--log-level warning`, and `debug` (one line per order, through the queue) for
information. Rate = orders / (last completion - first completion), read from the ledger; and the oven
process's CPU time per order (user + system), which a busy shared machine disturbs far less than wall time.

    python -m bench.logs --n 20000 --rounds 3

Prints one table; nothing is written to RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from kitchen import Kitchen

ROOT = Path(__file__).resolve().parent.parent
LEVELS = ("warning", "info", "debug")


def drain(n: int, prefetch: int, level: str) -> tuple[float, float]:
    """(orders/s, CPU µs per order) of one drain."""
    with tempfile.TemporaryDirectory(prefix="kitchen-logs-") as tmp:
        db = Path(tmp) / "kitchen.db"
        with Kitchen.open(str(db)) as k:
            k.submit_many([{"recipe": "noop"}] * n)
        env = {k: v for k, v in os.environ.items() if k not in ("KITCHEN_DB", "KITCHEN_CONFIG")}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(Path(tmp) / "oven.log", "wb") as log:  # a file, as a service manager would collect it
            subprocess.run([sys.executable, "-m", "kitchen", "--db", str(db), "run", "--burst", "--prefetch",
                            str(prefetch), "--log-level", level], cwd=tmp, env=env, stderr=log, check=True,
                           timeout=600)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        conn = sqlite3.connect(db)
        try:
            first, last, count = conn.execute("SELECT min(at), max(at), count(*) FROM ledger").fetchone()
        finally:
            conn.close()
        assert count == n, f"{count} of {n} done"
        return n / (last - first), cpu / n * 1e6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.logs", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20000, help="orders per drain")
    p.add_argument("--rounds", type=int, default=3, help="rounds; levels are interleaved within each")
    args = p.parse_args(argv)
    print(f"drain of {args.n:,} no-op orders, 1 oven, SQLite normal; medians of {args.rounds} interleaved rounds")
    for prefetch in (1, 64):
        rates: dict[str, list[float]] = {level: [] for level in LEVELS}
        cpu: dict[str, list[float]] = {level: [] for level in LEVELS}
        for i in range(args.rounds):
            order = LEVELS if i % 2 == 0 else tuple(reversed(LEVELS))
            for level in order:
                rate, per_order = drain(args.n, prefetch, level)
                rates[level].append(rate)
                cpu[level].append(per_order)
        base = statistics.median(rates["warning"])
        cells = ", ".join(f"{level} {statistics.median(r):,.0f}/s ({statistics.median(r) / base:.2f}x)"
                          for level, r in rates.items())
        print(f"  prefetch {prefetch:>2}: {cells}", flush=True)
        base_cpu = statistics.median(cpu["warning"])
        cells = ", ".join(f"{level} {statistics.median(c):.0f} µs ({base_cpu / statistics.median(c):.2f}x)"
                          for level, c in cpu.items())
        print(f"  prefetch {prefetch:>2}, oven CPU per order (process start included): {cells}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
