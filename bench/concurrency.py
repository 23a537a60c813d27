"""Concurrency inside an oven (issue 13): one `kitchen run --concurrency N` process against `--concurrency 1`.

A recipe that sleeps (20 ms, and 1 ms) stands for one that waits on I/O. Each run is one real
`kitchen run --burst` process of the working tree on a fresh SQLite file (or ``--pg URL``: a fresh schema),
started after the orders are taken; the rate is orders / (last finish - first start), from the orders table.
Side by side: every concurrency of a row on the same orders, and its ratio to concurrency 1.

    python3 -m uv run --group bench python -m bench.concurrency [--pg URL] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {"heartbeat_interval": 0.5, "heartbeat_timeout": 5.0, "reap_interval": 0.5, "lease": 60,
            "poll_interval": 0.1, "prefetch": 1}
RECIPES = '''import time
from kitchen import recipe


@recipe
def nap(ms: float) -> None:
    time.sleep(ms / 1000)
'''
ROWS = [(20.0, 400), (1.0, 2000)]  # (recipe ms, orders)
LEVELS = (1, 8)


def one_run(ms: float, orders: int, concurrency: int, pg: str | None) -> dict[str, Any]:
    from kitchen import Kitchen

    with tempfile.TemporaryDirectory(prefix="conc-") as d:
        work = Path(d)
        (work / "benchnap.py").write_text(RECIPES)
        schema = None
        if pg:
            import psycopg

            schema = f"bench_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(pg, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            url = f"{pg}?schema={schema}"
        else:
            url = str(work / "kitchen.db")
        ini = work / "kitchen.ini"
        ini.write_text("[kitchen]\n" + "".join(f"{k} = {v}\n" for k, v in SETTINGS.items()))
        try:
            with Kitchen.open(url) as k:
                k.submit_many({"recipe": "nap", "payload": {"ms": ms}} for _ in range(orders))
                env = {key: v for key, v in os.environ.items() if not key.startswith("KITCHEN_")}
                env["PYTHONPATH"] = os.pathsep.join([str(work), str(ROOT)])
                cmd = [sys.executable, "-m", "kitchen", "--config", str(ini), "--db", url, "run", "--burst",
                       "--concurrency", str(concurrency), "--recipes", "benchnap", "--log-level", "warning"]
                started = time.monotonic()
                out = subprocess.run(cmd, env=env, cwd=work, capture_output=True, text=True, timeout=600)
                wall = time.monotonic() - started
                if out.returncode:
                    raise RuntimeError(f"kitchen run failed:\n{out.stderr[-3000:]}")

                def span(cur: Any) -> tuple:
                    cur.execute("SELECT count(*), min(started_at), max(finished_at) FROM orders WHERE state = 'done'")
                    return tuple(cur.fetchone())

                done, first, last = k.store.read(span)
        finally:
            if schema and pg:
                import psycopg

                with psycopg.connect(pg, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    if done != orders:
        raise RuntimeError(f"{done} of {orders} orders done")
    return {"per_s": orders / (last - first), "wall_s": wall}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pg", help="a PostgreSQL server URL (a fresh schema per run) instead of SQLite")
    p.add_argument("--repeat", type=int, default=3, help="runs per cell, interleaved; the median is shown")
    p.add_argument("--levels", default=",".join(map(str, LEVELS)), help="concurrencies to compare (first: base)")
    a = p.parse_args(argv)
    levels = [int(x) for x in a.levels.split(",")]
    db = "postgresql" if a.pg else "sqlite"
    print(f"{'recipe':>8} {'orders':>7} " + " ".join(f"{'conc ' + str(n):>10}" for n in levels)
          + f" {'ratio':>7}   ({db}, orders/s, median of {a.repeat})")
    for ms, orders in ROWS:
        runs: dict[int, list[float]] = {n: [] for n in levels}
        for _ in range(a.repeat):  # interleaved, so a burst of load elsewhere hits every level alike
            for n in levels:
                runs[n].append(one_run(ms, orders, n, a.pg)["per_s"])
        med = {n: statistics.median(v) for n, v in runs.items()}
        ratio = med[levels[-1]] / med[levels[0]]
        print(f"{ms:>6g}ms {orders:>7} " + " ".join(f"{med[n]:>10,.0f}" for n in levels) + f" {ratio:>6.2f}x",
              flush=True)
        print(json.dumps({"recipe_ms": ms, "orders": orders, "db": db,
                          "per_s": {str(n): [round(x, 1) for x in v] for n, v in runs.items()},
                          "ratio": round(ratio, 2)}), flush=True)


if __name__ == "__main__":
    main()
