"""PostgreSQL figures (issue 12): ``kitchen run`` itself, a kitchen-shaped floor in plain psycopg, and the peers,
side by side on one server.

Run: ``python3 -m uv run --group bench python -m bench.postgres [--quick] [--n N] [--repeats R] [--json PATH]``.
Server: ``$KITCHEN_BENCH_PG`` (default ``postgresql://postgres@127.0.0.1:5432/test``); every run gets a fresh
schema (kitchen: ``?schema=NAME`` in its URL; the others: ``search_path``), dropped afterwards.

Figures (N pre-submitted no-op orders each, drained to the end and verified):

1. ``kitchen run`` — the real CLI (``.venv/bin/kitchen --config EMPTY.ini run --ovens K --burst --prefetch P
   --recipes bench.recipes_bench``; the URL reaches it in ``KITCHEN_DB``), K = 1, 2, 4 oven processes (K > 1:
   the supervisor and its children), P = 1 and 32, at the default log level (info: one line per order, to a
   file) and at ``--log-level warning``. Timed from spawning the process to the last completion (the ledger's
   time stamps; same machine, same clock): "start → all done". Also the steady rate between the first and the
   last completion (start-up excluded) and, for K > 1, the rate once all K ovens had completed an order (the
   children start one after another: at small N the first oven drains much of the queue alone). Verified:
   ledger rows == distinct ordered ids == N, nothing queued or cooking; re-cooks (claims beyond one per
   order, i.e. sum(attempt) - N) and refused completions counted.
2. The floor: kitchen's schema (filled by kitchen, K ovens joined by kitchen so the ring splits the buckets)
   and kitchen's own PostgreSQL statement text (``kitchen.store.postgres.POSTGRES_TEXT`` over
   ``kitchen.store.sql``: claim own buckets with ``FOR UPDATE SKIP LOCKED``, else steal; fenced COMPLETE;
   LEDGER), run by K plain-psycopg processes. One transaction = the completions of the orders in hand (+ their
   ledger rows) + the next claim of P orders, as kitchen's oven loop does it: at P = 1, one transaction per
   order. Not in the floor: the oven's ``cooked`` counter and the per-bucket tally kitchen also updates in that
   transaction, heartbeats, the reaper, logging. Timed from a start signal (the processes are already connected).
3. Peers, one worker each, as their authors intend: procrastinate (``run_worker_async(wait=False)``,
   concurrency 1), pgqueuer (``QueueManager.run(mode=drain)``, at its default batch_size 10 and at 1, like
   kitchen's prefetch 1; its status log buffered), pq (``with queue: queue.get(block=False)``, one transaction
   per job; pq keeps no completion record, no fence). Timed from the worker's start to the last job's handler
   returning (the worker's own return, later for pgqueuer by a few seconds, is in the JSON as exit_s).
4. Scale-out: ``kitchen run --ovens K`` (K = 1, 4; prefetch 1, default log level) started on an empty queue
   and waited for until all K are alive, then M orders of a recipe that sleeps 5 ms (``bench_work``) submitted
   in one call: rate from the submit to the last completion, and the ratio 4 vs 1 (target >= 3x). Then SIGTERM.
5. Deadlocks: ``pg_stat_database.deadlocks`` of the database read before and after each ``kitchen run``
   (target 0). The counter is the whole database's: other users of the server count too.

Here: the ``kitchen run`` figures (1, 4, 5) and the harness; the floor is in ``pg_floor.py``, the peers in
``pg_peers.py``, what they share in ``pg_common.py``, the closing tables in ``pg_side.py``.

Every configuration runs once per round, rounds interleaved (each round in a rotated order); the table shows
medians, min–max, and the 1-minute load average before → after (medians over the runs): on a shared machine
absolute figures are noisy.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .common import child_env
from .pg_common import (
    FILL_BATCH,
    SERVER,
    check_drain,
    children_cpu,
    deadlocks,
    fill_queue,
    fresh_schema,
    kitchen_argv,
    kitchen_url,
    load1,
    queue_orders,
)
from .pg_floor import floor_drain
from .pg_peers import PEERS, installed
from .pg_side import side_by_side

# N = 5,000 as issue 12 measured: start -> done includes kitchen run's own start-up (a fixed ~0.25 s: the
# interpreter, its imports, a connection), which the floor's clock leaves out.
SIZES = {"quick": {"n": 200, "scale_n": 200, "repeats": 2}, "default": {"n": 5000, "scale_n": 600, "repeats": 3}}
WORK_MS = 5
LEVELS = ("info", "warning")
PREFETCHES = (1, 32)
OVENS = (1, 2, 4)


# -- 1 and 4: `kitchen run` itself ---------------------------------------------------------------------------------


def _run_cmd(ini: Path, ovens: int, prefetch: int, level: str, burst: bool) -> list[str]:
    cmd = [*kitchen_argv(), "--config", str(ini), "run", "--ovens", str(ovens), "--prefetch", str(prefetch),
           "--recipes", "bench.recipes_bench", "--name", "oven"]
    cmd += ["--burst"] if burst else []
    return cmd + (["--log-level", level] if level != "info" else [])


def _all_cooking_rate(schema: str, n: int) -> float:
    """Completions per second from the moment every oven had completed its first order to the last completion
    (start-up staggering excluded); nan when fewer than a tenth of the orders fall in that window."""
    import psycopg

    with psycopg.connect(SERVER, autocommit=True, options=f"-c search_path={schema}") as c:
        row = c.execute("WITH firsts AS (SELECT max(f) AS t FROM (SELECT min(at) AS f FROM ledger GROUP BY oven_name)"
                        " AS x) SELECT count(*), min(at), max(at) FROM ledger, firsts WHERE at >= firsts.t").fetchone()
    count, first, last = int(row[0]), row[1], row[2]
    if count < max(2, n // 10) or last <= first:
        return float("nan")
    return (count - 1) / (float(last) - float(first))


def kitchen_run(n: int, ovens: int, prefetch: int, level: str) -> dict[str, Any]:
    """Spawn ``kitchen run --burst`` on N queued orders; time spawn -> last completion (and -> exit)."""
    with fresh_schema() as schema, tempfile.TemporaryDirectory(prefix="kb-pg-") as tmp:
        d = Path(tmp)
        url = kitchen_url(schema)
        fill_queue(url, queue_orders(n, None)).close()
        ini = d / "kitchen.ini"
        ini.write_text("[kitchen]\n")  # every setting at its default, whatever ./kitchen.ini says
        env = child_env()
        env["KITCHEN_DB"] = url
        load_before, dl_before, cpu_before = load1(), deadlocks(), children_cpu()
        with (d / "ovens.log").open("w") as log:
            t0 = time.time()
            r = subprocess.run(_run_cmd(ini, ovens, prefetch, level, burst=True), stdin=subprocess.DEVNULL,
                               stdout=log, stderr=log, env=env, cwd=d, timeout=900)
            t_exit = time.time()
        cpu = children_cpu() - cpu_before
        if r.returncode != 0:
            raise RuntimeError(f"kitchen run exited {r.returncode}: {(d / 'ovens.log').read_text()[-2000:]}")
        check = check_drain(schema, n)
        all_cooking = _all_cooking_rate(schema, n)
        time.sleep(0.2)  # backends flush their statistics as they exit
        dl_after, load_after = deadlocks(), load1()
        with (d / "ovens.log").open() as f:
            log_lines = sum(1 for _ in f)
    first, last = check.pop("first_at"), check.pop("last_at")
    return {"rate": n / (last - t0), "steady": (n - 1) / (last - first) if last > first else float("nan"),
            "all_cooking": all_cooking, "start_s": first - t0, "done_s": last - t0, "exit_s": t_exit - t0,
            "deadlocks": dl_after - dl_before, "load": (load_before, load_after), "log_lines": log_lines,
            "cpu_ms_per_order": 1000 * cpu / n, **check}


def kitchen_scale(m: int, ovens: int) -> dict[str, Any]:
    """Scale-out: ``kitchen run --ovens K`` (prefetch 1, default log level) already up and idle, then M orders of
    a 5 ms recipe submitted in one call; time submit -> last completion. Then SIGTERM (drain, leave, exit 0)."""
    import signal

    import psycopg

    with fresh_schema() as schema, tempfile.TemporaryDirectory(prefix="kb-pg-") as tmp:
        d = Path(tmp)
        url = kitchen_url(schema)
        k = fill_queue(url, [])
        ini = d / "kitchen.ini"
        ini.write_text("[kitchen]\n")
        env = child_env()
        env["KITCHEN_DB"] = url
        log = (d / "ovens.log").open("w")
        proc = subprocess.Popen(_run_cmd(ini, ovens, 1, "info", burst=False), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, env=env, cwd=d, start_new_session=True)
        try:
            deadline = time.monotonic() + 180
            while len([o for o in k.status().ovens if o.state == "alive"]) < ovens:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"ovens did not start: {(d / 'ovens.log').read_text()[-2000:]}")
                time.sleep(0.1)
            time.sleep(0.5)  # the ring settles (every join moves buckets)
            orders = queue_orders(m, WORK_MS)
            load_before, dl_before = load1(), deadlocks()
            t0 = time.time()
            for i in range(0, m, FILL_BATCH):
                k.submit_many(orders[i:i + FILL_BATCH])
            with psycopg.connect(SERVER, autocommit=True, options=f"-c search_path={schema}") as c:
                while int(c.execute("SELECT count(*) FROM ledger").fetchone()[0]) < m:
                    if time.monotonic() > deadline + 600 or proc.poll() is not None:
                        raise RuntimeError(f"scale-out run stalled: {(d / 'ovens.log').read_text()[-2000:]}")
                    time.sleep(0.05)
            load_after = load1()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log.close()
            k.close()
        check = check_drain(schema, m)
        time.sleep(0.2)
        dl_after = deadlocks()
    first, last = check.pop("first_at"), check.pop("last_at")
    return {"rate": m / (last - t0), "steady": (m - 1) / (last - first) if last > first else float("nan"),
            "deadlocks": dl_after - dl_before, "load": (load_before, load_after), **check}


# -- the harness ---------------------------------------------------------------------------------------------------


def plan(n: int, scale_n: int, peers: list[str]) -> list[tuple[str, Callable[[], dict[str, Any]]]]:
    """Every configuration of one round: (key, thunk)."""
    jobs: list[tuple[str, Callable[[], dict[str, Any]]]] = []
    for level in LEVELS:
        for pf in PREFETCHES:
            for ov in OVENS:
                jobs.append((f"run/{ov}/{pf}/{level}", lambda ov=ov, pf=pf, level=level: kitchen_run(n, ov, pf, level)))
    for pf in PREFETCHES:
        for ov in OVENS:
            jobs.append((f"floor/{ov}/{pf}", lambda ov=ov, pf=pf: floor_drain(n, ov, pf)))
    for name in peers:
        jobs.append((f"peer/{name}", lambda fn=PEERS[name][2]: fn(n)))
    for ov in (1, 4):
        jobs.append((f"scale/{ov}", lambda ov=ov: kitchen_scale(scale_n, ov)))
    return jobs


def _med(xs: list[float]) -> float:
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def summarise(runs: dict[str, list[dict[str, Any]]], n: int, scale_n: int, peers: list[str]) -> list[dict[str, Any]]:
    runs = dict(runs)  # start/K groups are added below
    rows: list[dict[str, Any]] = []

    def floor_of(ov: int, pf: int) -> float:
        return _med([r["rate"] for r in runs.get(f"floor/{ov}/{pf}", [])])

    def add(figure: str, key: str, field: str, unit: str, floor: float | None = None,
            values: list[float] | None = None) -> dict[str, Any]:
        got = runs.get(key, [])
        vals = values if values is not None else [r[field] for r in got]
        med, clean = _med(vals), [v for v in vals if v == v]
        row = {"figure": figure, "value": med, "unit": unit, "min": min(clean) if clean else None,
               "max": max(clean) if clean else None, "runs": vals,
               "ratio_vs_floor": med / floor if floor else None,
               "load_before": _med([r["load"][0] for r in got]), "load_after": _med([r["load"][1] for r in got])}
        rows.append(row)
        return row

    for ov in OVENS:
        for pf in PREFETCHES:
            add(f"floor: plain psycopg, kitchen's SQL, {ov} proc, prefetch {pf}", f"floor/{ov}/{pf}", "rate",
                "orders/s", floor_of(ov, pf))
    for level in LEVELS:
        for ov in OVENS:
            for pf in PREFETCHES:
                key, what = f"run/{ov}/{pf}/{level}", f"kitchen run --ovens {ov} --prefetch {pf}, log {level}"
                add(f"{what}: start -> all done", key, "rate", "orders/s", floor_of(ov, pf))
                add(f"{what}: steady (1st -> last completion)", key, "steady", "orders/s", floor_of(ov, pf))
                if ov > 1:
                    add(f"{what}: all {ov} ovens cooking", key, "all_cooking", "orders/s", floor_of(ov, pf))
    for pf in PREFETCHES:
        add(f"client CPU per order, floor 1 proc, prefetch {pf}", f"floor/1/{pf}", "cpu_ms_per_order", "ms")
        for level in LEVELS:
            add(f"client CPU per order, kitchen run --ovens 1 --prefetch {pf}, log {level} (start-up included)",
                f"run/1/{pf}/{level}", "cpu_ms_per_order", "ms")
    for ov in OVENS:
        keys = [f"run/{ov}/{pf}/{lv}" for pf in PREFETCHES for lv in LEVELS]
        got = [r for k in keys for r in runs.get(k, [])]
        runs[f"start/{ov}"] = got
        add(f"kitchen run --ovens {ov}: spawn -> first completion (all prefetch/log runs)", f"start/{ov}",
            "start_s", "s")
    for name in peers:
        add(f"peer: {PEERS[name][1]}, 1 worker", f"peer/{name}", "rate", "orders/s", floor_of(1, 1))
    scale = {}
    for ov in (1, 4):
        what = f"scale: {scale_n} x {WORK_MS} ms recipe to idle kitchen run --ovens {ov}"
        scale[ov] = (add(f"{what}: submit -> all done", f"scale/{ov}", "rate", "orders/s"),
                     add(f"{what}: 1st -> last completion", f"scale/{ov}", "steady", "orders/s"))
    for i, what in enumerate(("submit -> all done", "1st -> last completion")):
        one, four = scale[1][i]["value"], scale[4][i]["value"]
        per_round = [b[f] / a[f] for a, b in zip(runs.get("scale/1", []), runs.get("scale/4", []))
                     for f in (("rate", "steady")[i],)]
        rows.append({"figure": f"scale-out 4 vs 1 ovens ({what}), target >= 3", "value": four / one, "unit": "x",
                     "runs": per_round, "min": min(per_round, default=None), "max": max(per_round, default=None),
                     "ratio_vs_floor": None, "load_before": None, "load_after": None})
    kitchen_runs = [r for k, v in runs.items() if k.startswith(("run/", "scale/")) for r in v]
    total = [sum(r["deadlocks"] for r in kitchen_runs)]
    rows.append({"figure": f"deadlocks during {len(kitchen_runs)} kitchen runs (pg_stat_database delta), target 0",
                 "value": total[0], "unit": "deadlocks", "runs": [r["deadlocks"] for r in kitchen_runs],
                 "min": None, "max": None, "ratio_vs_floor": None, "load_before": None, "load_after": None})
    rows.append({"figure": "re-cooks (claims beyond one per order) / refused completions, all kitchen runs",
                 "value": sum(r["recooks"] for r in kitchen_runs), "unit": "orders",
                 "refused": sum(r["refused"] for r in kitchen_runs), "runs": [r["recooks"] for r in kitchen_runs],
                 "min": None, "max": None, "ratio_vs_floor": None, "load_before": None, "load_after": None})
    return rows


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"


def print_table(rows: list[dict[str, Any]]) -> None:
    print("| figure | value | unit | ratio vs floor | min–max | load1 before → after |")
    print("|---|---:|---|---:|---:|---:|")
    for r in rows:
        ratio = f"{r['ratio_vs_floor']:.2f}" if r.get("ratio_vs_floor") else "-"
        spread = f"{_fmt(r['min'])}–{_fmt(r['max'])}" if r.get("min") is not None else "-"
        load = f"{r['load_before']:.2f} → {r['load_after']:.2f}" if r.get("load_before") is not None else "-"
        value = _fmt(r["value"])
        if "refused" in r:
            value += f" / {r['refused']}"
        print(f"| {r['figure']} | {value} | {r['unit']} | {ratio} | {spread} | {load} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.postgres", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"small sizes, under ~3 minutes ({SIZES['quick']})")
    ap.add_argument("--n", type=int, help=f"orders per drain (default {SIZES['default']['n']})")
    ap.add_argument("--scale-n", type=int, help=f"orders of the {WORK_MS} ms recipe per scale-out run")
    ap.add_argument("--repeats", type=int, help="interleaved rounds (default 3)")
    ap.add_argument("--only", help="comma-separated key prefixes to run (run/, floor/, peer/, scale/), for trials")
    ap.add_argument("--json", metavar="PATH", help="write every run and the table here")
    args = ap.parse_args(argv)
    size = dict(SIZES["quick" if args.quick else "default"])
    for k in ("n", "scale_n", "repeats"):
        if getattr(args, k) is not None:
            size[k] = getattr(args, k)
    n, scale_n, repeats = size["n"], size["scale_n"], size["repeats"]
    peers = [name for name in PEERS if installed(PEERS[name][0])]
    skipped = [name for name in PEERS if name not in peers]
    jobs = plan(n, scale_n, peers)
    if args.only:
        jobs = [j for j in jobs if j[0].startswith(tuple(args.only.split(",")))]
    started, load_start, dl_start = time.time(), load1(), deadlocks()
    print(f"PostgreSQL ({SERVER.rsplit('@', 1)[-1]}), N={n:,} no-op orders, scale-out {scale_n:,} x {WORK_MS} ms, "
          f"{repeats} interleaved rounds of {len(jobs)} runs; {os.cpu_count()} CPUs, load1 at start {load_start:.2f}"
          + (f"; not installed, skipped: {', '.join(skipped)}" if skipped else ""), flush=True)
    runs: dict[str, list[dict[str, Any]]] = {}
    for rnd in range(repeats):
        shift = (rnd * len(jobs)) // max(1, repeats)
        for key, thunk in jobs[shift:] + jobs[:shift]:
            t = time.perf_counter()
            out = thunk()
            runs.setdefault(key, []).append(out)
            print(f"  round {rnd + 1}: {key}: {out['rate']:,.0f}/s, load1 {out['load'][0]:.2f} → "
                  f"{out['load'][1]:.2f} ({time.perf_counter() - t:.1f}s)", file=sys.stderr, flush=True)
    rows = summarise(runs, n, scale_n, peers)
    elapsed, load_end, dl_end = time.time() - started, load1(), deadlocks()
    print()
    print_table(rows)
    print()
    for line in side_by_side(runs, n, peers):
        print(line)
    print(f"\nmedians of {repeats} rounds; {elapsed:.0f} s in all; load1 {load_start:.2f} at start, {load_end:.2f} "
          f"at end; deadlocks in database over the whole bench (any user): {dl_end - dl_start}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"server": SERVER.rsplit("@", 1)[-1], "n": n, "scale_n": scale_n, "repeats": repeats,
                       "cpus": os.cpu_count(), "seconds": elapsed, "load1_start": load_start, "load1_end": load_end,
                       "deadlocks_whole_bench": dl_end - dl_start, "skipped": skipped, "table": rows,
                       "runs": runs}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

