"""Customer lanes: one customer's orders cook one at a time, in ticket order, on any oven; a retry keeps its
place at the head of its lane, a burnt order releases it; orders without a customer are in no lane."""

from __future__ import annotations

import itertools
import json
import sys
from collections import defaultdict
from typing import Any

import pytest

from kitchen import DatabaseError, FrozenClock, Kitchen
from tests.engine.helpers import execute, scalar
from tests.support.processes import in_lockstep


def ids(orders: list) -> list[int]:
    return [o.id for o in orders]


def test_a_lane_cooks_one_order_at_a_time_in_ticket_order(kitchen: Kitchen) -> None:
    a = kitchen.join("oven-a")
    first, second, third = (kitchen.submit("margherita", customer="ada") for _ in range(3))
    bob = kitchen.submit("margherita", customer="bob")
    order = a.claim()
    assert order.id == first.number
    b = kitchen.join("oven-b")
    assert b.claim().id == bob.number, "ada's lane is cooking: the next claim skips it, on any oven"
    assert a.claim() is None and b.claim() is None
    assert a.complete(order)
    assert b.claim().id == second.number, "the lane's next order, on whichever oven asks"
    assert a.claim() is None
    assert kitchen.ticket(third.number).state == "queued"


def test_priority_orders_lanes_but_never_reorders_one(kitchen: Kitchen) -> None:
    oven = kitchen.join("oven-1")
    ada_first = kitchen.submit("margherita", customer="ada")
    ada_urgent = kitchen.submit("margherita", customer="ada", priority=50)
    bob = kitchen.submit("margherita", customer="bob", priority=10)
    got = []
    while (order := oven.claim()) is not None:
        got.append(order.id)
        oven.complete(order)
    assert got == [bob.number, ada_first.number, ada_urgent.number]


def test_a_retry_keeps_its_place_at_the_head_of_its_lane(open_kitchen, clock: FrozenClock) -> None:
    k = open_kitchen(max_attempts=3, backoff_base=10.0, backoff_max=10.0)
    oven = k.join("oven-1")
    first, second = k.submit("margherita", customer="ada"), k.submit("margherita", customer="ada")
    other = k.submit("margherita", customer="bob")
    order = oven.claim()
    assert oven.fail(order, "too cold") == "queued"
    assert oven.claim().id == other.number
    assert oven.claim() is None, "ada's lane waits out the retry's backoff: the later order does not overtake it"
    clock.advance(10.0)
    retried = oven.claim()
    assert (retried.id, retried.attempt) == (first.number, 2)
    assert oven.complete(retried)
    assert oven.claim().id == second.number


def test_a_burnt_order_releases_its_lane(open_kitchen) -> None:
    k = open_kitchen(max_attempts=1)
    oven = k.join("oven-1")
    first, second = k.submit("margherita", customer="ada"), k.submit("margherita", customer="ada")
    assert oven.fail(oven.claim(), "burnt the crust") == "burnt"
    assert oven.claim().id == second.number
    assert k.ticket(first.number).state == "burnt"


def test_an_order_taken_back_from_a_dead_oven_is_its_lanes_head_again(open_kitchen, clock: FrozenClock) -> None:
    k = open_kitchen(heartbeat_timeout=5.0)
    doomed, survivor = k.join("oven-1"), k.join("oven-2")
    first, second = k.submit("margherita", customer="ada"), k.submit("margherita", customer="ada")
    held = doomed.claim() or survivor.claim()
    assert held.id == first.number
    clock.advance(6.0)
    survivor.heartbeat()
    assert k.reap().requeued == [first.number]
    assert survivor.claim().id == first.number
    assert survivor.claim() is None
    assert k.ticket(second.number).state == "queued"


def test_a_delayed_head_holds_its_lane(kitchen: Kitchen, clock: FrozenClock) -> None:
    oven = kitchen.join("oven-1")
    later = kitchen.submit("margherita", customer="ada", delay=5)
    now = kitchen.submit("margherita", customer="ada")
    assert oven.claim() is None, "in ticket order: the delayed order is the lane's head"
    clock.advance(5)
    assert [oven.claim().id, oven.claim()] == [later.number, None]
    assert kitchen.ticket(now.number).state == "queued"


def test_orders_without_a_customer_are_in_no_lane(kitchen: Kitchen) -> None:
    oven = kitchen.join("oven-1")
    tickets = kitchen.submit_many([{"recipe": "margherita"} for _ in range(5)])
    assert ids(oven.claim_many(10)) == [t.number for t in tickets], "all at once"


def test_a_batch_claim_takes_one_order_per_lane(kitchen: Kitchen) -> None:
    oven = kitchen.join("oven-1")
    tickets = kitchen.submit_many([{"recipe": "margherita", "customer": c} for c in "aabbc"])
    assert ids(oven.claim_many(10)) == [tickets[0].number, tickets[2].number, tickets[4].number]


def test_the_database_refuses_two_cooking_orders_of_one_customer(kitchen: Kitchen) -> None:
    """The backstop under the claim's rule: a unique index over (customer) of cooking orders."""
    oven = kitchen.join("oven-1")
    first, second = kitchen.submit("margherita", customer="ada"), kitchen.submit("margherita", customer="ada")
    assert oven.claim().id == first.number
    with pytest.raises(DatabaseError):
        execute(kitchen, "UPDATE orders SET state = 'cooking', oven_id = ? WHERE id = ?", oven.id, second.number)
    assert scalar(kitchen, "SELECT count(*) FROM orders WHERE state = 'cooking'") == 1
    plain = kitchen.submit_many([{"recipe": "margherita"}, {"recipe": "margherita"}])
    execute(kitchen, "UPDATE orders SET state = 'cooking', oven_id = ? WHERE id IN (?, ?)", oven.id,
            plain[0].number, plain[1].number)  # no customer: no lane, no limit


def test_a_lane_passes_from_oven_to_oven_one_order_at_a_time(open_kitchen) -> None:
    """The owner of the only bucket and a thief take turns: a lane's next order goes to whichever oven asks
    once the one before is done — never two at once."""
    k = open_kitchen(buckets=1)
    owner, thief = k.join("owner"), k.join("thief")
    tickets = k.submit_many([{"recipe": "margherita", "customer": "ada"} for _ in range(4)])
    served = []
    for oven in (owner, thief, owner, thief):
        order = oven.claim()
        assert order is not None and order.customer == "ada"
        assert (thief if oven is owner else owner).claim() is None, "ada's next order waits for this one"
        served.append((order.id, oven.name))
        assert oven.complete(order)
    assert served == [(t.number, name) for t, name in zip(tickets, ("owner", "thief", "owner", "thief"))]


def test_ticket_shows_when_each_claim_started(kitchen: Kitchen, clock: FrozenClock) -> None:
    oven = kitchen.join("oven-1")
    first, second = kitchen.submit("margherita", customer="ada"), kitchen.submit("margherita", customer="ada")
    assert kitchen.ticket(first.number).started_at is None
    clock.advance(2)
    oven.complete(oven.claim())
    clock.advance(3)
    oven.claim()
    one, two = kitchen.ticket(first.number), kitchen.ticket(second.number)
    assert one.started_at == clock() - 3 and one.finished_at == clock() - 3
    assert two.started_at == clock() and two.started_at >= one.finished_at


def run_ovens(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One ``tests.engine.lane_child`` per job, released together; their JSON results."""
    return in_lockstep([[sys.executable, "-m", "tests.engine.lane_child", json.dumps(job)] for job in jobs],
                       timeout=120.0)


def assert_lanes_kept(cooked: list[tuple[int, float, float, str]], lanes: dict[int, str | None]) -> None:
    """Per customer: intervals never overlap and follow ticket order (one machine's wall clock)."""
    by_lane: dict[str, list[tuple[float, float, int, str]]] = defaultdict(list)
    for order_id, claimed, finishing, oven in cooked:
        customer = lanes[order_id]
        if customer is not None:
            by_lane[customer].append((claimed, finishing, order_id, oven))
    for customer, runs in by_lane.items():
        runs.sort()
        assert [r[2] for r in runs] == sorted(r[2] for r in runs), f"{customer}'s orders out of ticket order"
        for (_, end, before, _), (start, _, after, _) in itertools.pairwise(runs):
            assert start > end, f"{customer}: #{after} started before #{before} was done"


@pytest.mark.processes
def test_two_oven_processes_keep_every_lane(open_kitchen, backend_url: str) -> None:
    """Two processes (two hosts, by name) drain 6 lanes of 20 orders and 60 lane-less orders: the owner cooks
    20 ms an order, the thief 5 ms. One bucket: the first oven owns it, the other only steals, so lanes pass from
    oven to oven — if the thief's process starts late on a busy machine, the owner's slow pace leaves it seconds
    of lanes to share (at 5 ms each the owner could finish every lane alone before the thief's first claim)."""
    k = open_kitchen(clock=None, buckets=1)
    specs = [{"recipe": "margherita", "customer": f"cust-{i % 6}"} for i in range(120)]
    specs += [{"recipe": "margherita"} for _ in range(60)]
    tickets = k.submit_many(specs)
    lanes = {t.number: spec.get("customer") for t, spec in zip(tickets, specs)}
    jobs = [{"url": backend_url, "name": f"oven-{h}", "host": f"host-{h}", "cook": cook, "idle": 1.0}
            for h, cook in (("a", 0.02), ("b", 0.005))]
    results = run_ovens(jobs)
    cooked = [(o, c, f, job["name"]) for job, r in zip(jobs, results) for o, c, f in r["cooked"]]
    assert sorted(c[0] for c in cooked) == sorted(lanes), "every order cooked exactly once"
    assert all(r["cooked"] for r in results), "both ovens cooked"
    assert_lanes_kept(cooked, lanes)
    by_oven = {job["name"]: {o for o, _, _ in r["cooked"]} for job, r in zip(jobs, results)}
    moved = [c for c in set(lanes.values()) - {None}
             if len({name for name, done in by_oven.items() for o in done if lanes[o] == c}) > 1]
    assert moved, "some lane was served by both ovens (one at a time)"
    assert scalar(k, "SELECT count(*) FROM ledger") == len(lanes)
