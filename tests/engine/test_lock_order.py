"""PostgreSQL: heartbeats, completions, claims, reaps, joins and leaves running at once never deadlock.

Every write transaction takes rows in one order (see the LOCK ORDER note in kitchen/store/sql.py). The
test runs them all concurrently in a database of its own and asserts that the server counted no deadlock
and that no transaction had to be retried for one.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest

from kitchen import Kitchen
from tests.support.waiting import poll

PG_SERVER = os.environ.get("KITCHEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

ORDERS = 1500
DEADLINE = 60.0


@pytest.fixture
def own_database(backend: str):
    if backend != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has one writer at a time and no row locks")
    import psycopg

    name = f"kt_locks_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name, PG_SERVER.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def deadlocks(name: str) -> int:
    import psycopg

    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return int(conn.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = %s", (name,)).fetchone()[0])


@pytest.mark.slow
def test_no_deadlock_under_every_transition_at_once(own_database) -> None:
    name, url = own_database
    k = Kitchen.open(url, heartbeat_interval=0.05, heartbeat_timeout=0.4, lease=0.3, reap_interval=0.05,
                     max_attempts=50, busy_timeout=30)
    before = deadlocks(name)
    k.submit_many([{"recipe": "noop", "customer": f"c{i % 97}"} for i in range(ORDERS)])
    stop = threading.Event()
    errors: list[BaseException] = []
    ovens = [k.join(f"oven-{i}") for i in range(3)]
    current: dict[int, object] = {}

    def guarded(fn):
        def run() -> None:
            try:
                while not stop.is_set():
                    fn()
            except BaseException as exc:  # surfaced by the main thread
                errors.append(exc)
                stop.set()
            finally:
                k.release_thread()
        return run

    def cook(i: int):
        oven = ovens[i]
        state = {"hand": oven.claim_many(8)}

        def step() -> None:
            hand = state["hand"]
            if hand:
                current[i] = hand[0]
            _, state["hand"] = oven.complete_many([(o, {"n": o.id}) for o in hand], claim=8)
            if not hand and not state["hand"]:
                time.sleep(0.002)
        return step

    def beat(i: int):
        def step() -> None:
            order = current.get(i)
            try:
                ovens[i].heartbeat(progress=50, order=order) if order is not None else ovens[i].heartbeat()
            except Exception:  # OvenLost when a lease ran out: the cooks carry on with refusals
                pass
            time.sleep(0.001)
        return step

    def reap() -> None:
        k.reap()
        time.sleep(0.002)

    def churn() -> None:  # joins and leaves move buckets (rebalances) while everything else runs
        extra = k.join("passer-by")
        extra.claim_many(2)
        extra.leave()

    threads = [threading.Thread(target=guarded(fn)) for fn in
               [cook(i) for i in range(3)] + [beat(i) for i in range(3)] + [reap, churn]]
    for t in threads:
        t.start()
    poll(lambda: stop.is_set() or k.status().orders.done >= ORDERS, DEADLINE)  # all cooked, or a thread failed
    stop.set()
    for t in threads:
        t.join(10)
    k.close()
    assert not errors, errors[0]
    assert k.store.retried["40P01"] == 0, f"transactions retried after deadlocks: {dict(k.store.retried)}"
    assert deadlocks(name) - before == 0
