"""Reading the shop: status() counts after a mix of transitions, tickets, and concurrent first opens."""

from __future__ import annotations

import pytest

from kitchen import FrozenClock, Kitchen, UnknownTicket
from kitchen.core.views import LedgerTotals, Snapshot
from tests.engine.helpers import in_threads, rows, scalar


def true_counts(k: Kitchen) -> dict[str, int]:
    counts = {"queued": 0, "cooking": 0, "done": 0, "burnt": 0}
    counts.update({s: int(n) for s, n in rows(k, "SELECT state, count(*) FROM orders GROUP BY state")})
    return counts


def assert_counts(k: Kitchen, **expected: int) -> Snapshot:
    status = k.status()
    orders = status.orders
    assert {s: getattr(orders, s) for s in expected} == expected
    assert {s: getattr(orders, s) for s in ("queued", "cooking", "done", "burnt")} == true_counts(k)
    assert orders.submitted == scalar(k, "SELECT count(*) FROM orders")
    return status


def test_status_counts_after_a_mix_of_transitions(open_kitchen, clock: FrozenClock) -> None:
    k = open_kitchen(max_attempts=2, lease=3.0)
    a = k.join("oven-a")
    b = k.join("oven-b")
    tickets = k.submit_many([{"recipe": "margherita", "customer": f"c{i}"} for i in range(30)])
    k.submit("margherita", key="dup-0")
    k.submit("margherita", key="dup-0")
    assert_counts(k, queued=31, cooking=0, done=0, burnt=0)
    mine = {o: o.claim_many(4) for o in (a, b)}
    assert_counts(k, queued=23, cooking=8)
    for order in mine[a][:3]:
        assert a.complete(order, result={"ok": 1})
    assert a.fail(mine[a][3], "dropped") == "queued"
    assert_counts(k, queued=24, cooking=4, done=3)
    clock.advance(2)
    a.heartbeat()
    clock.advance(2)  # b's leases (3s) ran out, b is not yet dead (5s)
    report = k.reap()
    assert sorted(report.requeued) == sorted(o.id for o in mine[b]) and not report.dead
    assert_counts(k, queued=28, cooking=0, done=3)
    assert all(b.complete(o) is False for o in mine[b])
    again = b.claim_many(4)
    assert all(o.attempt == 2 for o in again) and {o.id for o in again} == {o.id for o in mine[b]}
    assert b.fail(again[0], "burnt twice") == "burnt"
    clock.advance(6)
    a.heartbeat()
    report = k.reap()  # b dies with three orders on their last attempt: burnt
    assert report.dead == ["oven-b"] and len(report.burnt) == 3
    status = assert_counts(k, queued=24, cooking=0, done=3, burnt=4)
    assert status.ledger == LedgerTotals(completions=3, duplicate_submissions=1, refused_completions=4)
    assert status.requeued == 4 and status.retried == 1
    assert [o.name for o in status.ovens if o.state == "alive"] == ["oven-a"]
    assert {x.oven for x in status.buckets} == {"oven-a"}
    assert k.requeue(burnt=True) and assert_counts(k, queued=28, burnt=0)
    cooked = 0
    while (order := a.claim()) is not None:
        cooked += a.complete(order)
    assert cooked == 28
    final = assert_counts(k, queued=0, cooking=0, done=31, burnt=0)
    assert final.ledger.completions == 31 == scalar(k, "SELECT count(*) FROM ledger")
    assert next(o for o in final.ovens if o.name == "oven-a").cooked == 31
    assert len(tickets) == 30


def test_status_shows_cooking_orders_per_oven(kitchen: Kitchen, clock: FrozenClock) -> None:
    oven = kitchen.join("oven-1")
    kitchen.submit("pepperoni", customer="ada")
    order = oven.claim()
    oven.heartbeat(progress=70, order=order)
    clock.advance(1.25)
    row = kitchen.status().ovens[0]
    assert (row.current_order, row.current_recipe, row.progress, row.cooking) == (
        order.id, "pepperoni", 70, [order.id])
    assert row.heartbeat_age == 1.25 and len(row.buckets) == 64


def test_unknown_ticket(kitchen: Kitchen) -> None:
    with pytest.raises(UnknownTicket, match="no order with ticket 12345"):
        kitchen.ticket(12345)


def test_concurrent_first_opens_create_one_schema(fresh_url) -> None:
    url = fresh_url()
    clock = FrozenClock()

    def open_and_submit(i: int) -> int:
        with Kitchen.open(url, clock=clock) as k:
            return k.submit("margherita", key=f"k{i}").number

    numbers = in_threads(4, open_and_submit)
    assert len(set(numbers)) == 4
    with Kitchen.open(url, clock=clock) as k:
        assert scalar(k, "SELECT count(*) FROM buckets") == 64
        assert scalar(k, "SELECT count(*) FROM kitchen_meta WHERE key = 'schema_version'") == 1
        assert k.status().orders.submitted == 4
