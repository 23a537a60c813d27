"""One oven process for the drain benchmarks: kitchen's own ``Worker.run`` loop (APScheduler heartbeat and
reaper jobs running, burst mode), gated so that process start-up and ``join`` are not timed.

Protocol with the parent (bench/kitchen_bench.py): after joining, print ``{"ready": oven_id}``; wait for one
line on stdin; cook until the queue is empty (burst); print ``{"cooked": n, "t_last": ...}``.
``time.monotonic`` is system-wide on Linux, so the parent compares it with its own clock.

    python -m bench.oven_child --db PATH --durability normal --prefetch 32 --name oven-1 [--profile OUT]
        [--count-tx] [--experiment gate-block]
"""

from __future__ import annotations

import argparse
import json
import select
import sys
import time

from kitchen import Kitchen
from kitchen.ovens.recipes import build_menu
from kitchen.ovens.worker import Worker


class GatedWorker(Worker):
    """kitchen's Worker, unchanged except: wait for the parent's go after joining; note the last cook."""

    t_go = 0.0
    t_last = 0.0
    profiler = None
    _gated = False

    def start(self):
        oven = super().start()
        if not self._gated:
            self._gated = True
            print(json.dumps({"ready": oven.id}), flush=True)
            # Keep heartbeating while the other ovens start (the scheduler starts after this returns): on a busy
            # machine a slow sibling could otherwise outlast heartbeat_timeout, and the first reaper pass would
            # rightly declare this oven dead and re-cook its orders (a refused completion, attempt 2).
            while not select.select([sys.stdin], [], [], 0.25)[0]:
                oven.heartbeat()
            sys.stdin.readline()
            self.t_go = time.monotonic()
            if self.profiler is not None:
                self.profiler.enable()
        return oven

    def tick(self) -> str:
        state = super().tick()
        if state == "cooked":
            self.t_last = time.monotonic()
        return state


def blocking_gate() -> None:
    """Prototype, not kitchen's code: kitchen.store.gate.WriteGate waiting in a blocking flock() (the kernel wakes
    the next writer the moment the holder unlocks) instead of polling (every ~100 µs for 50 ms, then growing
    sleeps). Drops the gate's deadline (a SIGSTOPped holder would block writers until it is continued or killed)."""
    import fcntl

    from kitchen.store import gate

    def acquire(self, timeout: float) -> bool:
        if not self._lock.acquire(timeout=max(timeout, 0.0)):
            return False
        if self._fd is None:
            return True
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        return True

    gate.WriteGate.acquire = acquire


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True)
    p.add_argument("--durability", default="normal")
    p.add_argument("--prefetch", type=int, default=1)
    p.add_argument("--name", default="oven-1")
    p.add_argument("--profile", help="write cProfile stats of the timed loop here")
    p.add_argument("--count-tx", action="store_true", help="count write/read transactions")
    p.add_argument("--experiment", action="append", default=[], choices=["gate-block"],
                   help="prototype an engine change in this process only (bench/README.md, Profiling)")
    args = p.parse_args(argv)
    if "gate-block" in args.experiment:
        blocking_gate()

    kitchen = Kitchen.open(args.db, durability=args.durability, prefetch=args.prefetch)
    counts = {"write": 0, "read": 0}
    if args.count_tx:
        store = kitchen.store  # the Store every facade of this kitchen shares: count at its door
        write, read = store.write, store.read

        def counted_write(fn, *a, **kw):
            counts["write"] += 1
            return write(fn, *a, **kw)

        def counted_read(fn, *a, **kw):
            counts["read"] += 1
            return read(fn, *a, **kw)

        store.write, store.read = counted_write, counted_read
    menu = build_menu(kitchen.settings.menu, 0.0, ["bench.recipes_bench"])
    worker = GatedWorker(kitchen, args.name, menu, burst=True, prefetch=args.prefetch)
    if args.profile:
        import cProfile

        worker.profiler = cProfile.Profile()
    code = worker.run(install_signals=False)
    if worker.profiler is not None:
        worker.profiler.disable()
        worker.profiler.dump_stats(args.profile)
    kitchen.close()
    print(json.dumps({"cooked": worker.cooked, "t_go": worker.t_go, "t_last": worker.t_last,
                      "oven_id": worker.oven.id if worker.oven else None, "tx": counts}), flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
