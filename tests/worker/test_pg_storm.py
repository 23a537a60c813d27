"""Connection chaos on PostgreSQL: every kitchen connection terminated every 0.3 s while two ovens drain,
at prefetch 1 and 32 — nothing lost, nothing stranded in 'cooking', nothing completed or cooked twice."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from tests.support.postgres import PG_SERVER
from tests.support.shop import Shop
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.processes, pytest.mark.postgres]
ORDERS = 400


@pytest.mark.parametrize("prefetch", [1, 32])
def test_a_connection_storm_during_a_drain(tmp_path, fresh_url, request, prefetch: int) -> None:
    if request.node.callspec.params["fresh_url"] != "postgresql":
        pytest.skip("PostgreSQL only")
    import psycopg

    app = f"kstorm_{uuid.uuid4().hex[:12]}"
    shop = Shop(tmp_path, f"{fresh_url()}&application_name={app}")
    stop, kills = threading.Event(), [0]

    def storm() -> None:
        with psycopg.connect(PG_SERVER, autocommit=True) as admin:
            while not stop.wait(0.3):
                kills[0] += admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                          " WHERE application_name = %s", (app,)).fetchone()[0]

    storming = threading.Thread(target=storm)
    try:
        for name in ("a", "b"):
            shop.oven(name, "--prefetch", str(prefetch))
        wait_for(lambda: shop.alive("a") and shop.alive("b"), 30, "two ovens")
        shop.kitchen.submit_many([{"recipe": "slow", "payload": {"seconds": 0.02}, "customer": f"c{i}"}
                                   for i in range(ORDERS)])
        storming.start()
        deadline = time.monotonic() + 90

        def done() -> bool:
            try:
                return shop.status().orders.done == ORDERS
            except Exception:  # the test's own connection is in the storm too
                return False

        wait_for(done, 90, "every order done through the storm")
        stop.set()
        storming.join(10)
        assert kills[0] >= 4, "the storm terminated connections"
        assert time.monotonic() < deadline
        snap = wait_for(lambda: _status(shop), 30, "a status once the storm is over")
        ledger = shop.kitchen.ledger(10_000)
        assert snap.orders.cooking == 0 and snap.orders.queued == 0, "nothing stranded"
        assert len(ledger) == ORDERS == len({r.order_id for r in ledger}), "none lost, none completed twice"
        recooked = [r.order_id for r in shop.kitchen.recent_orders(ORDERS) if r.attempt != 1]
        assert recooked == [], f"cooked more than once: {recooked}"
        for name in ("a", "b"):
            assert "Traceback" not in shop.log(name)
    finally:
        stop.set()
        if storming.is_alive():
            storming.join(10)
        shop.close()


def _status(shop: Shop):
    try:
        return shop.status()
    except Exception:
        return None
