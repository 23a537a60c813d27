"""Start-up of ``kitchen run`` on PostgreSQL: spawn -> first completion, and the CPU the processes spent.

Run: ``python -m bench.startup [--repeats R] [--rev REV ...]``. Server: ``$KITCHEN_BENCH_PG`` (default
``postgresql://postgres@127.0.0.1:5432/test``). Each run: a fresh schema with 1 order (``--ovens 4``: 8), then
``kitchen run --burst --log-level warning`` spawned and timed to its first ledger row and to its exit; CPU is the
children's user + system time (the figure to trust on a shared machine). Medians of R.

With ``--rev``, the same runs for each revision (a temporary ``git worktree``, its ``kitchen`` on PYTHONPATH) and
the working tree, interleaved, side by side.

Whether installed modules have their bytecode matters most (see bench/RESULTS.md, Session 4): compare by running
it after ``uv sync`` with and without ``compile-bytecode``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("KITCHEN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


def once(ovens: int, n: int, root: Path = ROOT) -> tuple[float, float, float]:
    """(seconds to the first completion, seconds to exit, CPU seconds) of one ``kitchen run --burst``."""
    import psycopg

    from kitchen import Kitchen

    schema = f"kst_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(SERVER, autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {schema}")
    url = f"{SERVER}?schema={schema}"
    try:
        with Kitchen.open(url) as k:
            k.submit_many([{"recipe": "noop"}] * n)
        with tempfile.TemporaryDirectory(prefix="kb-start-") as d:
            ini = os.path.join(d, "kitchen.ini")
            with open(ini, "w") as f:
                f.write("[kitchen]\n")
            cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.time()
            r = subprocess.run([sys.executable, "-m", "kitchen", "--config", ini, "run", "--ovens", str(ovens),
                                "--burst", "--recipes", "bench.recipes_bench", "--log-level", "warning"],
                               env={**os.environ, "KITCHEN_DB": url, "PYTHONPATH": str(root)}, cwd=root,
                               capture_output=True, text=True, timeout=300)
            t1 = time.time()
            cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode != 0:
            raise RuntimeError(f"kitchen run exited {r.returncode}: {r.stderr[-2000:]}")
        with psycopg.connect(SERVER, autocommit=True, options=f"-c search_path={schema}") as c:
            first, count = c.execute("SELECT min(at), count(*) FROM ledger").fetchone()
        assert count == n, (count, n)
        cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
        return float(first) - t0, t1 - t0, cpu
    finally:
        with psycopg.connect(SERVER, autocommit=True) as c:
            c.execute(f"DROP SCHEMA {schema} CASCADE")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rev", action="append", default=[], help="git revision to run beside the working tree")
    args = ap.parse_args(argv)
    from .facade import short_sha

    with tempfile.TemporaryDirectory(prefix="startup-wt-") as tmp:
        trees: dict[str, Path] = {}
        try:
            for i, rev in enumerate(args.rev):
                path = Path(tmp) / f"rev{i}"
                subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(path), rev], cwd=ROOT,
                               check=True)
                trees[f"{rev} ({short_sha(rev)})"] = path
            trees["working tree"] = ROOT
            runs: dict[tuple[int, str], list[tuple[float, float, float]]] = {}
            for r in range(args.repeats):
                for ovens, n in ((1, 1), (4, 8)):
                    for label, root in (trees.items() if r % 2 == 0 else reversed(trees.items())):
                        runs.setdefault((ovens, label), []).append(once(ovens, n, root))
        finally:
            for path in trees.values():
                if path != ROOT:
                    subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT)
    print(f"medians of {args.repeats}; load1 at end {os.getloadavg()[0]:.1f}")
    print("| ovens | tree | spawn -> first completion | spawn -> exit | CPU |")
    print("|---:|---|---:|---:|---:|")
    for (ovens, label), got in runs.items():
        first, exit_, cpu = (statistics.median(g[i] for g in got) for i in range(3))
        print(f"| {ovens} | {label} | {first:.2f} s | {exit_:.2f} s | {cpu:.2f} s |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
