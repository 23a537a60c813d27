"""kitchen's side of the benchmark: submit, drain with real oven processes, latency, recovery, 1M orders, TUI."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from kitchen import Kitchen

from .common import PY, checkpoint, child_env, copy_db, cpu_seconds, fresh_dir, percentile, rss_mb, verify_drain

FILL_BATCH = 10_000


def noop_orders(start: int, stop: int, work_ms: float = 0.0) -> list[dict[str, Any]]:
    if work_ms:
        return [{"recipe": "bench_work", "payload": {"i": i, "ms": work_ms}} for i in range(start, stop)]
    return [{"recipe": "noop", "payload": {"i": i}} for i in range(start, stop)]


def fill(db: Path, n: int, batch: int = FILL_BATCH, work_ms: float = 0.0) -> None:
    """A queue of ``n`` noop orders (random routing: spread over every bucket), WAL checkpointed."""
    with Kitchen.open(str(db), durability="normal") as k:
        for start in range(0, n, batch):
            k.submit_many(noop_orders(start, min(n, start + batch), work_ms))
    checkpoint(db)


def _count_orders(db: Path) -> int:
    con = sqlite3.connect(str(db))
    try:
        return con.execute("SELECT count(*) FROM orders").fetchone()[0]
    finally:
        con.close()


# -- submit ------------------------------------------------------------------------------------------------


def submit_one_by_one(n: int, durability: str) -> float:
    """``Kitchen.submit`` n times, each committed (durable at ``durability``) before it returns."""
    with fresh_dir("submit") as d:
        db = d / "kitchen.db"
        with Kitchen.open(str(db), durability=durability) as k:
            k.submit("noop", {"i": -1})  # schema and connection made outside the timing
            t = time.perf_counter()
            for i in range(n):
                k.submit("noop", {"i": i})
            dt = time.perf_counter() - t
        assert _count_orders(db) == n + 1
    return n / dt


def submit_batched(n: int, durability: str, batch: int) -> float:
    """``Kitchen.submit_many`` of ``batch`` orders per call (one transaction each), n orders in all."""
    with fresh_dir("submit-many") as d:
        db = d / "kitchen.db"
        with Kitchen.open(str(db), durability=durability) as k:
            k.submit("noop", {"i": -1})
            specs = [noop_orders(s, min(n, s + batch)) for s in range(0, n, batch)]
            t = time.perf_counter()
            for chunk in specs:
                k.submit_many(chunk)
            dt = time.perf_counter() - t
        assert _count_orders(db) == n + 1
    return n / dt


# -- drain with real oven processes ------------------------------------------------------------------------------


def _read_json_line(proc: subprocess.Popen, err: Path, what: str) -> dict[str, Any]:
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=10)
        raise RuntimeError(f"{what}: oven process exited {proc.returncode}: {err.read_text()[-2000:]}")
    return json.loads(line)


def drain(n: int, durability: str, prefetch: int, ovens: int, *, fixture: Path | None = None,
          pre_done: int = 0, profile_dir: Path | None = None, count_tx: bool = False,
          strace_out: Path | None = None, experiments: tuple[str, ...] = (),
          work_ms: float = 0.0) -> tuple[float, dict[str, Any]]:
    """Drain n queued noop orders with ``ovens`` real oven processes (kitchen's Worker loop).

    Timed from the go signal (all ovens joined) to the last completion; then every order is checked done
    exactly once, and every completion was made by the oven owning that order's bucket or recorded as a steal.
    """
    with fresh_dir("drain") as d:
        db = d / "kitchen.db"
        if fixture is not None:
            copy_db(fixture, db)
        else:
            fill(db, n, work_ms=work_ms)
        # Settle the disk before timing: the copy (and the previous run's deleted files) must not be written back
        # during the drain, where the oven's WAL checkpoints would wait for it behind the same journal.
        os.sync()
        procs: list[subprocess.Popen] = []
        errs: list[Path] = []
        try:
            for i in range(ovens):
                cmd = [PY, "-m", "bench.oven_child", "--db", str(db), "--durability", durability,
                       "--prefetch", str(prefetch), "--name", f"oven-{i + 1}"]
                if profile_dir is not None:
                    cmd += ["--profile", str((profile_dir / f"oven-{i + 1}.prof").resolve())]
                if count_tx:
                    cmd.append("--count-tx")
                for e in experiments:
                    cmd += ["--experiment", e]
                if strace_out is not None:
                    cmd = ["strace", "-f", "-c", "-o", f"{Path(strace_out).resolve()}.{i + 1}", "-e",
                           "trace=fsync,fdatasync,pwrite64,pread64,fcntl,flock,nanosleep,clock_nanosleep,futex", *cmd]
                errs.append(d / f"oven-{i + 1}.err")
                procs.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                              stderr=errs[-1].open("w"), env=child_env(), cwd=d))
            for p, e in zip(procs, errs):
                _read_json_line(p, e, "join")
            con = sqlite3.connect(str(db))
            owners = dict(con.execute("SELECT bucket, oven_id FROM buckets").fetchall())
            last_ledger = con.execute("SELECT coalesce(max(id), 0) FROM ledger").fetchone()[0]
            con.close()
            t_go = time.monotonic()
            for p in procs:
                p.stdin.write("go\n")
                p.stdin.flush()
            outs = []
            for p, e in zip(procs, errs):
                outs.append(_read_json_line(p, e, "drain"))
                p.wait(timeout=60)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        t_end = max(o["t_last"] for o in outs)
        check = verify_drain(db, n, pre_done)
        con = sqlite3.connect(str(db))
        rows = con.execute("SELECT l.oven_id, o.bucket, count(*) FROM ledger l JOIN orders o ON o.id = l.order_id"
                           " WHERE l.id > ? GROUP BY 1, 2", (last_ledger,)).fetchall()
        # an oven whose own buckets are empty takes others' orders: each such completion must be a recorded steal
        done = con.execute("SELECT l.order_id, l.oven_id, l.oven_name, o.bucket FROM ledger l"
                           " JOIN orders o ON o.id = l.order_id WHERE l.id > ?", (last_ledger,)).fetchall()
        stolen = set(con.execute("SELECT order_id, oven_name FROM events WHERE kind = 'stolen'").fetchall())
        con.close()
        unrecorded = sum(1 for order_id, oven_id, name, bucket in done
                         if owners.get(bucket) != oven_id and (order_id, name) not in stolen)
        if unrecorded:
            raise AssertionError(f"{unrecorded} orders completed by an oven that neither owned their bucket nor"
                                 " recorded taking them")
        per_oven = {}
        for oven_id, _bucket, c in rows:
            per_oven[oven_id] = per_oven.get(oven_id, 0) + c
        cooked = [o["cooked"] for o in outs]
        extra = {"cooked_per_oven": cooked, "finish_s_per_oven": [round(o["t_last"] - t_go, 3) for o in outs],
                 "buckets_per_oven": [sum(1 for v in owners.values() if v == o["oven_id"]) for o in outs],
                 "stolen": len(stolen),
                 "ledger_rows": check["ledger_rows"], "seconds": round(t_end - t_go, 4)}
        if count_tx:
            extra["tx"] = [o["tx"] for o in outs]
        return n / (t_end - t_go), extra


def drain_cli(n: int, durability: str, prefetch: int) -> tuple[float, dict[str, Any]]:
    """The same drain through the real CLI, ``kitchen run --burst`` at its default log level (info: two lines
    per order, to a file). Rate from the ledger: (N - 1) / (last completion - first completion)."""
    with fresh_dir("drain-cli") as d:
        db = d / "kitchen.db"
        fill(db, n)
        ini = write_ini(d, durability=durability, prefetch=prefetch)
        cmd = [PY, "-m", "kitchen", "--config", str(ini), "--db", str(db), "run", "--burst", "--name", "oven-1"]
        with (d / "oven.log").open("w") as log:
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=child_env(), cwd=d,
                               timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"kitchen run --burst exited {r.returncode}: {(d / 'oven.log').read_text()[-2000:]}")
        check = verify_drain(db, n)
        con = sqlite3.connect(str(db))
        first, last = con.execute("SELECT min(at), max(at) FROM ledger").fetchone()
        con.close()
        lines = sum(1 for _ in (d / "oven.log").open())
        return (n - 1) / (last - first), {"log_lines": lines, "ledger_rows": check["ledger_rows"]}


# -- real `kitchen run` ovens: latency, idle CPU, recovery ----------------------------------------------------------


def write_ini(d: Path, **settings: Any) -> Path:
    ini = d / "kitchen.ini"
    lines = ["[kitchen]"] + [f"{k} = {v}" for k, v in settings.items()]
    ini.write_text("\n".join(lines) + "\n")
    return ini


def spawn_run(d: Path, db: Path, ini: Path, name: str, *extra: str) -> subprocess.Popen:
    cmd = [PY, "-m", "kitchen", "--config", str(ini), "--db", str(db), "run", "--name", name,
           "--recipes", "bench.recipes_bench", "--log-level", "warning", *extra]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=(d / f"{name}.err").open("w"), env=child_env(), cwd=d, start_new_session=True)


def wait_for(cond, deadline_s: float, what: str, step: float = 0.01):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError(f"timed out after {deadline_s}s waiting for {what}")


def _alive_ovens(k: Kitchen) -> list[Any]:
    return [o for o in k.status().ovens if o.state == "alive"]


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
    for p in procs:
        p.wait(timeout=10)


def latency_and_idle(samples: int, ovens: int, idle_seconds: float, durability: str = "normal",
                     gap: tuple[float, float] = (0.01, 0.04)) -> dict[str, Any]:
    """Submit one order at a time to idle `kitchen run` ovens; time submit call -> recipe start.

    Then leave the ovens idle and measure their CPU over ``idle_seconds``.
    """
    with fresh_dir("latency") as d:
        db = d / "kitchen.db"
        ini = write_ini(d, durability=durability)
        k = Kitchen.open(str(db), durability=durability)
        procs = [spawn_run(d, db, ini, f"oven-{i + 1}") for i in range(ovens)]
        try:
            wait_for(lambda: len(_alive_ovens(k)) == ovens, 30, "ovens to join")
            rng = random.Random(1)
            warm = [k.submit("bench_latency", {"t": time.time()}).number for _ in range(4)]
            wait_for(lambda: k.ticket(warm[-1]).state == "done" and k.ticket(warm[0]).state == "done",
                     30, "warm-up orders")
            tickets = []
            for _ in range(samples):
                time.sleep(rng.uniform(*gap))
                tickets.append(k.submit("bench_latency", {"t": time.time()}).number)
            wait_for(lambda: k.status().orders.done == samples + len(warm), 60, "latency orders")
            con = sqlite3.connect(str(db))
            rows = con.execute("SELECT result FROM orders WHERE id >= ? AND recipe = 'bench_latency'",
                               (tickets[0],)).fetchall()
            con.close()
            lat_ms = [json.loads(r[0])["latency"] * 1000 for r in rows]
            assert len(lat_ms) == samples
            # idle: nothing queued; let the last wake-ups settle, then sample CPU
            time.sleep(min(1.0, idle_seconds))
            before = [cpu_seconds(p.pid) for p in procs]
            t0 = time.monotonic()
            time.sleep(idle_seconds)
            wall = time.monotonic() - t0
            after = [cpu_seconds(p.pid) for p in procs]
            cpu = [100 * (a - b) / wall for a, b in zip(after, before)]
            rss = [rss_mb(p.pid) for p in procs]
        finally:
            _stop(procs)
            k.close()
    return {"p50": percentile(lat_ms, 50), "p99": percentile(lat_ms, 99), "max": max(lat_ms),
            "cpu": max(cpu), "cpu_each": [round(c, 3) for c in cpu], "oven_rss_mb": [round(r, 1) for r in rss]}


def recovery(heartbeat_timeout: float, reap_interval: float, heartbeat_interval: float,
             ovens: int = 2) -> tuple[float, dict[str, Any]]:
    """SIGKILL an oven mid-order; seconds until its order is back in the queue (reaped by a survivor)."""
    with fresh_dir("recovery") as d:
        db = d / "kitchen.db"
        ini = write_ini(d, heartbeat_timeout=heartbeat_timeout, reap_interval=reap_interval,
                        heartbeat_interval=heartbeat_interval, grace=0.5)
        k = Kitchen.open(str(db))
        procs = [spawn_run(d, db, ini, f"oven-{i + 1}", "--prefetch", "1") for i in range(ovens)]
        try:
            wait_for(lambda: len(_alive_ovens(k)) == ovens, 30, "ovens to join")

            def all_cooking():
                busy = [o for o in _alive_ovens(k) if o.cooking]
                if len(busy) < ovens:
                    k.submit("bench_hold", {"seconds": 120})
                    return None
                return busy

            busy = wait_for(all_cooking, 30, "every oven to cook", step=0.05)
            victim = busy[0]
            pid_to_proc = {p.pid: p for p in procs}
            proc = pid_to_proc[victim.pid]
            held = victim.cooking
            # a kill lands anywhere in the heartbeat and reaper cycles
            time.sleep(random.uniform(0, max(heartbeat_interval, reap_interval)))
            t_kill = time.monotonic()
            proc.send_signal(signal.SIGKILL)
            con = sqlite3.connect(str(db))
            marks = ",".join("?" * len(held))
            q = (f"SELECT count(*) FROM orders WHERE id IN ({marks}) AND state = 'cooking' AND oven_id = ?")

            def back():
                return con.execute(q, (*held, victim.id)).fetchone()[0] == 0

            wait_for(back, heartbeat_timeout * 4 + 10, "orders requeued", step=0.002)
            seconds = time.monotonic() - t_kill
            state = con.execute(f"SELECT state FROM orders WHERE id IN ({marks})", held).fetchall()
            con.close()
        finally:
            _stop(procs)
            k.close()
    return seconds, {"requeued_states": [s[0] for s in state]}


# -- 1M orders in the table ---------------------------------------------------------------------------------------


def build_big_fixture(path: Path, finished: int, queued: int, batch: int = 50_000) -> dict[str, Any]:
    """``finished`` done orders (with their ledger rows and tallies) followed by ``queued`` ready ones.

    Built fast: submit_many in big batches, then one direct UPDATE marks the finished ones done (as an
    oven would have: attempt 1, fence 1, ledger row), then the queued ones are submitted on top.
    """
    t = time.perf_counter()
    with Kitchen.open(str(path), durability="normal") as k:
        for start in range(0, finished, batch):
            k.submit_many(noop_orders(start, min(finished, start + batch)))
    if finished:
        con = sqlite3.connect(str(path), isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        con.execute("UPDATE orders SET state = 'done', attempt = 1, fence = 1, oven_id = 0, progress = 100,"
                    " started_at = created_at, finished_at = created_at WHERE state = 'queued'")
        con.execute("INSERT INTO ledger (order_id, oven_id, oven_name, fence, at)"
                    " SELECT id, 0, 'fixture', 1, finished_at FROM orders ORDER BY id")
        con.execute("UPDATE tally SET done = (SELECT count(*) FROM orders o WHERE o.bucket = tally.bucket"
                    " AND o.state = 'done')")
        con.execute("COMMIT")
        con.close()
    with Kitchen.open(str(path), durability="normal") as k:
        for start in range(0, queued, FILL_BATCH):
            k.submit_many(noop_orders(finished + start, finished + min(queued, start + FILL_BATCH)))
        status = k.status().orders
    checkpoint(path)
    assert status.done == finished and status.queued == queued, status
    return {"seconds": round(time.perf_counter() - t, 1), "bytes": os.path.getsize(path)}


def tui_cost(fixture: Path, refreshes: int, app_seconds: float) -> dict[str, Any]:
    """Refresh-cycle query time and process RSS with the big table, each in a fresh process."""
    with fresh_dir("tui") as d:
        db = d / "kitchen.db"
        copy_db(fixture, db)
        out: dict[str, Any] = {}
        for mode in ("queries", "app"):
            cmd = [PY, "-m", "bench.tui_child", "--db", str(db), "--mode", mode, "--refreshes", str(refreshes),
                   "--seconds", str(app_seconds)]
            r = subprocess.run(cmd, capture_output=True, text=True, env=child_env(), cwd=d, timeout=300)
            if r.returncode != 0:
                out[mode] = {"error": (r.stderr.strip().splitlines() or ["failed"])[-1]}
                continue
            out[mode] = json.loads(r.stdout.strip().splitlines()[-1])
        return out
