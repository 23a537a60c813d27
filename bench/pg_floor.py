"""The kitchen-shaped floor of ``python -m bench.postgres``: kitchen's schema and statement text, run by K plain
psycopg processes (see that module's docstring, item 2)."""

from __future__ import annotations

import multiprocessing as mp
import time
from typing import Any

from .pg_common import (
    SERVER,
    check_drain,
    children_cpu,
    fill_queue,
    fresh_schema,
    kitchen_url,
    load1,
    noop,
    pg_options,
    queue_orders,
)


def _floor_statements() -> Any:
    """kitchen's PostgreSQL statements, as its store compiles them (POSTGRES_TEXT over the shared text)."""
    from kitchen.store.dialect import named_to_pyformat
    from kitchen.store.postgres import POSTGRES_TEXT
    from kitchen.store.sql import Statements

    return Statements.build(named_to_pyformat, POSTGRES_TEXT)



def _floor_proc(schema: str, oven: int, name: str, prefetch: int, lease: float, ready, go, out) -> None:
    import psycopg

    st = _floor_statements()
    con = psycopg.connect(SERVER, options=pg_options(schema))
    cur = con.cursor()
    ready.put(name)
    go.wait()
    in_hand: list[tuple] = []
    done = 0
    while True:
        now = time.time()
        for row in in_hand:  # ORDER_COLUMNS: id, recipe, customer, payload, priority, bucket, attempt, fence, key
            params = {"now": now, "result": None, "id": row[0], "oven": oven, "fence": row[7], "name": name}
            cur.execute(st.complete, params)
            if cur.rowcount == 1:
                cur.execute(st.ledger, params)
                done += 1
        claim = {"oven": oven, "lease_until": now + lease, "now": now, "limit": prefetch}
        cur.execute(st.claim, claim)
        rows = cur.fetchall()
        if not rows:
            cur.execute(st.steal, claim)
            rows = [r[:-1] for r in cur.fetchall()]
        con.commit()
        if not rows:
            break
        for row in rows:
            noop(row[3])
        in_hand = rows
    t_done = time.perf_counter()
    con.close()
    out.put((name, done, t_done))


def floor_drain(n: int, procs: int, prefetch: int) -> dict[str, Any]:
    with fresh_schema() as schema:
        k = fill_queue(kitchen_url(schema), queue_orders(n, None))
        ovens = [k.join(f"floor-{i}").id for i in range(1, procs + 1)]  # the ring splits the buckets
        lease = k.settings.lease
        k.close()
        # fork where there is one: the floor processes start without importing everything again (the parent
        # holds no open connection here); the timing starts only once they are all connected anyway.
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        ready, go, out = ctx.Queue(), ctx.Event(), ctx.Queue()
        ps = [ctx.Process(target=_floor_proc, args=(schema, oven, f"floor-{i}", prefetch, lease, ready, go, out))
              for i, oven in enumerate(ovens, 1)]
        for p in ps:
            p.start()
        for _ in ps:
            ready.get(timeout=120)
        load_before, cpu_before = load1(), children_cpu()
        t0 = time.perf_counter()
        go.set()
        results = [out.get(timeout=600) for _ in ps]
        elapsed = max(r[2] for r in results) - t0
        for p in ps:
            p.join(timeout=30)
        load_after, cpu = load1(), children_cpu() - cpu_before
        check = check_drain(schema, n)
    assert sum(r[1] for r in results) == n, results
    check.pop("first_at"), check.pop("last_at")
    return {"rate": n / elapsed, "seconds": elapsed, "load": (load_before, load_after),
            "cpu_ms_per_order": 1000 * cpu / n, **check}

