"""Fairness figures with real `kitchen run` ovens: head-of-line blocking and a hot customer (issue 13).

- head of line: 2 ovens; one 8 s order and 12 orders of 50 ms, all in oven-1's buckets, one customer each.
  Figure: when the last quick order finished (seconds after it was taken), and whether the long one was still
  cooking then. Owner-first-then-steal lets the idle oven take them; before, they waited behind the long one.
- hot customer: one customer with 500 orders beside 500 orders of 500 other customers (taken interleaved),
  recipe 10 ms, with 1 oven and with 2. Figures: the others' rate (500 / time until the last of them was
  done) with 2 ovens against the same scenario with 1 oven; the hot lane checked from the orders table
  (started in ticket order, each after the one before finished, never two at once).

Every run is a child process whose ``kitchen`` is the tree under test (the working tree, or ``--rev REV``
in a temporary git worktree, like bench.facade), on a fresh SQLite file (or ``--pg URL``: a fresh schema).
Times come from the database (created_at, started_at, finished_at: one clock for every process).

    python3 -m uv run --group bench python -m bench.fairness [--rev REV ...] [--only hol,hot] [--pg URL]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {"heartbeat_interval": 0.5, "heartbeat_timeout": 5.0, "reap_interval": 0.5, "lease": 60,
            "poll_interval": 0.1, "speed": 1, "burn_rate": 0, "prefetch": 1}
MENU = {"long": 8.0, "quick": 0.05, "tenms": 0.01}


# -- child side: one scenario on whichever kitchen PYTHONPATH names --------------------------------------------


class Shop:
    """A fresh database, an ini, and `kitchen run` processes of the tree under test."""

    def __init__(self, work: Path, pg: str | None) -> None:
        from kitchen import Kitchen

        self.work, self.schema = work, None
        if pg:
            import psycopg

            self.schema = f"bench_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(pg, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{self.schema}"')
            self.url, self.pg = f"{pg}?schema={self.schema}", pg
        else:
            self.url, self.pg = str(work / "kitchen.db"), None
        self.ini = work / "kitchen.ini"
        self.ini.write_text("[kitchen]\n" + "".join(f"{k} = {v}\n" for k, v in SETTINGS.items())
                            + "[menu]\n" + "".join(f"{k} = {v}\n" for k, v in MENU.items()))
        self.kitchen = Kitchen.open(self.url, heartbeat_timeout=5.0)
        self.procs: list[subprocess.Popen] = []

    def ovens(self, n: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KITCHEN_")}
        for i in range(1, n + 1):
            cmd = [sys.executable, "-m", "kitchen", "--config", str(self.ini), "--db", self.url, "run", "--name",
                   f"oven-{i}", "--log-level", "warning"]
            log = open(self.work / f"oven-{i}.log", "ab")  # noqa: SIM115 (the child keeps it)
            self.procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=log, cwd=self.work))
        deadline = time.monotonic() + 30
        while len([o for o in self.kitchen.status().ovens if o.state == "alive"]) < n:
            if time.monotonic() > deadline:
                raise RuntimeError("ovens did not join in 30 s")
            time.sleep(0.05)

    def customers_of(self, oven: str, n: int) -> list[str]:
        from kitchen.core.hashing import bucket_for

        snap = self.kitchen.status()
        owned = {b.bucket for b in snap.buckets if b.oven == oven}
        found = [f"c{i}" for i in range(100_000) if bucket_for(f"c{i}", self.kitchen.buckets) in owned][:n]
        if len(found) < n:
            raise RuntimeError(f"{oven} owns too few buckets")
        return found

    def wait(self, done: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise RuntimeError("scenario timed out")
            time.sleep(0.02)

    def close(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.kitchen.close()
        if self.schema:
            import psycopg

            with psycopg.connect(self.pg, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


class Row:
    """An order's facts as stored (works on every kitchen version: raw columns, not a read model)."""

    def __init__(self, r: tuple) -> None:
        (self.ticket, self.customer, self.state, self.oven, self.created_at, self.started_at,
         self.finished_at) = r


def rows(k: Any, ids: list[int]) -> list[Row]:
    def tx(cur: Any) -> list[Row]:
        cur.execute("SELECT o.id, o.customer, o.state, v.name, o.created_at, o.started_at, o.finished_at"
                    " FROM orders o LEFT JOIN ovens v ON v.id = o.oven_id ORDER BY o.id")
        wanted = set(ids)
        return [Row(tuple(r)) for r in cur.fetchall() if r[0] in wanted]
    return k.store.read(tx)


def head_of_line(shop: Shop) -> dict[str, Any]:
    shop.ovens(2)
    k = shop.kitchen
    names = shop.customers_of("oven-1", 13)
    long = k.submit("long", customer=names[0])
    quick = [k.submit("quick", customer=c).number for c in names[1:]]
    shop.wait(lambda: all(r.state == "done" for r in rows(k, quick)), 60)
    (slow,) = rows(k, [long.number])
    views = rows(k, quick)
    last = max(v.finished_at for v in views) - min(v.created_at for v in views)
    still_cooking = slow.state == "cooking"
    shop.wait(lambda: rows(k, [long.number])[0].state == "done", 60)
    (slow,) = rows(k, [long.number])
    return {"quick_all_done_s": round(last, 3), "long_still_cooking": still_cooking,
            "long_done_s": round(slow.finished_at - slow.created_at, 3),
            "quick_by": sorted({v.oven for v in views}), "long_by": slow.oven}


def hot_customer(shop: Shop, ovens: int) -> dict[str, Any]:
    shop.ovens(ovens)
    k = shop.kitchen
    specs: list[dict[str, Any]] = []
    for i in range(500):
        specs += [{"recipe": "tenms", "customer": "hot"}, {"recipe": "tenms", "customer": f"guest-{i}"}]
    tickets = k.submit_many(specs)
    shop.wait(lambda: k.status().orders.done == len(tickets), 300)
    views = rows(k, [t.number for t in tickets])
    start = min(v.created_at for v in views)
    others = [v for v in views if v.customer != "hot"]
    hot = sorted((v for v in views if v.customer == "hot"), key=lambda v: v.started_at)
    in_order = [v.ticket for v in hot] == sorted(v.ticket for v in hot)
    overlaps = sum(1 for a, b in itertools.pairwise(hot) if b.started_at < a.finished_at)
    others_s = max(v.finished_at for v in others) - start
    all_s = max(v.finished_at for v in views) - start
    return {"ovens": ovens, "others_done_s": round(others_s, 3), "others_per_s": round(len(others) / others_s, 1),
            "all_done_s": round(all_s, 3), "all_per_s": round(len(views) / all_s, 1),
            "hot_in_ticket_order": in_order, "hot_overlaps": overlaps,
            "hot_ovens": sorted({v.oven for v in hot})}


def child(what: str, pg: str | None) -> None:
    import kitchen

    with tempfile.TemporaryDirectory(prefix="fair-") as d:
        shop = Shop(Path(d), pg)
        try:
            out = head_of_line(shop) if what == "hol" else hot_customer(shop, int(what.split("-")[1]))
        finally:
            shop.close()
    out["kitchen"] = kitchen.__file__
    print(json.dumps(out))


# -- parent side -----------------------------------------------------------------------------------------------


def run_child(root: Path, what: str, pg: str | None) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(root))
    cmd = [sys.executable, "-P", str(Path(__file__).resolve()), "--child", what] + (["--pg", pg] if pg else [])
    out = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{what} in {root} failed:\n{out.stderr[-3000:]}")
    got = json.loads(out.stdout.strip().splitlines()[-1])
    if not Path(got.pop("kitchen")).resolve().is_relative_to(root.resolve()):
        raise RuntimeError(f"child under {root} imported another kitchen")
    return got


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rev", action="append", default=[], help="also run a git revision (repeatable)")
    p.add_argument("--only", default="hol,hot", help="hol (head of line), hot (hot customer)")
    p.add_argument("--pg", help="a PostgreSQL server URL (a fresh schema per run) instead of SQLite")
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        return child(a.child, a.pg)
    jobs = [w for w in ("hol", "hot-1", "hot-2") if w.split("-")[0] in a.only.split(",")]
    with tempfile.TemporaryDirectory(prefix="fair-wt-") as tmp:
        trees = {"working tree": ROOT}
        try:
            for i, rev in enumerate(a.rev):
                path = Path(tmp) / f"rev{i}"
                subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(path), rev], cwd=ROOT, check=True)
                trees[rev] = path
            for label, root in trees.items():
                for what in jobs:
                    print(json.dumps({"tree": label, "scenario": what, "db": "postgresql" if a.pg else "sqlite",
                                      **run_child(root, what, a.pg)}), flush=True)
        finally:
            for label, path in trees.items():
                if label != "working tree":
                    subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT)


if __name__ == "__main__":
    main()
