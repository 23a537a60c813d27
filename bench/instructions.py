"""The oven loop's cost counted, not timed: CPU instructions per order of ``Worker.tick()`` under callgrind,
for the working tree and other git revisions side by side. Deterministic: the same code gives the same count
(±1k an order) whatever else the machine does, where a timed drain moves by ±30%.

Each side fills a fresh database on /dev/shm with N no-op orders (outside valgrind), then drains it with one
oven's ``tick()`` in a loop under ``valgrind --tool=callgrind``, at N1 and N2 orders; (Ir(N2) - Ir(N1)) /
(N2 - N1) is the cost of one order, start-up and imports cancelled out. Needs valgrind (apt-get install
valgrind); ~1 minute per side and prefetch.

    python3 -m uv run --group dev python -m bench.instructions [--rev 3c219b4 ...] [--prefetch 1,32]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = (3000, 6000)


def _child(mode: str, db: str, arg: int) -> None:
    """Run inside one tree (PYTHONPATH): fill ``arg`` orders, or drain at prefetch ``arg``."""
    import sqlite3

    from kitchen import Kitchen

    if mode == "fill":
        with Kitchen.open(db, durability="normal") as k:
            for start in range(0, arg, 500):
                k.submit_many([{"recipe": "noop", "payload": {"i": i}} for i in range(start, min(arg, start + 500))])
        con = sqlite3.connect(db)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        return
    try:  # the layout since the restructure, then the one before it (3c219b4)
        from kitchen.ovens.recipes import Menu, build_menu
        from kitchen.ovens.worker import Worker
    except ImportError:
        from kitchen.recipes import Menu, build_menu  # type: ignore[no-redef]
        from kitchen.worker import Worker  # type: ignore[no-redef]
    k = Kitchen.open(db, durability="normal")
    oven = Worker(k, "oven-1", build_menu({}, base=Menu()), prefetch=arg)
    oven.start()
    while oven.tick() == "cooked":
        pass
    (getattr(oven, "close", None) or oven.shutdown)()
    k.close()


def _instructions(tree: Path, n: int, prefetch: int, out: Path) -> int:
    db = Path(tempfile.mkdtemp(prefix="kitchen-ir-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    # Run as a script, kitchen from the tree alone: an old tree's own bench/ has no such module.
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
    try:
        child = [sys.executable, str(Path(__file__).resolve()), "--child"]
        subprocess.run([*child, "fill", str(db / "k.db"), str(n)], env=env, check=True, cwd=tree)
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *child, "drain",
                        str(db / "k.db"), str(prefetch)], env=env, check=True, cwd=tree,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
        raise RuntimeError(f"no instruction total in {out}")
    finally:
        shutil.rmtree(db, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rev", action="append", default=[], help="also measure this git revision (a worktree)")
    ap.add_argument("--prefetch", default="1,32", help="comma-separated prefetch values (default 1,32)")
    ap.add_argument("--child", nargs=3, metavar=("MODE", "DB", "ARG"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    if shutil.which("valgrind") is None:
        print("bench.instructions: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    prefetches = [int(p) for p in args.prefetch.split(",")]
    with tempfile.TemporaryDirectory(prefix="kitchen-ir-") as tmp:
        trees: dict[str, Path] = {}
        for rev in args.rev:
            path = Path(tmp) / f"tree-{rev}"
            subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(path), rev], cwd=ROOT, check=True)
            trees[rev] = path
        trees["working tree"] = ROOT
        try:
            base = next(iter(trees))
            print(f"| tree | prefetch | instructions per order | vs {base} |\n|---|---:|---:|---:|")
            for prefetch in prefetches:
                first = None
                for label, tree in trees.items():
                    ir = [_instructions(tree, n, prefetch, Path(tmp) / f"cg.{n}.out") for n in SIZES]
                    per = (ir[1] - ir[0]) / (SIZES[1] - SIZES[0])
                    first = first or per
                    print(f"| {label} | {prefetch} | {per / 1000:,.1f}k | {per / first:.3f} |", flush=True)
        finally:
            for tree in trees.values():
                if tree != ROOT:
                    subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
