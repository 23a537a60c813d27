"""Each revision's own benchmark harness, side by side in one run: is every figure within 10% of the old one?

    python3 -m uv run --group dev --group bench python -m bench.compare --rev 3c219b4 [--rev HEAD] [--quick]
        [--only drain,submit,...] [--rounds R] [other harness options, e.g. --idle-seconds 10]

The first --rev is "old"; the second is "new" (default: the working tree, copied as it is at the start: HEAD plus
its uncommitted and untracked files). Each gets a temporary ``git worktree add --detach`` (removed at the end)
and runs its own harness there (``python -P -m bench --json OUT ...``, cwd and PYTHONPATH = that tree), so each
version measures itself with its own workloads. Runs are interleaved: round 1 old, new; round 2 new, old; ...
Before each run we wait (up to --wait-load seconds) for the 1-minute load average to drop below --load-below,
and print the load seen. The table pools every run of a figure over all rounds (median) and lists the figures
both harnesses report (matched by JSON figure key). "within 10%": new/old >= 0.90 where higher is better,
<= 1.10 where lower is better. Logs and JSON go to bench/results/compare/<time>/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "compare"


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def load1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def wait_for_load(below: float, limit: float) -> tuple[float, float]:
    """Wait up to ``limit`` seconds for the 1-minute load average to drop below ``below``: (load, waited s)."""
    start = time.monotonic()
    while (load := load1()) >= below and time.monotonic() - start < limit:
        time.sleep(5)
    return load, time.monotonic() - start


def snapshot_working_tree(dest: Path) -> list[str]:
    """A worktree of HEAD with the working tree's uncommitted changes and untracked files copied over."""
    git("worktree", "add", "--detach", "--quiet", str(dest), "HEAD")
    changed = git("diff", "--name-only", "HEAD", "-z").split("\0")
    untracked = git("ls-files", "--others", "--exclude-standard", "-z").split("\0")
    names = sorted(set(filter(None, changed + untracked)))
    for name in names:
        src, dst = ROOT / name, dest / name
        if src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
        elif dst.exists():
            dst.unlink()  # deleted in the working tree
    return names


def figures(path: Path) -> dict[str, dict[str, Any]]:
    """{key: figure} from either harness's JSON ("figures" as a list of dicts, or as a dict keyed by key)."""
    data = json.loads(path.read_text())
    figs = data.get("figures", data)
    items = figs.items() if isinstance(figs, dict) else ((f["key"], f) for f in figs)
    return {k: f for k, f in items if f.get("runs")}


def show(v: float, unit: str) -> str:
    return f"{v:,.0f}" if unit == "orders/s" else f"{v:.3g}"


def run_harness(tree: Path, out: Path, harness_args: list[str]) -> int:
    env = {k: v for k, v in os.environ.items() if k not in ("KITCHEN_CONFIG", "KITCHEN_DB")}
    env["PYTHONPATH"] = str(tree)
    cmd = [sys.executable, "-P", "-m", "bench", "--json", str(out.with_suffix(".json")), *harness_args]
    tmp = out.parent / (out.name + "-tmp")
    if "--tmp" in (tree / "bench" / "run.py").read_text():  # the old harness has no --tmp: it uses its tree's
        cmd += ["--tmp", str(tmp)]
    check = subprocess.run([sys.executable, "-P", "-c", "import kitchen; print(kitchen.__file__)"], cwd=tree,
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    if not Path(check).resolve().is_relative_to(tree.resolve()):
        raise RuntimeError(f"{tree}: kitchen imported from {check}")
    with out.with_suffix(".log").open("w") as log:
        proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return proc.wait()
        except BaseException:  # interrupted: take the harness and its ovens down with us
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n\n")[0])
    p.add_argument("--rev", action="append", default=[], help="old revision, then optionally the new one")
    p.add_argument("--quick", action="store_true", help="pass --quick to both harnesses")
    p.add_argument("--only", help="workloads, passed to both harnesses")
    p.add_argument("--rounds", type=int, default=2, help="rounds of (old, new) / (new, old) (default 2)")
    p.add_argument("--repeats", type=int, help="passed to both harnesses (runs per figure per harness run)")
    p.add_argument("-n", type=int, help="passed to both harnesses")
    p.add_argument("--load-below", type=float, default=1.5, help="1-minute load to wait for (default 1.5)")
    p.add_argument("--wait-load", type=float, default=300, help="seconds to wait for it at most (default 300)")
    a, extra = p.parse_known_args(argv)  # anything else (e.g. --idle-seconds 10) goes to both harnesses
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # so that the worktrees are removed
    if not 1 <= len(a.rev) <= 2:
        p.error("give --rev OLD, optionally --rev NEW (default: the working tree)")
    harness_args = (["--quick"] if a.quick else []) + (["--only", a.only] if a.only else [])
    harness_args += (["--repeats", str(a.repeats)] if a.repeats else []) + (["-n", str(a.n)] if a.n else []) + extra
    out_dir = OUT / time.strftime("%Y%m%d-%H%M%S")
    out_dir.mkdir(parents=True)
    base = Path(tempfile.mkdtemp(prefix="compare-wt-", dir=OUT))  # same disk as the repository
    trees: dict[str, Path] = {}
    names: dict[str, str] = {}
    started = time.monotonic()
    runs: list[dict[str, Any]] = []
    try:
        for side, rev in zip(("old", "new"), a.rev):
            trees[side] = base / side
            git("worktree", "add", "--detach", "--quiet", str(trees[side]), rev)
            names[side] = f"{rev} ({git('rev-parse', '--short', rev).strip()})"
        if "new" not in trees:
            trees["new"] = base / "new"
            dirty = snapshot_working_tree(trees["new"])
            head = git("rev-parse", "--short", "HEAD").strip()
            names["new"] = f"working tree (HEAD {head} + {len(dirty)} changed files)"
            names["new_changed_files"] = " ".join(dirty)
        print(f"old = {names['old']}\nnew = {names['new']}\nharness args: {' '.join(harness_args) or '(none)'}",
              flush=True)
        for r in range(1, a.rounds + 1):
            for side in ("old", "new") if r % 2 else ("new", "old"):
                load, waited = wait_for_load(a.load_below, a.wait_load)
                out = out_dir / f"r{r}-{side}"
                t0 = time.monotonic()
                rc = run_harness(trees[side], out, harness_args)
                run = {"round": r, "side": side, "load_before": load, "waited_s": round(waited),
                       "load_after": load1(), "seconds": round(time.monotonic() - t0), "rc": rc, "out": str(out)}
                runs.append(run)
                print(f"round {r} {side}: load {load:.2f} before (waited {waited:.0f} s"
                      f"{', gave up' if load >= a.load_below else ''}), {run['load_after']:.2f} after; "
                      f"{run['seconds']} s; exit {rc}; {out}.log", flush=True)
    finally:
        for tree in trees.values():
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
        git("worktree", "prune")
    pooled: dict[str, dict[str, list[tuple[float, dict]]]] = {"old": {}, "new": {}}
    info: dict[str, dict] = {}
    for run in runs:
        path = Path(run["out"]).with_suffix(".json")
        if run["rc"] or not path.exists():
            continue
        for key, f in figures(path).items():
            info.setdefault(key, f)
            others = f.get("extra", {}).get("other_load_pct") or [None] * len(f["runs"])
            for v, other in zip(f["runs"], others):
                pooled[run["side"]].setdefault(key, []).append((v, {**run, "other_pct": other}))
    keys = [k for k in pooled["new"] if k in pooled["old"]]
    rows, missed = [], []
    print(f"\nold = {names['old']}, new = {names['new']}; {a.rounds} rounds, harness args "
          f"{' '.join(harness_args) or '(none)'}; {time.monotonic() - started:.0f} s in all\n")
    print("| figure key | old median | new median | new/old | within 10%? |\n|---|---:|---:|---:|---|")
    for key in keys:
        f = info[key]
        old = statistics.median(v for v, _ in pooled["old"][key])
        new = statistics.median(v for v, _ in pooled["new"][key])
        higher = f.get("higher_is_better", True)
        ratio = new / old if old else float("nan")
        ok = ratio >= 0.9 if higher else ratio <= 1.1
        unit = f.get("unit", "")
        verdict = "yes" if ok else f"NO ({'higher' if higher else 'lower'} is better)"
        print(f"| {key} | {show(old, unit)} {unit} | {show(new, unit)} {unit} | {ratio:.2f} | {verdict} |")
        rows.append({"key": key, "old": old, "new": new, "ratio": ratio, "ok": ok, "unit": unit})
        if not ok:
            missed.append(key)
    only_one = sorted(set(pooled["old"]) ^ set(pooled["new"]))
    if only_one:
        print(f"\nreported by one harness only (not compared): {', '.join(only_one)}")
    for key in missed:
        print(f"\nmissed: {key}; every run (round, side, 1-min load before/after, harness-measured other load):")
        for side in ("old", "new"):
            for v, run in pooled[side][key]:
                other = "-" if run["other_pct"] is None else f"{run['other_pct']:.0f}%"
                print(f"  r{run['round']} {side}: {show(v, info[key].get('unit', ''))}"
                      f"  load {run['load_before']:.2f}/{run['load_after']:.2f}"
                      f"  other {other}")
    failed = [f"round {r['round']} {r['side']} (exit {r['rc']})" for r in runs if r["rc"]]
    if failed:
        print(f"\nfailed harness runs (see their logs): {', '.join(failed)}")
    (out_dir / "compare.json").write_text(json.dumps({"names": names, "args": vars(a), "runs": runs,
                                                      "rows": rows, "only_one": only_one}, indent=1))
    print(f"\nlogs and JSON: {out_dir}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
