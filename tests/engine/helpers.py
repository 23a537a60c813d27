"""Small tools for the engine tests: raw reads, the state of one order, and sibling processes in lockstep."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from kitchen import Kitchen
from kitchen.core import words
from kitchen.core.views import RefusalRow
from tests.support.processes import in_lockstep

DEADLINE = 60.0


def rows(k: Kitchen, sql: str, *params: Any) -> list[tuple]:
    """Run a read-only query written with ``?`` placeholders on either backend."""
    def tx(cur):
        cur.execute(k.store.dialect.compile(sql), params)
        return [tuple(r) for r in cur.fetchall()]

    return k.store.read(tx)


def execute(k: Kitchen, sql: str, *params: Any) -> None:
    """Run one write statement written with ``?`` placeholders on either backend (tampering, set-ups)."""
    k.store.write(lambda cur: cur.execute(k.store.dialect.compile(sql), params))


def scalar(k: Kitchen, sql: str, *params: Any) -> Any:
    return rows(k, sql, *params)[0][0]


def table_counts(k: Kitchen) -> dict[str, int]:
    return {t: scalar(k, f"SELECT count(*) FROM {t}") for t in ("orders", "ledger", "refusals")}


def events(k: Kitchen, kind: str) -> list[tuple]:
    """(oven, order, sentence) of every event of one kind, oldest first, as the faces show them."""
    return [(e.oven_name, e.order_id, words.event(e.kind, e.oven_name, e.order_id, e.data, e.legacy_detail))
            for e in k.events(limit=100_000) if e.kind == kind]


def reason(row: RefusalRow) -> str:
    """A refused completion's reason, as the faces show it."""
    return words.refusal(row.code, row.fence, row.current_fence, row.order_state, row.legacy_reason)


def owners(k: Kitchen) -> dict[int, int | None]:
    return {int(b): (None if o is None else int(o)) for b, o in rows(k, "SELECT bucket, oven_id FROM buckets")}


def in_children(mode: str, jobs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run one ``tests.engine.child`` per job, all started together (see in_lockstep). Returns their JSON."""
    return in_lockstep([[sys.executable, "-m", "tests.engine.child", mode, json.dumps(job)] for job in jobs],
                       timeout=DEADLINE)


def in_threads(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run ``fn(i)`` in n threads released together by a barrier; re-raise the first failure."""
    barrier = threading.Barrier(n, timeout=DEADLINE)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = fn(i)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE)
        assert not t.is_alive(), "thread missed the deadline"
    if errors:
        raise errors[0]
    return results
