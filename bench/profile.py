"""Where kitchen's time goes: cProfile of the oven loop and of submit, syscalls (fsync, sleeps) per order.

    uv run --group dev --group bench python -m bench.profile [-n 10000] [--out bench/results/profile]

For each case it prints the top functions by own time and by cumulative time, transactions per order
(counted around Backend.write/read), and, under ``strace -c``, fsync/fdatasync and sleep calls per order
(sqlite's busy handler sleeps in nanosleep/clock_nanosleep while another process holds the write lock).
Profiles are written as .prof files for snakeviz/pstats.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import re
import shutil
import time
from pathlib import Path

from .common import RESULTS, fresh_dir


def top(prof_files: list[Path], limit: int) -> str:
    stats = pstats.Stats(str(prof_files[0]), stream=io.StringIO())
    for p in prof_files[1:]:
        stats.add(str(p))
    out = io.StringIO()
    stats.stream = out
    stats.strip_dirs().sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(limit)
    text = out.getvalue()
    return "\n".join(line for line in text.splitlines() if line.strip())


def strace_summary(prefix: Path, ovens: int, n: int) -> dict[str, float]:
    """Calls per order summed over ovens, from ``strace -c`` files."""
    calls: dict[str, int] = {}
    for i in range(1, ovens + 1):
        path = Path(f"{prefix}.{i}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            m = re.match(r"\s*[\d.]+\s+([\d.]+)\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", line)
            if m:
                calls[m.group(3)] = calls.get(m.group(3), 0) + int(m.group(2))
    return {k: round(v / n, 3) for k, v in sorted(calls.items())}


def drain_case(n: int, durability: str, prefetch: int, ovens: int, out: Path, limit: int) -> str:
    from . import kitchen_bench as kb

    name = f"drain-{durability}-p{prefetch}-o{ovens}"
    pdir = out / name
    pdir.mkdir(parents=True, exist_ok=True)
    rate, extra = kb.drain(n, durability, prefetch, ovens, profile_dir=pdir, count_tx=True)
    lines = [f"== {name}: {rate:,.0f} orders/s under cProfile (slower than unprofiled)",
             "transactions (all threads: loop + heartbeat + reaper): "
             + ", ".join(f"oven {i + 1}: {t['write'] / (n / ovens):.3f} writes/order, {t['read']} reads"
                         for i, t in enumerate(extra["tx"]))]
    rate2, _ = kb.drain(n, durability, prefetch, ovens, strace_out=pdir / "strace")
    sc = strace_summary(pdir / "strace", ovens, n)
    lines.append(f"syscalls per order under strace -f ({rate2:,.0f} orders/s traced): {json.dumps(sc)}")
    lines.append(top(sorted(pdir.glob("*.prof")), limit))
    return "\n".join(lines)


def submit_case(n: int, durability: str, batch: int | None, out: Path, limit: int) -> str:
    from kitchen import Kitchen

    from .kitchen_bench import noop_orders

    name = f"submit-{durability}-{'one' if batch is None else f'batch{batch}'}"
    with fresh_dir("profile-submit") as d:
        k = Kitchen.open(str(d / "k.db"), durability=durability)
        k.submit("noop", {})
        prof = cProfile.Profile()
        if batch is None:
            t = time.perf_counter()
            prof.enable()
            for i in range(n):
                k.submit("noop", {"i": i})
            prof.disable()
        else:
            specs = [noop_orders(s, min(n, s + batch)) for s in range(0, n, batch)]
            t = time.perf_counter()
            prof.enable()
            for chunk in specs:
                k.submit_many(chunk)
            prof.disable()
        rate = n / (time.perf_counter() - t)
        k.close()
    path = out / f"{name}.prof"
    prof.dump_stats(str(path))
    return f"== {name}: {rate:,.0f} orders/s under cProfile\n" + top([path], limit)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile")
    p.add_argument("-n", type=int, default=10_000)
    p.add_argument("--prefetch", type=int, default=32)
    p.add_argument("--limit", type=int, default=22, help="rows per pstats listing")
    p.add_argument("--out", default=str(RESULTS / "profile"))
    p.add_argument("--only", default="drain,submit")
    a = p.parse_args(argv)
    out = Path(a.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    only = a.only.split(",")
    reports = []
    if "drain" in only:
        for dur, pf, ovens in (("normal", 1, 1), ("full", 1, 1), ("normal", a.prefetch, 1), ("normal", 1, 2),
                               ("normal", a.prefetch, 2)):
            reports.append(drain_case(a.n, dur, pf, ovens, out, a.limit))
            print(reports[-1], "\n", flush=True)
    if "submit" in only:
        for dur, batch, n in (("normal", None, a.n), ("normal", 1000, 10 * a.n)):
            reports.append(submit_case(n, dur, batch, out, a.limit))
            print(reports[-1], "\n", flush=True)
    (out / "report.txt").write_text("\n\n".join(reports) + "\n")
    print(f"wrote {out}/report.txt and .prof files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
