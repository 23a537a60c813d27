"""Soak: the chaos test (tests/reliability/chaos.py), run for as long as asked.

    uv run python scripts/soak.py --minutes 10

Orders arrive at ``--rate`` per second for the whole time while supervised ovens are SIGKILLed every ~0.5 s,
three ovens a minute are frozen past their heartbeat timeout and thawed as zombies, one producer a minute is
SIGKILLed inside its transaction, six times a minute one oven's wall clock is stepped ±60 s and once a minute
every oven's (libfaketime; skipped with a note when it is not installed, a problem under CI), four orders a
minute hold the GIL for ~1.35 s in one C call (cooked in a work horse), and once a minute a writer that is not
kitchen's is SIGSTOPped inside its write transaction for 2 s. Then every promise is checked from the database
and a log of every recipe start, and one summary line is printed (orders, kills, freezes, clock steps, hogs,
stalled writers, requeues, refused completions, duplicates absorbed, lost, completed twice, cooked twice — by a
kill mid-cook, by a freeze past the timeout, unexplained — deaths, false deaths).
Exit 0 when nothing was wrong; the work directory (database, oven log, recipe starts) is kept when something
was.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository: tests.* is a package

from tests.reliability.chaos import Plan, run_chaos


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0, help="how long orders keep arriving (default 10)")
    p.add_argument("--rate", type=float, default=60.0, help="unique orders per second (default 60)")
    p.add_argument("--ovens", type=int, default=4)
    p.add_argument("--kill-every", type=float, default=0.5, help="seconds between SIGKILLs (about)")
    p.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    p.add_argument("--dir", type=Path, help="work directory (default: a new temporary one)")
    args = p.parse_args(argv)
    seconds = args.minutes * 60
    minutes = max(1, round(args.minutes))
    plan = Plan(orders=max(100, int(args.rate * seconds)), submit_seconds=seconds, ovens=args.ovens,
                kill_every=args.kill_every, freezes=3 * minutes, killed_batches=minutes, clock_steps=6 * minutes,
                clock_set_steps=minutes, hogs=4 * minutes, stalls=minutes, settle_timeout=300, seed=args.seed)
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="kitchen-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"soak: {args.minutes:g} min, {plan.orders} orders, {plan.ovens} ovens, kill every ~{plan.kill_every}s,"
          f" seed {plan.seed}, in {workdir}", flush=True)
    out = run_chaos(workdir, plan, say=lambda line: print(line, flush=True))
    for problem in out.problems:
        print(f"PROBLEM: {problem}")
    print(out.summary())
    if out.problems:
        print(f"kept {workdir} (kitchen.db, ovens.log, starts.log)")
        return 1
    if not args.dir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
