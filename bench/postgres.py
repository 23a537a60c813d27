"""PostgreSQL rows: kitchen's drain with 1, 2 and 4 oven processes, and procrastinate doing the same work.

Run: ``python3 -m uv run --group bench python -m bench.postgres [--n 4000] [--repeats 3] [--json PATH]``.
Each run gets a fresh schema in database ``test`` (dropped afterwards). Ovens are real processes running
kitchen's Worker loop (claim with FOR UPDATE SKIP LOCKED -> noop -> fenced complete + ledger row); the
drain is verified: ledger rows == N and nothing left queued or cooking.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
import uuid

SERVER = os.environ.get("KITCHEN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _schema() -> str:
    import psycopg

    name = f"kb_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER, autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{name}"')
    return name


def _drop(name: str) -> None:
    import psycopg

    with psycopg.connect(SERVER, autocommit=True) as c:
        c.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _oven(url: str, name: str, prefetch: int, go, done_q) -> None:
    import logging

    from kitchen import Kitchen
    from kitchen.ovens.recipes import Menu, build_menu
    from kitchen.ovens.worker import Worker

    logging.disable(logging.WARNING)
    k = Kitchen.open(url, prefetch=prefetch)
    w = Worker(k, name, build_menu({}, base=Menu()), prefetch=prefetch)
    w.start()
    go.wait()
    while True:
        if w.tick() == "idle":
            if w.queue_empty():
                break
            time.sleep(0.002)
    done_q.put((name, w.cooked))
    k.close()


def _ledger_rows(cur) -> tuple[int, int]:
    cur.execute("SELECT count(*), count(DISTINCT order_id) FROM ledger")
    total, distinct = cur.fetchone()
    return int(total), int(distinct)


def kitchen_drain(n: int, ovens: int, prefetch: int) -> tuple[float, list[int]]:
    from kitchen import Kitchen

    schema = _schema()
    url = f"{SERVER}?schema={schema}"
    try:
        k = Kitchen.open(url)
        for i in range(0, n, 1000):
            k.submit_many([{"recipe": "noop", "customer": f"c{j}"} for j in range(i, min(n, i + 1000))])
        ctx = mp.get_context("spawn")
        go, done_q = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_oven, args=(url, f"o{i}", prefetch, go, done_q)) for i in range(ovens)]
        for p in procs:
            p.start()
        deadline = time.monotonic() + 60
        while len([o for o in k.status().ovens if o.state == "alive"]) < ovens:
            if time.monotonic() > deadline:
                raise RuntimeError("ovens did not start")
            time.sleep(0.05)
        start = time.perf_counter()
        go.set()
        per_oven = [done_q.get(timeout=300)[1] for _ in procs]
        elapsed = time.perf_counter() - start
        for p in procs:
            p.join(timeout=30)
        s = k.status()
        assert s.ledger.completions == n and s.orders.queued == 0 and s.orders.cooking == 0, s
        rows = k.store.read(_ledger_rows)
        assert rows == (n, n), f"ledger rows (all, distinct orders) {rows}, expected {n}"
        k.close()
        return n / elapsed, per_oven
    finally:
        _drop(schema)


def procrastinate_drain(n: int, concurrency: int) -> float:
    import asyncio

    import procrastinate

    schema = _schema()
    try:
        conninfo = f"{SERVER}?options=-csearch_path%3D{schema}"
        app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
        counter = {"n": 0}

        @app.task(name="noop")
        def noop() -> None:
            counter["n"] += 1

        async def main() -> float:
            async with app.open_async():
                await app.schema_manager.apply_schema_async()
                for i in range(0, n, 500):
                    await asyncio.gather(*(noop.defer_async() for _ in range(i, min(n, i + 500))))
                start = time.perf_counter()
                await app.run_worker_async(wait=False, concurrency=concurrency, install_signal_handlers=False,
                                           delete_jobs="never")
                return time.perf_counter() - start

        elapsed = asyncio.run(main())
        assert counter["n"] == n, counter
        return n / elapsed
    finally:
        _drop(schema)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.postgres")
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    rows = []

    def record(label: str, runs: list[float], extra: str = "") -> None:
        med = statistics.median(runs)
        rows.append({"system": label, "median": med, "min": min(runs), "max": max(runs), "runs": runs})
        print(f"| {label} | {med:,.0f} | {min(runs):,.0f}–{max(runs):,.0f} | {extra} |", flush=True)

    print(f"PostgreSQL drain, N={args.n}, {args.repeats} runs, orders/s (median, min–max)")
    print("| system | median | min–max | per-oven split |\n|---|---:|---:|---|")
    for prefetch in (1, 32):
        for ovens in (1, 2, 4):
            runs, splits = [], []
            for _ in range(args.repeats):
                rate, split = kitchen_drain(args.n, ovens, prefetch)
                runs.append(rate)
                splits.append(split)
            record(f"kitchen, {ovens} oven process(es), prefetch {prefetch}", runs,
                   "/".join(str(x) for x in sorted(splits[-1])))
    for conc in (1, 4):
        record(f"procrastinate worker, concurrency {conc}",
               [procrastinate_drain(args.n, conc) for _ in range(args.repeats)])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
