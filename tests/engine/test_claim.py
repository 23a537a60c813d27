"""Claiming: priority then age, own buckets first then a steal, run_at respected, never the same order twice."""

from __future__ import annotations

import pytest

from kitchen import FrozenClock, Kitchen, Oven
from kitchen.core.hashing import bucket_for
from tests.engine.helpers import events, in_children, in_threads, owners


def test_claim_takes_priority_then_age(kitchen: Kitchen, clock: FrozenClock) -> None:
    oven = kitchen.join("oven-1")  # the only oven owns every bucket
    low = kitchen.submit("margherita", customer="a", priority=-5)
    first = kitchen.submit("margherita", customer="b")
    clock.advance(1)
    urgent = kitchen.submit("margherita", customer="c", priority=10)
    second = kitchen.submit("margherita", customer="d")
    taken = [oven.claim() for _ in range(5)]
    assert [o.id if o else None for o in taken] == [urgent.number, first.number, second.number, low.number, None]
    order = taken[0]
    assert (order.recipe, order.attempt, order.bucket, order.priority, order.customer) == (
        "margherita", 1, urgent.bucket, 10, "c")
    info = kitchen.ticket(order.id)
    assert info.state == "cooking" and info.oven == "oven-1" and info.attempts == 1
    assert info.fence == order.fence


def test_claim_respects_delay_and_run_at(kitchen: Kitchen, clock: FrozenClock) -> None:
    oven = kitchen.join("oven-1")
    later = kitchen.submit("margherita", customer="a", delay=10, priority=100)
    now = kitchen.submit("margherita", customer="b")
    assert oven.claim().id == now.number
    assert oven.claim() is None
    clock.advance(9.999)
    assert oven.claim() is None
    clock.advance(0.001)
    assert oven.claim().id == later.number


def test_claim_takes_own_buckets_first_then_steals(open_kitchen, clock: FrozenClock) -> None:
    k = open_kitchen(buckets=8)
    a, b = k.join("oven-a"), k.join("oven-b")
    own = owners(k)
    assert set(own.values()) == {a.id, b.id}
    tickets = [k.submit("margherita", customer=f"c{i}") for i in range(40)]
    mine = {t.number for t in tickets if own[t.bucket] == a.id}
    theirs = {t.number for t in tickets if own[t.bucket] == b.id}
    assert mine and theirs
    got = []
    while (order := a.claim()) is not None:
        got.append(order)
    first = [o.id for o in got[:len(mine)]]
    assert set(first) == mine, "every order of its own buckets before any other"
    assert [o.id for o in got[len(mine):]] == sorted(theirs), "then the rest, oldest first (a steal)"
    stolen = events(k, "stolen")
    assert [order for _, order, _ in stolen] == sorted(theirs)
    assert all(oven == "oven-a" and text.endswith(f"from oven-b's bucket {own_bucket}")
               for (oven, _, text), own_bucket in zip(stolen, [t.bucket for t in tickets if t.number in theirs]))
    assert b.claim() is None


def test_claim_many_is_bounded_and_ordered(kitchen: Kitchen) -> None:
    oven = kitchen.join("oven-1")
    kitchen.submit_many([{"recipe": "margherita", "priority": i % 3} for i in range(10)])
    batch = oven.claim_many(4)
    assert len(batch) == 4
    assert [o.priority for o in batch] == [2, 2, 2, 1]
    assert len(oven.claim_many(100)) == 6 and oven.claim_many(3) == []


def test_claim_many_with_no_room_claims_nothing(kitchen: Kitchen) -> None:
    oven = kitchen.join("oven-1")
    kitchen.submit_many([{"recipe": "margherita"}] * 3)
    assert oven.claim_many(0) == [] and oven.claim_many(-1) == []
    accepted, claimed = oven.complete_many([], claim=-1)
    assert accepted == [] and claimed == []
    assert kitchen.status().orders.queued == 3


def test_a_dead_or_departed_oven_claims_nothing(kitchen: Kitchen, clock: FrozenClock) -> None:
    oven = kitchen.join("oven-1")
    kitchen.submit("margherita")
    oven.leave()
    assert oven.claim() is None
    ghost = kitchen.join("oven-2")
    clock.advance(6)
    kitchen.reap()
    assert ghost.claim() is None and kitchen.status().orders.queued == 1


def _drain(oven: Oven) -> list[int]:
    got = []
    while (order := oven.claim()) is not None:
        got.append(order.id)
        assert oven.complete(order, result={"ok": True})
    return got


def test_two_threads_on_one_bucket_never_share_an_order(open_kitchen) -> None:
    k = open_kitchen(buckets=1)
    oven = k.join("oven-1")
    tickets = k.submit_many([{"recipe": "margherita", "payload": {"i": i}} for i in range(300)])
    got = in_threads(2, lambda i: _drain(oven))
    union = got[0] + got[1]
    assert len(union) == len(set(union)) == 300
    assert set(union) == {t.number for t in tickets}
    assert k.status().orders.done == 300


@pytest.mark.processes
def test_two_processes_on_one_bucket_never_share_an_order(open_kitchen, backend_url: str, clock) -> None:
    k = open_kitchen(buckets=1)
    oven = k.join("oven-1")
    tickets = k.submit_many([{"recipe": "margherita", "payload": {"i": i}} for i in range(500)])
    job = {"url": backend_url, "now": clock(), "oven_id": oven.id, "oven_name": oven.name}
    results = in_children("drain", [dict(job, tag="p1"), dict(job, tag="p2")])
    union = results[0]["claimed"] + results[1]["claimed"]
    assert len(union) == len(set(union)) == 500, "an order was cooked twice or lost"
    assert set(union) == {t.number for t in tickets}
    assert results[0]["accepted"] + results[1]["accepted"] == 500
    status = k.status()
    assert status.orders.done == 500 and status.ledger.completions == 500
    from tests.engine.helpers import scalar
    assert scalar(k, "SELECT count(*) FROM ledger") == 500


@pytest.mark.processes
def test_processes_with_their_own_ovens_drain_everything_once(open_kitchen, backend_url: str, clock) -> None:
    k = open_kitchen(buckets=16)
    ovens = [k.join("oven-a"), k.join("oven-b")]
    tickets = k.submit_many([{"recipe": "margherita", "customer": f"c{i % 37}"} for i in range(400)])
    jobs = [{"url": backend_url, "now": clock(), "oven_id": o.id, "oven_name": o.name, "tag": o.name}
            for o in ovens]
    results = in_children("drain", jobs)
    own = owners(k)
    stolen = {(oven, order) for oven, order, _ in events(k, "stolen")}
    for oven, result in zip(ovens, results, strict=True):
        claimed = set(result["claimed"])
        assert claimed, f"{oven.name} cooked nothing"
        # each order came from its bucket's owner, or was taken by an oven whose own buckets were empty: a steal,
        # recorded as one
        assert all(own[t.bucket] == oven.id or (oven.name, t.number) in stolen for t in tickets if t.number in claimed)
        assert all(t.bucket == bucket_for(f"c{i % 37}", 16) for i, t in enumerate(tickets))
    union = results[0]["claimed"] + results[1]["claimed"]
    assert sorted(union) == sorted(t.number for t in tickets)
