"""The benchmark: kitchen against huey, persist-queue, litequeue and the raw SQLite floor, in one run.

    uv run --group dev --group bench python -m bench               # full run (~5 min on 2 quiet cores)
    uv run --group dev --group bench python -m bench --quick       # smaller sizes (~2 min)
    uv run --group dev --group bench python -m bench --smoke       # tiny sizes: does every workload run? (<1 min)
    python -m bench --only drain,peers,floor -n 20000 --repeats 5 --json out.json

Prints Markdown tables (median of the runs, min-max), the kitchen/peer ratios (only where kitchen's
durability is at least the peer's), and the issue-5 targets with pass/miss; writes every figure as JSON
(default bench/results/latest.json). ``--write-results`` also rewrites bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .common import RANK, RESULTS, ROOT, Figure, fmt, installed, machine, machine_busy_seconds, set_tmp

WORKLOADS = ("submit", "batch", "drain", "scaling", "peers", "floor", "latency", "recovery", "bigtable", "tui")


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.figures: dict[str, Figure] = {}
        self.started = time.monotonic()
        self.notes: list[str] = []
        self.noisy = 0

    def log(self, msg: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {msg}", file=sys.stderr, flush=True)

    def fig(self, key: str, workload: str, system: str, durability: str, prefetch: Any, ovens: Any, unit: str,
            n: int = 0, higher: bool = True, note: str = "") -> Figure:
        f = Figure(key, workload, system, durability, str(prefetch), str(ovens), unit, higher_is_better=higher,
                   n=n, note=note)
        self.figures[key] = f
        return f

    def repeat(self, figs: dict[str, Figure], times: int, once: Callable[[int], dict[str, Any]]) -> None:
        """Run ``once`` ``times`` times; it returns {figure key: value, "_extra": {...}} for several figures.

        Each run's "other load" is the CPU the rest of the machine used while it ran (machine busy time minus
        this harness and its waited-for children), as % of all cores. A run disturbed by more than
        --quiet-below is measured again, up to --retry-noisy times; every attempt stays in the JSON.
        """
        for i in range(times):
            attempts = []
            for attempt in range(self.args.retry_noisy + 1):
                self.background()
                before = _busy()
                out = once(i)
                other = _other_load(before, _busy())
                attempts.append((other, out))
                if other < self.args.quiet_below or attempt == self.args.retry_noisy:
                    break
                self.log(f"  run {i + 1}: other processes used {other:.0f}% of the machine; measuring again")
            other, out = min(attempts, key=lambda a: a[0])
            if other >= self.args.quiet_below:
                self.noisy += 1
            extra = out.pop("_extra", {})
            for key, value in out.items():
                f = figs[key]
                f.runs.append(float(value))
                f.extra.setdefault("other_load_pct", []).append(round(other, 1))
                for k, v in extra.get(key, {}).items():
                    f.extra.setdefault(k, []).append(v)
                if len(attempts) > 1:
                    f.extra.setdefault("disturbed_attempts", []).append(
                        [(round(o, 1), a.get(key)) for o, a in attempts])
            shown = ", ".join(f"{k}={fmt(v, figs[k].unit)}" for k, v in out.items())
            self.log(f"  run {i + 1}/{times}: {shown} (other load {other:.0f}%)")

    def background(self) -> float:
        """With --wait-quiet S: before a run, wait up to S seconds for the machine to be quieter than
        --quiet-below (sampled over 0.3 s while this harness is idle)."""
        if self.args.wait_quiet <= 0:
            return 0.0
        deadline = time.monotonic() + self.args.wait_quiet
        while True:
            before = _busy()
            time.sleep(0.3)
            bg = _other_load(before, _busy())
            if bg < self.args.quiet_below or time.monotonic() >= deadline:
                return bg

    # -- workloads ------------------------------------------------------------------------------------------

    def submit(self) -> None:
        from . import kitchen_bench as kb

        n = self.args.n
        for dur in ("normal", "full"):
            f = self.fig(f"submit.kitchen.{dur}", f"submit one by one ({n:,})", "kitchen Kitchen.submit", dur,
                         "-", "-", "orders/s", n)
            self.log(f"submit one by one, kitchen, durability {dur}")
            self.repeat({f.key: f}, self.args.repeats,
                        lambda i, f=f, dur=dur: {f.key: kb.submit_one_by_one(n, dur)})

    def batch(self) -> None:
        from . import kitchen_bench as kb

        n, b = self.args.batch_n, self.args.batch_size
        for dur in ("normal", "full"):
            f = self.fig(f"batch.kitchen.{dur}", f"batch submit ({n:,}, {b:,}/call)", "kitchen Kitchen.submit_many",
                         dur, "-", "-", "orders/s", n)
            self.log(f"batch submit, kitchen, durability {dur}")
            self.repeat({f.key: f}, self.args.repeats, lambda i, f=f, dur=dur: {f.key: kb.submit_batched(n, dur, b)})

    def drain(self) -> None:
        from . import kitchen_bench as kb

        n = self.args.n
        for ovens in (1, 2):
            for dur in ("normal", "full"):
                for pf in self.prefetches:
                    key = f"drain.kitchen.{dur}.p{pf}.o{ovens}"
                    f = self.fig(key, f"drain ({n:,})", f"kitchen, {ovens} oven process{'es' if ovens > 1 else ''}",
                                 dur, pf, ovens, "orders/s", n)
                    self.log(f"drain, kitchen, {ovens} oven(s), durability {dur}, prefetch {pf}")

                    def once(i, dur=dur, pf=pf, ovens=ovens, key=key):
                        rate, extra = kb.drain(n, dur, pf, ovens)
                        return {key: rate, "_extra": {key: extra}}

                    self.repeat({key: f}, self.args.repeats, once)

        for pf in self.prefetches:
            key = f"drain.cli.normal.p{pf}"
            f = self.fig(key, f"drain ({n:,})", "kitchen run --burst (CLI, log level info to a file)", "normal", pf,
                         1, "orders/s", n, note="rate from ledger times")
            self.log(f"drain, `kitchen run --burst`, prefetch {pf}")

            def once_cli(i, pf=pf, key=key):
                rate, extra = kb.drain_cli(n, "normal", pf)
                return {key: rate, "_extra": {key: extra}}

            self.repeat({key: f}, self.args.repeats, once_cli)

    def scaling(self) -> None:
        """Ovens exist to run recipes in parallel: the same drain with a recipe that takes 1 ms (sleeping)."""
        from . import kitchen_bench as kb

        n, ms = self.args.scaling_n, 1.0
        for ovens in (1, 2):
            for pf in self.prefetches:
                key = f"scaling.p{pf}.o{ovens}"
                f = self.fig(key, f"drain ({n:,}), recipe takes {ms:g} ms",
                             f"kitchen, {ovens} oven process{'es' if ovens > 1 else ''}", "normal", pf, ovens,
                             "orders/s", n)
                self.log(f"drain with a {ms:g} ms recipe, {ovens} oven(s), prefetch {pf}")

                def once(i, pf=pf, ovens=ovens, key=key):
                    rate, extra = kb.drain(n, "normal", pf, ovens, work_ms=ms)
                    return {key: rate, "_extra": {key: extra}}

                self.repeat({key: f}, self.args.repeats, once)

    def peers(self) -> None:
        from . import peers

        n = self.args.n
        specs = [
            ("huey.default", "huey SqliteStorage (default)", lambda: peers.huey(n, None), "-", "huey"),
            ("huey.nofsync", "huey SqliteStorage fsync=False", lambda: peers.huey(n, False), "-", "huey"),
            ("persistqueue", "persist-queue SQLiteAckQueue", lambda: peers.persist_queue(n), "-", "persistqueue"),
            ("litequeue", "litequeue LiteQueue", lambda: peers.litequeue(n), "-", "litequeue"),
        ]
        for name, label, fn, pf, module in specs:
            if not installed(module):
                self.log(f"peer {label}: skipped, {module} is not installed")
                self.note_once(f"{module} is not installed: its rows were skipped (install the peers with "
                               "`--group bench`)")
                continue
            self.log(f"peer {label}")
            fs = self.fig(f"submit.{name}", f"submit one by one ({n:,})", label, "?", pf, "-", "orders/s", n)
            fd = self.fig(f"drain.{name}", f"drain ({n:,})", label + ", 1 consumer", "?", pf, 1, "orders/s", n)

            def once(i, fn=fn, fs=fs, fd=fd):
                out = fn()
                fs.durability = fd.durability = out["sync"]
                return {fs.key: out["submit"], fd.key: out["drain"]}

            self.repeat({fs.key: fs, fd.key: fd}, self.args.repeats, once)

    def floor(self) -> None:
        from . import peers

        n = self.args.n
        for sync in ("normal", "full"):
            for per_tx in (1, 100):
                key = f"drain.floor.{sync}.t{per_tx}"
                f = self.fig(key, f"drain ({n:,})", f"raw sqlite3 floor, {per_tx}/tx", sync, per_tx, 1, "orders/s", n)
                self.log(f"floor drain, synchronous {sync}, {per_tx} per transaction")
                self.repeat({key: f}, self.args.repeats, lambda i, sync=sync, per_tx=per_tx, key=key:
                            {key: peers.floor_drain(n, sync.upper(), per_tx)})
            key = f"submit.floor.{sync}"
            f = self.fig(key, f"submit one by one ({n:,})", "raw sqlite3 floor INSERT", sync, "-", "-", "orders/s", n)
            self.log(f"floor submit, synchronous {sync}")
            self.repeat({key: f}, self.args.repeats,
                        lambda i, sync=sync, key=key: {key: peers.floor_submit(n, sync.upper())})

    def latency(self) -> None:
        from . import kitchen_bench as kb

        a = self.args
        figs = {
            "latency.p50": self.fig("latency.p50", f"submit-to-start p50 ({a.latency_samples} orders)",
                                    "kitchen run, 2 idle ovens", "normal", 1, 2, "ms", higher=False),
            "latency.p99": self.fig("latency.p99", f"submit-to-start p99 ({a.latency_samples} orders)",
                                    "kitchen run, 2 idle ovens", "normal", 1, 2, "ms", higher=False),
            "idle.cpu": self.fig("idle.cpu", f"idle oven CPU (worst oven, {a.idle_seconds:g}s)",
                                 "kitchen run, 2 idle ovens", "normal", 1, 2, "%", higher=False,
                                 note="% of one core"),
        }
        self.log("latency and idle CPU with real `kitchen run` ovens")

        def once(i):
            r = kb.latency_and_idle(a.latency_samples, 2, a.idle_seconds)
            return {"latency.p50": r["p50"], "latency.p99": r["p99"], "idle.cpu": r["cpu"],
                    "_extra": {"latency.p99": {"max_ms": r["max"]},
                               "idle.cpu": {"cpu_each": r["cpu_each"], "oven_rss_mb": r["oven_rss_mb"]}}}

        self.repeat(figs, a.repeats, once)

    def recovery(self) -> None:
        from . import kitchen_bench as kb

        a = self.args
        budget = a.heartbeat_timeout + a.reap_interval + 0.5
        f = self.fig("recovery", f"SIGKILL -> orders requeued ({a.recovery_trials} kills)",
                     f"kitchen run, 2 ovens (timeout {a.heartbeat_timeout:g}s, reap {a.reap_interval:g}s, "
                     f"heartbeat {a.heartbeat_interval:g}s)", "normal", 1, 2, "s", higher=False,
                     note=f"budget {budget:g}s")
        self.log("recovery after SIGKILL")

        def once(i):
            s, extra = kb.recovery(a.heartbeat_timeout, a.reap_interval, a.heartbeat_interval)
            return {"recovery": s, "_extra": {"recovery": extra}}

        self.repeat({f.key: f}, a.recovery_trials, once)

    def bigtable(self) -> None:
        from . import kitchen_bench as kb
        from .common import fresh_dir

        a = self.args
        n = a.n
        self._big_dir = fresh_dir("fixtures")
        d = self._big_dir.__enter__()
        small, big = d / "small.db", d / "big.db"
        self.log(f"building fixtures: {n:,} queued; {a.big:,} done + {n:,} queued")
        self.fixture_info = {"small": kb.build_big_fixture(small, 0, n), "big": kb.build_big_fixture(big, a.big, n)}
        self.big_fixture = big
        self.log(f"  fixtures: {self.fixture_info}")
        for pf in self.prefetches:
            for label, path, done in (("10k", small, 0), ("big", big, a.big)):
                key = f"bigtable.{label}.p{pf}"
                table = f"{n:,} queued" if not done else f"{done:,} done + {n:,} queued"
                f = self.fig(key, f"drain {n:,} with {table} in the table", "kitchen, 1 oven process",
                             "normal", pf, 1, "orders/s", n)
                self.log(f"drain with {table}, prefetch {pf}")

                def once(i, path=path, done=done, key=key, pf=pf):
                    rate, extra = kb.drain(n, "normal", pf, 1, fixture=path, pre_done=done)
                    return {key: rate, "_extra": {key: extra}}

                self.repeat({key: f}, a.repeats, once)

    def tui(self) -> None:
        from . import kitchen_bench as kb

        a = self.args
        if getattr(self, "big_fixture", None) is None:
            from .common import fresh_dir

            self._big_dir = fresh_dir("fixtures")
            d = self._big_dir.__enter__()
            self.big_fixture = d / "big.db"
            self.log(f"building fixture: {a.big:,} done + {a.n:,} queued")
            self.fixture_info = {"big": kb.build_big_fixture(self.big_fixture, a.big, a.n)}
        rows = f"{a.big:,} orders"
        figs = {
            "tui.query_ms": self.fig("tui.query_ms", f"refresh queries: status+recent_orders+ledger+events ({rows})",
                                     "kitchen (fresh process)", "normal", "-", "-", "ms", higher=False),
            "tui.read_shop_ms": self.fig("tui.read_shop_ms", f"TUI refresh: kitchen.tui.reader.read_shop ({rows})",
                                         "kitchen (fresh process)", "normal", "-", "-", "ms", higher=False),
            "tui.query_rss": self.fig("tui.query_rss", f"RSS after those refreshes ({rows})",
                                      "kitchen (fresh process)", "normal", "-", "-", "MB", higher=False),
            "tui.app_rss": self.fig("tui.app_rss", f"TUI app RSS, headless, live refreshes ({rows})",
                                    "kitchen TUI (create_app, run_test)", "normal", "-", "-", "MB", higher=False),
        }
        self.log("TUI refresh cost and memory with the big table")

        def once(i):
            r = kb.tui_cost(self.big_fixture, a.refreshes, a.app_seconds)
            q, app = r.get("queries", {}), r.get("app", {})
            out: dict[str, Any] = {"_extra": {"tui.query_ms": {"parts_ms": q.get("parts_ms")},
                                              "tui.app_rss": {k: v for k, v in app.items() if k != "app_rss_mb"}}}
            if "query_ms" in q:
                out["tui.query_ms"] = q["query_ms"]
                out["tui.query_rss"] = q["rss_mb"]
            else:
                self.note_once(f"TUI queries failed: {q}")
            if "read_shop_ms" in q:
                out["tui.read_shop_ms"] = q["read_shop_ms"]
            else:
                self.note_once(f"TUI reader: {q.get('read_shop', 'not measured')}")
            if "app_rss_mb" in app:
                out["tui.app_rss"] = app["app_rss_mb"]
            else:
                self.note_once(f"TUI app RSS not measured: {app.get('app') or app.get('error')}")
            return out

        self.repeat(figs, a.repeats, once)
        for k in list(figs):
            if not self.figures[k].runs:
                del self.figures[k]

    def note_once(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # -- ratios and targets ----------------------------------------------------------------------------------

    def ratios(self) -> list[dict[str, Any]]:
        out = []
        F = self.figures
        kitchen_drains = [f for k, f in F.items() if k.startswith("drain.kitchen.") and f.ovens == "1"]
        peer_drains = [f for k, f in F.items()
                       if k.startswith("drain.") and not k.startswith(("drain.kitchen.", "drain.cli."))]
        for kf in kitchen_drains:
            for pf in peer_drains:
                if RANK.get(kf.durability, -1) < RANK.get(pf.durability, 9):
                    continue
                out.append(self._ratio(kf, pf))
        kitchen_submits = [f for k, f in F.items() if k.startswith("submit.kitchen.")]
        peer_submits = [f for k, f in F.items() if k.startswith("submit.") and not k.startswith("submit.kitchen.")]
        for kf in kitchen_submits:
            for pf in peer_submits:
                if RANK.get(kf.durability, -1) < RANK.get(pf.durability, 9):
                    continue
                out.append(self._ratio(kf, pf))
        return out

    @staticmethod
    def _ratio(a: Figure, b: Figure) -> dict[str, Any]:
        return {"kitchen": a.key, "peer": b.key, "kitchen_label": _label(a), "peer_label": _label(b),
                "ratio": a.median / b.median if b.median else float("nan")}

    def targets(self) -> list[dict[str, Any]]:
        F, a, T = self.figures, self.args, []
        P = self.prefetches[-1]

        def ratio(x: str, y: str) -> float | None:
            return F[x].median / F[y].median if x in F and y in F and F[y].median else None

        def add(figure: str, target: str, value: float | None, ok: bool | None, shown: str, basis: str = "") -> None:
            T.append({"figure": figure, "target": target, "value": value, "shown": shown, "basis": basis,
                      "result": "n/a" if ok is None else ("pass" if ok else "MISS")})

        def ratio_target(figure, x, y, want, basis=""):
            r = ratio(x, y)
            add(figure, f">= {want}x", r, None if r is None else r >= want, "-" if r is None else f"{r:.2f}x", basis)

        # The hint for these two is prefetch: the target is judged at the larger prefetch; the default
        # prefetch 1 (one pizza at a time, for the TUI) is shown beside it as information.
        for dur, peer, want, label in (("full", "drain.huey.default", 1.5, "huey default (FULL)"),
                                       ("normal", "drain.huey.nofsync", 1.0, "huey fsync=False (OFF)")):
            for pf in sorted({1, P}, reverse=True):
                k = f"drain.kitchen.{dur}.p{pf}.o1"
                r = ratio(k, peer)
                if pf == P and P != 1:
                    ratio_target(f"drain, 1 oven, {dur}, prefetch {pf} vs {label}", k, peer, want, _basis(F, k, peer))
                elif r is not None:
                    T.append({"figure": f"drain, 1 oven, {dur}, prefetch {pf} (default) vs {label}",
                              "target": f"(info; target {want}x is judged with prefetch)", "value": r,
                              "shown": f"{r:.2f}x", "basis": _basis(F, k, peer),
                              "result": "info: " + ("would pass" if r >= want else "below")})
        ratio_target("drain, 1 oven, normal, prefetch 1 vs raw per-order floor (NORMAL)",
                     "drain.kitchen.normal.p1.o1", "drain.floor.normal.t1", 0.5,
                     _basis(F, "drain.kitchen.normal.p1.o1", "drain.floor.normal.t1"))
        ratio_target("submit one by one, normal vs raw floor INSERT (NORMAL)", "submit.kitchen.normal",
                     "submit.floor.normal", 0.7, _basis(F, "submit.kitchen.normal", "submit.floor.normal"))
        ratio_target("submit one by one, full vs raw floor INSERT (FULL)", "submit.kitchen.full",
                     "submit.floor.full", 0.7, _basis(F, "submit.kitchen.full", "submit.floor.full"))
        for dur in ("normal", "full"):
            k = f"batch.kitchen.{dur}"
            if k in F:
                v = F[k].median
                add(f"batch submit (submit_many), {dur}", ">= 100,000 orders/s", v, v >= 100_000, f"{v:,.0f}/s")
        for dur in ("normal", "full"):
            for pf in self.prefetches:
                one, two = f"drain.kitchen.{dur}.p{pf}.o1", f"drain.kitchen.{dur}.p{pf}.o2"
                r = ratio(two, one)
                if r is None:
                    continue
                cooked = F[two].extra.get("cooked_per_oven", [])
                starved = any(min(c) < 0.5 * sum(c) / len(c) for c in cooked) if cooked else None
                add(f"2 ovens vs 1, {dur}, prefetch {pf}", ">= 1.0x, no starved oven", r,
                    r >= 1.0 and starved is False,
                    f"{r:.2f}x; per-oven split " + " ".join("/".join(str(x) for x in c) for c in cooked),
                    _basis(F, two, one))
        for pf in self.prefetches:
            r = ratio(f"scaling.p{pf}.o2", f"scaling.p{pf}.o1")
            if r is not None:
                T.append({"figure": f"2 ovens vs 1 with a 1 ms recipe, normal, prefetch {pf}",
                          "target": "(info: what ovens are for)", "value": r, "shown": f"{r:.2f}x",
                          "basis": _basis(F, f"scaling.p{pf}.o2", f"scaling.p{pf}.o1"), "result": "info"})
        for pf in self.prefetches:
            r = ratio(f"bigtable.big.p{pf}", f"bigtable.10k.p{pf}")
            if r is not None:
                add(f"drain with {a.big:,} vs {a.n:,} orders in the table, normal, prefetch {pf}", ">= 0.8x", r,
                    r >= 0.8, f"{r:.2f}x", _basis(F, f"bigtable.big.p{pf}", f"bigtable.10k.p{pf}"))
        for key, label, limit, unit in (("latency.p50", "submit-to-start p50, idle ovens", 20, "ms"),
                                        ("latency.p99", "submit-to-start p99, idle ovens", 100, "ms"),
                                        ("idle.cpu", "idle oven CPU (worst oven)", 2, "% of a core"),
                                        ("recovery", "recovery after SIGKILL (median)",
                                         a.heartbeat_timeout + a.reap_interval + 0.5, "s"),
                                        ("tui.app_rss", f"TUI app RSS with {a.big:,} finished orders", 150, "MB"),
                                        ("tui.query_rss", f"refresh-queries process RSS with {a.big:,} finished orders",
                                         150, "MB"),
                                        ("tui.read_shop_ms", f"TUI refresh (read_shop) with {a.big:,} finished orders",
                                         20, "ms"),
                                        ("tui.query_ms", "refresh queries (status+recent+ledger+events), "
                                         f"{a.big:,} finished", 20, "ms")):
            if key in F:
                v = F[key].median
                strict = key == "idle.cpu"
                add(label, f"{'<' if strict else '<='} {limit:g} {unit}", v, v < limit if strict else v <= limit,
                    f"{fmt(v, F[key].unit)} {unit}")
        return T

    # -- output ---------------------------------------------------------------------------------------------

    def tables(self, ratios, targets) -> str:
        lines = ["| workload | system | durability | prefetch | ovens | median | min–max | unit | other load (max) |",
                 "|---|---|---|---|---|---:|---:|---|---:|"]
        for f in self.figures.values():
            rng = f"{fmt(f.lo, f.unit)}–{fmt(f.hi, f.unit)}"
            bg = f.extra.get("other_load_pct") or [0.0]
            lines.append(f"| {f.workload} | {f.system} | {f.durability} | {f.prefetch} | {f.ovens} | "
                         f"{fmt(f.median, f.unit)} | {rng} | {f.unit}{' (' + f.note + ')' if f.note else ''} | "
                         f"{max(bg):.0f}% |")
        out = "\n".join(lines)
        if ratios:
            out += "\n\nkitchen / peer (drain and submit medians; only where kitchen's durability >= the peer's):\n\n"
            out += "| kitchen | peer | ratio |\n|---|---|---:|\n"
            out += "\n".join(f"| {r['kitchen_label']} | {r['peer_label']} | {r['ratio']:.2f}x |" for r in ratios)
        if targets:
            out += "\n\nTargets (issue 5):\n\n| figure | target | measured | result |\n|---|---|---|---|\n"
            out += "\n".join(f"| {t['figure']} | {t['target']} | {t['shown']}"
                             f"{(' — ' + t['basis']) if t['basis'] else ''} | {t['result']} |" for t in targets)
        if self.notes:
            out += "\n\nNotes:\n" + "\n".join(f"- {n}" for n in self.notes)
        return out

    @property
    def prefetches(self) -> list[int]:
        return sorted({1, self.args.prefetch})


def _busy() -> tuple[float, float, float]:
    """(machine busy CPU seconds, this process + waited children CPU seconds, monotonic time)."""
    import os

    o = os.times()
    return machine_busy_seconds(), o.user + o.system + o.children_user + o.children_system, time.monotonic()


def _other_load(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """% of all cores used by other processes between two _busy() samples."""
    import os

    wall = max(b[2] - a[2], 1e-9)
    other = (b[0] - a[0]) - (b[1] - a[1])
    return max(0.0, 100 * other / (wall * (os.cpu_count() or 1)))


def _label(f: Figure) -> str:
    parts = [f.system, f.durability]
    if f.prefetch != "-":
        parts.append(f"prefetch {f.prefetch}" if f.system.startswith("kitchen") else f"{f.prefetch}/tx")
    return ", ".join(parts)


def _basis(F: dict[str, Figure], a: str, b: str) -> str:
    if a not in F or b not in F:
        return ""
    x, y = F[a], F[b]
    return f"{fmt(x.median, x.unit)} vs {fmt(y.median, y.unit)} {x.unit}"


# Sizes per mode: (full, --quick, --smoke). An option given on the command line wins.
SIZES: dict[str, tuple[Any, Any, Any]] = {
    "n": (10_000, 3000, 200),
    "repeats": (3, 3, 1),
    "scaling_n": (2000, 600, 100),
    "batch_n": (100_000, 20_000, 2000),
    "big": (1_000_000, 100_000, 2000),
    "latency_samples": (200, 60, 10),
    "idle_seconds": (5.0, 2.0, 0.5),
    "recovery_trials": (5, 3, 1),
    "refreshes": (50, 50, 5),
    "app_seconds": (3.0, 3.0, 1.0),
    "retry_noisy": (2, 2, 0),
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small sizes for a quick look (~2 min); same workloads")
    mode.add_argument("--smoke", action="store_true",
                      help="tiny sizes, one run each, no re-measuring of disturbed runs: checks that every workload "
                           "runs (well under a minute; the figures mean nothing; tests/test_bench_smoke.py)")
    p.add_argument("--only", default=",".join(WORKLOADS),
                   help=f"comma-separated workloads (default all): {','.join(WORKLOADS)}")
    p.add_argument("-n", type=int, help="orders per submit/drain run (default 10000; quick 3000; smoke 200)")
    p.add_argument("--repeats", type=int, help="runs per figure (median, min-max; default 3; smoke 1)")
    p.add_argument("--prefetch", type=int, default=32, help="the larger prefetch measured besides 1 (default 32)")
    p.add_argument("--scaling-n", type=int,
                   help="orders for the 1 ms-recipe drain (default 2000; quick 600; smoke 100)")
    p.add_argument("--batch-n", type=int, help="orders for batch submit (default 100000; quick 20000; smoke 2000)")
    p.add_argument("--batch-size", type=int, default=1000, help="orders per submit_many call (default 1000)")
    p.add_argument("--big", type=int,
                   help="finished orders already in the table (default 1000000; quick 100000; smoke 2000)")
    p.add_argument("--latency-samples", type=int, help="orders timed submit->start (default 200; quick 60; smoke 10)")
    p.add_argument("--idle-seconds", type=float, help="idle CPU sampling window (default 5; quick 2; smoke 0.5)")
    p.add_argument("--recovery-trials", type=int, help="SIGKILLs (default 5; quick 3; smoke 1)")
    p.add_argument("--heartbeat-timeout", type=float, default=2.0)
    p.add_argument("--reap-interval", type=float, default=0.5)
    p.add_argument("--heartbeat-interval", type=float, default=0.5)
    p.add_argument("--refreshes", type=int, help="TUI refresh cycles timed per run (default 50; smoke 5)")
    p.add_argument("--app-seconds", type=float, help="seconds the headless TUI app runs (default 3; smoke 1)")
    p.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                   help="before each run, wait up to this long for other load to drop below --quiet-below")
    p.add_argument("--quiet-below", type=float, default=15.0, metavar="PCT",
                   help="CPU %% of all cores used by other processes that still counts as quiet (default 15)")
    p.add_argument("--retry-noisy", type=int, metavar="K",
                   help="measure a run again (up to K times) when other processes disturbed it (default 2; smoke 0)")
    p.add_argument("--json", metavar="PATH",
                   help="write every figure here (default bench/results/latest.json; smoke: bench/results/smoke.json)")
    p.add_argument("--tmp", metavar="DIR", help="directory for the runs' fresh databases (default bench/results/tmp)")
    p.add_argument("--write-results", action="store_true", help="rewrite bench/RESULTS.md with this run")
    a = p.parse_args(argv)
    column = 2 if a.smoke else 1 if a.quick else 0
    for name, sizes in SIZES.items():
        if getattr(a, name) is None:
            setattr(a, name, sizes[column])
    a.only = [w.strip() for w in a.only.split(",") if w.strip()]
    unknown = set(a.only) - set(WORKLOADS)
    if unknown:
        p.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    if a.repeats < 1:
        p.error("--repeats must be at least 1")
    if a.smoke and a.write_results:
        p.error("--write-results records a measurement; a --smoke run is not one")
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.tmp:
        set_tmp(Path(args.tmp))
    bench = Bench(args)
    facts = machine()
    bench.log(f"machine: {facts['nproc']} x {facts['cpu']}, python {facts['python']}, sqlite {facts['sqlite']}")
    try:
        for w in WORKLOADS:
            if w in args.only:
                getattr(bench, w)()
    finally:
        if getattr(bench, "_big_dir", None) is not None:
            bench._big_dir.__exit__(None, None, None)
    if args.smoke:
        bench.notes.append("smoke run: tiny sizes, one run per figure, disturbed runs not measured again; it shows "
                           "that every workload runs, its figures and targets mean nothing")
    if bench.noisy and not args.smoke:
        bench.notes.append(f"{bench.noisy} run(s) stayed disturbed by other processes (over {args.quiet_below:g}% "
                           f"of the machine) after {args.retry_noisy} retries (other_load_pct per run in the "
                           "JSON); treat those figures as noisy")
    ratios, targets = bench.ratios(), bench.targets()
    elapsed = time.monotonic() - bench.started
    text = bench.tables(ratios, targets)
    print(text)
    summary = {"machine": facts, "elapsed_s": round(elapsed, 1),
               "config": {k: v for k, v in vars(args).items() if k not in ("json",)},
               "fixtures": getattr(bench, "fixture_info", None),
               "figures": [f.as_json() for f in bench.figures.values()], "ratios": ratios, "targets": targets,
               "notes": bench.notes}
    path = Path(args.json) if args.json else RESULTS / ("smoke.json" if args.smoke else "latest.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=1, default=str))
    bench.log(f"wrote {path} ({elapsed:.0f}s in all)")
    if args.write_results:
        write_results_md(summary, text)
    return 0


def write_results_md(summary: dict[str, Any], text: str) -> None:
    m = summary["machine"]
    cfg = summary["config"]
    head = [
        "# Benchmark results",
        "",
        "Latest full run of `uv run --group dev --group bench python -m bench --write-results`"
        " (see bench/README.md for what each row measures and how to rerun).",
        "",
        f"- when: {m['when']}; wall time {summary['elapsed_s']:.0f} s; kitchen at commit {m['kitchen_commit']}",
        f"- machine: {m['nproc']} cores, {m['cpu']}, {m['memory']} RAM, disk {m['disk']}",
        f"- python {m['python']}, SQLite {m['sqlite']}, {m['platform']}",
        "- packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()),
        f"- sizes: N = {cfg['n']:,} per submit/drain run, batch submit {cfg['batch_n']:,} in calls of "
        f"{cfg['batch_size']:,}, {cfg['big']:,} finished orders for the big table; {cfg['repeats']} runs per figure"
        f" (recovery: {cfg['recovery_trials']} kills); median and min–max",
        "",
    ]
    path = ROOT / "bench" / "RESULTS.md"
    kept = ""
    if path.exists() and ANALYSIS_MARK in path.read_text():
        kept = "\n" + ANALYSIS_MARK + path.read_text().split(ANALYSIS_MARK, 1)[1]
    path.write_text("\n".join(head) + "\n" + text + "\n" + kept)


# Everything after this line in RESULTS.md is written by hand (profile findings) and kept by --write-results.
ANALYSIS_MARK = "<!-- analysis: kept by --write-results -->"


if __name__ == "__main__":
    raise SystemExit(main())
