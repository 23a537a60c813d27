"""Recipes for the benchmark's real ``kitchen run`` ovens, loaded with ``--recipes bench.recipes_bench``
(the repository root on PYTHONPATH).

- ``bench_latency``: returns when it started (wall clock) and how long after the producer's submit call began
  (``payload["t"]``); the parent reads the results back from the orders table.
- ``bench_hold``: holds the oven (cooperative wait) so a SIGKILL lands mid-order.
- ``bench_work``: a recipe that takes ``payload["ms"]`` milliseconds (sleeping, like I/O), for oven scaling.
- ``bench_noop``: does nothing (the drain figures of ``bench.postgres``).
"""

from __future__ import annotations

import time

from kitchen.ovens.recipes import recipe


@recipe("bench_latency")
def bench_latency(ctx):
    started = time.time()
    return {"started": started, "latency": started - float(ctx.payload.get("t", started))}


@recipe("bench_hold")
def bench_hold(ctx):
    ctx.wait(float(ctx.payload.get("seconds", 60)))
    return {"held": True}


@recipe("bench_work")
def bench_work(ctx):
    time.sleep(float(ctx.payload.get("ms", 1)) / 1000)


@recipe("bench_noop")
def bench_noop(ctx):
    return None
