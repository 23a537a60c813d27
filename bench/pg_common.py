"""What the PostgreSQL benchmarks share (``python -m bench.postgres``): the server, a fresh schema per run, the
queue filled by kitchen, the drain verified, and the machine's load and the children's CPU."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SERVER = os.environ.get("KITCHEN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
FILL_BATCH = 1000


def kitchen_argv() -> list[str]:
    script = Path(sys.executable).with_name("kitchen")
    return [str(script)] if script.exists() else [sys.executable, "-m", "kitchen"]


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's waited-for children and their waited-for children."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def load1() -> float:
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except OSError:
        return float("nan")


def deadlocks() -> int:
    import psycopg

    with psycopg.connect(SERVER, autocommit=True) as c:
        row = c.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()").fetchone()
        return int(row[0])


@contextmanager
def fresh_schema() -> Iterator[str]:
    import psycopg

    name = f"kb_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER, autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(SERVER, autocommit=True) as c:
            c.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def kitchen_url(schema: str) -> str:
    return f"{SERVER}{'&' if '?' in SERVER else '?'}schema={schema}"


def pg_options(schema: str) -> str:
    """kitchen's own session settings for its connections (see PostgresDialect.open_database), our schema."""
    return f"-c enable_bitmapscan=off -c search_path={schema}"


def queue_orders(n: int, ms: float | None) -> list[dict[str, Any]]:
    if ms is None:
        return [{"recipe": "bench_noop"} for _ in range(n)]
    return [{"recipe": "bench_work", "payload": {"ms": ms}} for _ in range(n)]


def fill_queue(url: str, orders: list[dict[str, Any]]) -> Any:
    from kitchen import Kitchen

    k = Kitchen.open(url)
    for i in range(0, len(orders), FILL_BATCH):
        k.submit_many(orders[i:i + FILL_BATCH])
    return k


def check_drain(schema: str, n: int) -> dict[str, Any]:
    """The drain, verified: one ledger row per order, every order done, nothing queued or cooking."""
    import psycopg

    with psycopg.connect(SERVER, autocommit=True, options=f"-c search_path={schema}") as c:
        total, distinct, first, last = c.execute(
            "SELECT count(*), count(DISTINCT order_id), min(at), max(at) FROM ledger").fetchone()
        states = dict(c.execute("SELECT state, count(*) FROM orders GROUP BY state").fetchall())
        attempts = int(c.execute("SELECT coalesce(sum(attempt), 0) FROM orders").fetchone()[0])
        refused = int(c.execute("SELECT count(*) FROM refusals").fetchone()[0])
        split = dict(c.execute("SELECT oven_name, count(*) FROM ledger GROUP BY oven_name ORDER BY 1").fetchall())
    assert (total, distinct) == (n, n), f"ledger rows (all, distinct orders) {(total, distinct)}, expected {n}"
    assert states.get("done", 0) == n and not states.get("queued") and not states.get("cooking"), states
    return {"ledger_rows": int(total), "first_at": float(first), "last_at": float(last),
            "recooks": attempts - n, "refused": refused, "per_oven": list(split.values())}


def noop(_payload: Any) -> None:
    return None

