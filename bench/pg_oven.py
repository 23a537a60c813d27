"""The oven loop on PostgreSQL, in process: where an order's client CPU goes, for the working tree and a git
revision side by side (issue 12).

Run: ``python -m bench.pg_oven [--rev REV] [-n N] [--repeats R] [--prefetch 1,32] [--profile]``. Server:
``$KITCHEN_BENCH_PG`` (default ``postgresql://postgres@127.0.0.1:5432/test``). Each run: a fresh schema with N
no-op orders, then one ``Worker`` (the oven loop ``kitchen run`` runs, with its heartbeat thread and reaper job)
drains them with ``burst`` in a fresh interpreter whose ``kitchen`` is the tree's. Figures: CPU milliseconds per
order of that process (all its threads; start-up excluded: the kitchen is open and the orders queued before the
clock starts), statements per order (every psycopg ``execute``, all threads), orders/s (wall: noisy on a shared
machine). Runs are interleaved (revision, working tree, ...) per repeat; medians. ``--profile``: one more run of
the working tree under cProfile, its top functions by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("KITCHEN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


def drain(n: int, prefetch: int, profile: bool = False) -> dict[str, Any]:
    """One in-process drain (child side): the kitchen's Worker on N queued no-op orders."""
    import psycopg

    import kitchen
    from kitchen import Kitchen
    from kitchen.ovens.recipes import Menu
    from kitchen.ovens.worker import Worker

    schema = f"kpo_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(SERVER, autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {schema}")
    try:
        k = Kitchen.open(f"{SERVER}{'&' if '?' in SERVER else '?'}schema={schema}")
        for i in range(0, n, 1000):
            k.submit_many([{"recipe": "bench_noop"}] * min(1000, n - i))
        menu = Menu()
        menu.register("bench_noop", lambda ctx: None)
        worker = Worker(k, "oven", menu, burst=True, prefetch=prefetch)
        count = [0]
        real = psycopg.Cursor.execute

        def counted(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            count[0] += 1  # a list cell: one increment under the GIL per statement, any thread
            return real(self, query, *args, **kwargs)

        psycopg.Cursor.execute = counted  # type: ignore[method-assign]
        prof = cProfile.Profile() if profile else None
        cpu0, t0 = time.process_time(), time.perf_counter()
        if prof is not None:
            prof.enable()
        worker.run(install_signals=False)
        if prof is not None:
            prof.disable()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
        psycopg.Cursor.execute = real  # type: ignore[method-assign]
        k.close()
        assert worker.cooked == n, (worker.cooked, n)
        out: dict[str, Any] = {"cpu_ms": 1000 * cpu / n, "statements": count[0] / n, "rate": n / wall,
                               "kitchen": kitchen.__file__}
        if prof is not None:
            text = io.StringIO()
            pstats.Stats(prof, stream=text).strip_dirs().sort_stats("tottime").print_stats(25)
            out["profile"] = text.getvalue()
        return out
    finally:
        with psycopg.connect(SERVER, autocommit=True) as c:
            c.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def run_child(root: Path, n: int, prefetch: int, profile: bool = False) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(root))
    cmd = [sys.executable, "-P", str(Path(__file__).resolve()), "--child", "-n", str(n), "--prefetch", str(prefetch)]
    cmd += ["--profile"] if profile else []
    out = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=900)
    if out.returncode:
        raise RuntimeError(f"drain in {root} failed:\n{out.stderr[-3000:]}")
    got = json.loads(out.stdout.strip().splitlines()[-1])
    if not Path(got["kitchen"]).resolve().is_relative_to(root.resolve()):
        raise RuntimeError(f"child under {root} imported kitchen from {got['kitchen']}")
    return got


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.pg_oven", description=__doc__.split("\n\n")[0])
    p.add_argument("--rev", action="append", help="git revision to compare (repeatable; default HEAD)")
    p.add_argument("-n", type=int, default=3000, help="orders per run (default 3000)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--prefetch", default="1,32", help="comma-separated prefetch values (default 1,32)")
    p.add_argument("--profile", action="store_true", help="also profile the working tree once per prefetch")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    prefetches = [int(x) for x in a.prefetch.split(",") if x.strip()]
    if a.child:
        print(json.dumps(drain(a.n, prefetches[0], a.profile)))
        return 0
    from .facade import short_sha

    load0 = os.getloadavg()[0]
    runs: dict[tuple[int, str], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="pg-oven-wt-") as tmp:
        trees: dict[str, Path] = {}
        try:
            for i, rev in enumerate(a.rev or ["HEAD"]):
                path = Path(tmp) / f"rev{i}"
                subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(path), rev], cwd=ROOT,
                               check=True)
                trees[f"{rev} ({short_sha(rev)})"] = path
            trees["working tree"] = ROOT
            for r in range(a.repeats):
                for pf in prefetches:
                    for label, root in (trees.items() if r % 2 == 0 else reversed(trees.items())):
                        got = run_child(root, a.n, pf)
                        runs.setdefault((pf, label), []).append(got)
                        print(f"  repeat {r + 1} prefetch {pf} {label}: {got['cpu_ms']:.3f} ms CPU/order, "
                              f"{got['statements']:.2f} statements/order, {got['rate']:,.0f}/s", file=sys.stderr)
        finally:
            for path in trees.values():
                if path != ROOT:
                    subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT)
    print(f"\n{a.n:,} no-op orders per drain, {a.repeats} interleaved repeats, medians (min–max); load1 "
          f"{load0:.1f} at start, {os.getloadavg()[0]:.1f} at end\n")
    print("| prefetch | tree | CPU ms per order | statements per order | orders/s (wall) |")
    print("|---:|---|---:|---:|---:|")
    for pf in prefetches:
        for label in trees:
            got = runs[(pf, label)]
            cells = []
            for field, fmt in (("cpu_ms", "{:.3f}"), ("statements", "{:.2f}"), ("rate", "{:,.0f}")):
                vals = [g[field] for g in got]
                cells.append(f"{fmt.format(statistics.median(vals))} ({fmt.format(min(vals))}–"
                             f"{fmt.format(max(vals))})")
            print(f"| {pf} | {label} | {' | '.join(cells)} |")
    if a.profile:
        for pf in prefetches:
            print(f"\ncProfile, working tree, prefetch {pf}:\n{run_child(ROOT, a.n, pf, profile=True)['profile']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
