"""Owner first, then steal: an oven whose own buckets hold nothing it can cook takes the best ready order from
any bucket, through the same fenced claim, and the steal is recorded as an event."""

from __future__ import annotations

from typing import Any

import pytest

from kitchen import FrozenClock, Kitchen
from kitchen.core import words
from kitchen.core.hashing import bucket_for
from kitchen.protocol import cooking
from kitchen.protocol.cooking import Hint, Who
from tests.engine.helpers import events, in_children, owners, scalar


def customers_of(k: Kitchen, oven_id: int, n: int, prefix: str = "c") -> list[str]:
    """``n`` customer names whose orders hash to buckets ``oven_id`` owns."""
    own = owners(k)
    found = [f"{prefix}{i}" for i in range(10_000) if own[bucket_for(f"{prefix}{i}", k.buckets)] == oven_id]
    assert len(found) >= n
    return found[:n]


def test_an_idle_oven_takes_waiting_orders_from_a_busy_ovens_buckets(open_kitchen, clock: FrozenClock) -> None:
    """Head of line: one long order and twelve quick ones, all in oven-1's buckets, different customers."""
    k = open_kitchen(buckets=16)
    one, two = k.join("oven-1"), k.join("oven-2")
    names = customers_of(k, one.id, 13)
    long = k.submit("calzone", customer=names[0])
    quick = [k.submit("margherita", customer=c) for c in names[1:]]
    assert one.claim().id == long.number
    taken = []
    while (order := two.claim()) is not None:
        shown = next(o for o in k.status().ovens if o.name == "oven-2")
        assert (shown.current_order, shown.current_from) == (order.id, "oven-1"), "the oven pane says whose it was"
        taken.append(order.id)
        assert two.complete(order)
    assert taken == [t.number for t in quick], "oven-2 cooked every quick order while oven-1 baked the long one"
    stolen = [e for e in k.events(limit=1000) if e.kind == "stolen"]
    assert [e.order_id for e in stolen] == taken
    first = stolen[0]
    assert first.oven_name == "oven-2"
    assert first.data == {"thief": "oven-2", "owner": "oven-1", "bucket": quick[0].bucket}
    assert words.event(first.kind, first.oven_name, first.order_id, first.data) == (
        f"oven-2 took #{quick[0].number} from oven-1's bucket {quick[0].bucket}")
    assert k.ticket(long.number).state == "cooking"


def test_own_buckets_come_first_even_before_better_orders_elsewhere(open_kitchen, clock: FrozenClock) -> None:
    k = open_kitchen(buckets=16)
    a, b = k.join("oven-a"), k.join("oven-b")
    theirs = k.submit("margherita", customer=customers_of(k, b.id, 1)[0], priority=50)
    clock.advance(1)
    mine = k.submit("margherita", customer=customers_of(k, a.id, 1)[0], priority=-50)
    assert a.claim().id == mine.number, "affinity: its own bucket's order, though older and urgent ones wait elsewhere"
    assert a.claim().id == theirs.number, "then a steal"
    assert [order for _, order, _ in events(k, "stolen")] == [theirs.number]


def test_a_steal_takes_the_best_ready_order_of_any_bucket(open_kitchen, clock: FrozenClock) -> None:
    k = open_kitchen(buckets=16)
    a, b = k.join("oven-a"), k.join("oven-b")
    names = customers_of(k, b.id, 4)
    old = k.submit("margherita", customer=names[0])
    later = k.submit("margherita", customer=names[1], delay=30, priority=100)
    clock.advance(1)
    urgent = k.submit("margherita", customer=names[2], priority=10)
    new = k.submit("margherita", customer=names[3])
    assert [a.claim().id for _ in range(3)] == [urgent.number, old.number, new.number]
    assert a.claim() is None, "not before its run_at"
    clock.advance(30)
    assert a.claim().id == later.number


def test_a_steal_respects_the_menu_and_fills_a_batch(open_kitchen) -> None:
    k = open_kitchen(buckets=16)
    a = k.join("oven-a")
    b = k.join("oven-b", ["margherita"])
    names = customers_of(k, a.id, 6)
    k.submit("soup", customer=names[0])
    pizzas = [k.submit("margherita", customer=c) for c in names[1:]]
    batch = b.claim_many(10)
    assert [o.id for o in batch] == [t.number for t in pizzas] and all(o.recipe == "margherita" for o in batch)
    assert len(events(k, "stolen")) == 5
    assert a.claim().recipe == "soup"


class Counting:
    """A cursor that counts (and keeps) the statements run through it."""

    def __init__(self, cur: Any) -> None:
        self.cur, self.executed, self.statements = cur, 0, []

    def execute(self, sql: str, *args: Any) -> Any:
        self.executed += 1
        self.statements.append(sql)
        return self.cur.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cur, name)


def test_owner_first_costs_one_statement_when_the_own_buckets_have_work(open_kitchen, clock: FrozenClock) -> None:
    k = open_kitchen(buckets=16)
    a, b = k.join("oven-a"), k.join("oven-b")
    k.submit("margherita", customer=customers_of(k, a.id, 1)[0])
    k.submit("margherita", customer=customers_of(k, b.id, 1)[0])
    ctx = k._ctx

    def claim_counting(oven_id: int, name: str) -> tuple[int, int]:
        def tx(cur: Any) -> tuple[int, int]:
            counting = Counting(cur)
            got = cooking.claim(counting, ctx, Who(oven_id, name), 1, clock())
            return len(got), counting.executed
        return k.store.write(tx)

    assert claim_counting(a.id, a.name) == (1, 1), "own bucket had work: the claim alone"
    assert claim_counting(a.id, a.name) == (1, 4), "own buckets empty: claim, steal, owner's name, event"
    assert claim_counting(a.id, a.name) == (0, 2), "nothing anywhere: the claim and the steal"


def test_a_thief_asks_the_tally_instead_of_walking_the_queue_again(open_kitchen, clock: FrozenClock) -> None:
    """Once its own buckets gave nothing, an oven's next claim checks them from the per-bucket tally (one
    short read) before walking the ready index for them: stealing stays cheap however long the others' queue."""
    k = open_kitchen(buckets=16)
    a, b = k.join("oven-a"), k.join("oven-b")
    theirs = [k.submit("margherita", customer=c).number for c in customers_of(k, b.id, 3)]
    ctx, hint = k._ctx, Hint()
    ran: list[str] = []

    def claim_watching() -> list[int]:
        def tx(cur: Any) -> list[int]:
            counting = Counting(cur)
            got = cooking.claim(counting, ctx, Who(a.id, a.name), 1, clock(), hint)
            ran[:] = counting.statements
            return [o.id for o in got]
        return k.store.write(tx)

    assert claim_watching() == theirs[:1] and ran[:2] == [ctx.st.claim, ctx.st.steal], "first: own walk, then steal"
    assert hint.own_empty
    assert claim_watching() == theirs[1:2] and ran[:2] == [ctx.st.own_waiting, ctx.st.steal], "then: the tally"
    mine = k.submit("margherita", customer=customers_of(k, a.id, 1)[0], delay=0).number
    assert claim_watching() == [mine] and ran == [ctx.st.own_waiting, ctx.st.claim], "own work again: owner first"
    assert not hint.own_empty
    assert claim_watching() == theirs[2:] and ran[:2] == [ctx.st.claim, ctx.st.steal]


@pytest.mark.processes
def test_two_processes_steal_and_claim_at_once_and_never_share_an_order(open_kitchen, backend_url: str,
                                                                        clock) -> None:
    """One bucket: oven-a owns it and claims, oven-b owns nothing and can only steal; both drain at once."""
    k = open_kitchen(buckets=1)
    a, b = k.join("oven-a"), k.join("oven-b")
    assert set(owners(k).values()) == {a.id}
    tickets = k.submit_many([{"recipe": "margherita", "payload": {"i": i}} for i in range(400)])
    jobs = [{"url": backend_url, "now": clock(), "oven_id": o.id, "oven_name": o.name, "tag": o.name} for o in (a, b)]
    by_a, by_b = in_children("drain", jobs)
    union = by_a["claimed"] + by_b["claimed"]
    assert len(union) == len(set(union)) == 400, "an order was cooked twice or lost"
    assert set(union) == {t.number for t in tickets}
    assert by_a["accepted"] + by_b["accepted"] == 400
    assert by_b["claimed"], "the thief got nothing: the race was not run"
    stolen = events(k, "stolen")
    assert sorted(order for _, order, _ in stolen) == sorted(by_b["claimed"])
    assert {oven for oven, _, _ in stolen} == {"oven-b"}
    assert scalar(k, "SELECT count(*) FROM ledger") == scalar(k, "SELECT count(DISTINCT order_id) FROM ledger") == 400
