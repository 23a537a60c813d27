"""Scale-out on PostgreSQL: ovens on several hosts share one server; a whole host dies; the server blips."""

from __future__ import annotations

import os
import signal
import uuid

import pytest

from tests.support.postgres import PG_SERVER
from tests.support.shop import Shop
from tests.support.waiting import wait_for

pytestmark = pytest.mark.processes


@pytest.fixture
def pg_shop(tmp_path, fresh_url, request):
    if request.node.callspec.params["fresh_url"] != "postgresql":
        pytest.skip("PostgreSQL only")
    app = f"ktest_{uuid.uuid4().hex[:12]}"
    shop = Shop(tmp_path, f"{fresh_url()}&application_name={app}")
    shop.app = app
    yield shop
    shop.close()


def test_a_whole_host_dies_and_the_other_host_takes_its_orders_and_buckets(pg_shop):
    shop = pg_shop
    hosts = {"a1": "host-a", "a2": "host-a", "b1": "host-b", "b2": "host-b"}
    procs = {name: shop.oven(name, host=host) for name, host in hosts.items()}
    wait_for(lambda: all(shop.alive(n) for n in hosts), what="four ovens alive")
    assert {o.host for o in shop.status().ovens} == {"host-a", "host-b"}
    tickets = shop.kitchen.submit_many([{"recipe": "slow", "payload": {"seconds": 0.4}, "customer": f"c{i}"}
                                        for i in range(40)])
    wait_for(lambda: any(o.current_order for o in shop.status().ovens if o.host == "host-a"),
             what="host-a cooking")
    for name in ("a1", "a2"):
        os.kill(procs[name].pid, signal.SIGKILL)
    wait_for(lambda: all(shop.oven_row(n).state == "dead" for n in ("a1", "a2")), timeout=10,
             what="host-a declared dead")
    owners = {b.oven for b in shop.status().buckets}
    assert owners <= {"b1", "b2"}, owners
    wait_for(lambda: shop.status().orders.done == 40, timeout=60, what="all 40 done")
    rows = shop.kitchen.ledger(1000)
    assert sorted(r.order_id for r in rows) == sorted(t.number for t in tickets)
    assert shop.status().requeued >= 1


def test_ovens_survive_the_server_dropping_their_connections(pg_shop):
    shop = pg_shop
    shop.oven("a")
    shop.oven("b")
    wait_for(lambda: shop.alive("a") and shop.alive("b"), what="ovens alive")
    tickets = shop.kitchen.submit_many([{"recipe": "slow", "payload": {"seconds": 0.2}, "customer": f"c{i}"}
                                        for i in range(30)])
    wait_for(lambda: shop.status().orders.done >= 3, what="cooking under way")
    import psycopg

    with psycopg.connect(PG_SERVER, autocommit=True) as admin:
        killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE application_name = %s AND pid <> pg_backend_pid()", (shop.app,)).fetchone()[0]
    assert killed >= 2, "the ovens' connections were dropped"
    wait_for(lambda: _done(shop) == 30, timeout=60, what="all orders done after the blip")
    rows = shop.kitchen.ledger(1000)
    assert sorted(r.order_id for r in rows) == sorted(t.number for t in tickets), "none lost, none twice"
    for name in ("a", "b"):
        log = (shop.tmp / f"{name}.log").read_text()
        assert "Traceback" not in log


def _done(shop: Shop) -> int:
    try:
        return shop.status().orders.done
    except Exception:
        shop.kitchen.store.db.dispose()
        return -1
