"""Finishing an order: fenced completion with one ledger row, retries with backoff, burning, requeueing."""

from __future__ import annotations

import pytest

from kitchen import BadOrder, FrozenClock, Kitchen, Order, RefusalCode
from kitchen.core.views import LedgerTotals
from kitchen.store import Statements
from kitchen.store.sqlite import SqliteDialect
from tests.engine.helpers import events, execute, reason, rows, scalar


def test_complete_writes_one_ledger_row(kitchen: Kitchen, clock: FrozenClock) -> None:
    oven = kitchen.join("oven-1")
    ticket = kitchen.submit("margherita", customer="ada")
    order = oven.claim()
    clock.advance(2)
    assert oven.complete(order, result={"slices": 8}) is True
    info = kitchen.ticket(ticket.number)
    assert (info.state, info.result, info.finished_at) == ("done", {"slices": 8}, clock())
    assert rows(kitchen, "SELECT order_id, oven_name, fence FROM ledger") == [(order.id, "oven-1", order.fence)]
    assert oven.complete(order, result={"again": True}) is False, "a second completion is refused"
    assert scalar(kitchen, "SELECT count(*) FROM ledger") == 1
    assert kitchen.ticket(ticket.number).result == {"slices": 8}
    ledger = kitchen.status().ledger
    assert ledger == LedgerTotals(completions=1, duplicate_submissions=0, refused_completions=1)


def test_completion_after_requeue_is_refused_and_recorded(kitchen: Kitchen, clock: FrozenClock) -> None:
    slow = kitchen.join("slow")
    ticket = kitchen.submit("margherita", customer="ada")
    stale = slow.claim()
    clock.advance(6)  # slow misses its heartbeats; a reaper declares it dead and requeues the order
    fresh = kitchen.join("fresh")
    report = kitchen.reap()
    assert report.dead == ["slow"] and report.requeued == [ticket.number]
    before = kitchen.ticket(ticket.number)
    # 1. late completion while the order waits in the queue
    assert slow.complete(stale, result={"zombie": 1}) is False
    assert kitchen.ticket(ticket.number) == before
    # 2. late completion while someone else cooks it under a newer fence
    again = fresh.claim()
    assert again.id == ticket.number and again.fence > stale.fence and again.attempt == 2
    cooking = kitchen.ticket(ticket.number)
    assert slow.complete(stale, result={"zombie": 2}) is False
    assert kitchen.ticket(ticket.number) == cooking
    assert scalar(kitchen, "SELECT count(*) FROM ledger") == 0
    assert fresh.complete(again, result={"ok": True}) is True
    # 3. late completion after it is done
    assert slow.complete(stale, result={"zombie": 3}) is False
    assert kitchen.ticket(ticket.number).result == {"ok": True}
    assert rows(kitchen, "SELECT order_id, oven_name, fence FROM ledger") == [(ticket.number, "fresh", again.fence)]
    refused = list(reversed(kitchen.refusals()))
    assert [r.code for r in refused] == [RefusalCode.TAKEN_BACK, RefusalCode.RECOOKING, RefusalCode.ALREADY_DONE]
    reasons = [reason(r) for r in refused]
    assert len(reasons) == 3
    assert "taken back (queued)" in reasons[0] and "re-cooked" in reasons[1] and "already done" in reasons[2]
    assert all(r.oven_name == "slow" and r.fence == stale.fence for r in kitchen.refusals())
    status = kitchen.status()
    assert status.ledger.refused_completions == 3 and status.ledger.completions == 1
    assert status.orders.done == 1 and status.orders.queued == 0
    assert len(events(kitchen, "refused")) == 3


def test_another_ovens_order_cannot_be_completed(kitchen: Kitchen) -> None:
    a = kitchen.join("oven-a")
    kitchen.submit("margherita", customer="ada")
    order = a.claim()
    b = kitchen.join("oven-b")
    assert b.complete(order) is False
    assert kitchen.ticket(order.id).state == "cooking" and kitchen.ticket(order.id).oven == "oven-a"
    assert a.complete(order) is True


def test_complete_many_fences_each_and_claims_next(kitchen: Kitchen, clock: FrozenClock) -> None:
    oven = kitchen.join("oven-1")
    kitchen.submit_many([{"recipe": "margherita"} for _ in range(5)])
    first = oven.claim_many(2)
    stale = first[1]
    execute(kitchen, "UPDATE orders SET fence = fence + 1 WHERE id = ?", stale.id)  # as if re-claimed elsewhere
    accepted, nxt = oven.complete_many([(first[0], 1), (stale, 2)], claim=2)
    assert accepted == [True, False] and len(nxt) == 2
    assert {o.id for o in nxt}.isdisjoint(o.id for o in first)
    assert scalar(kitchen, "SELECT count(*) FROM ledger") == 1
    assert kitchen.status().ovens[0].cooked == 1


def test_result_must_be_json(kitchen: Kitchen) -> None:
    oven = kitchen.join("oven-1")
    kitchen.submit("margherita")
    order = oven.claim()
    with pytest.raises(BadOrder, match="result is not plain JSON"):
        oven.complete(order, result={"x": object()})
    assert kitchen.ticket(order.id).state == "cooking"
    assert oven.complete(order, result=None)


def test_fail_retries_with_backoff_then_burns(open_kitchen, clock: FrozenClock) -> None:
    k = open_kitchen(max_attempts=3, backoff_base=2.0, backoff_max=60.0)
    oven = k.join("oven-1")
    ticket = k.submit("margherita", customer="ada")
    for attempt, base in ((1, 2.0), (2, 4.0)):
        order = oven.claim()
        assert (order.id, order.attempt) == (ticket.number, attempt)
        now = clock()
        assert oven.fail(order, f"oven too cold\nsecond line {attempt}") == "queued"
        info = k.ticket(ticket.number)
        assert info.state == "queued" and info.error == "oven too cold"
        assert now + 0.5 * base <= info.run_at <= now + base, "backoff outside its jitter window"
        assert oven.claim() is None, "retry is not ready before its backoff"
        assert oven.fail(order, "stale") is None, "a failure of a finished claim changes nothing"
        clock.set(info.run_at)
    order = oven.claim()
    assert order.attempt == 3
    assert oven.fail(order, "charcoal") == "burnt"
    info = k.ticket(ticket.number)
    assert (info.state, info.error, info.attempts) == ("burnt", "charcoal", 3)
    clock.advance(3600)
    assert oven.claim() is None
    status = k.status()
    assert status.orders.burnt == 1 and status.orders.queued == 0 and status.retried == 2
    assert [d for _, _, d in events(k, "burnt")] == [f"order {ticket.number} burnt after 3 attempts: charcoal"]
    assert len(events(k, "retry")) == 2


def test_backoff_is_capped(open_kitchen, clock: FrozenClock) -> None:
    k = open_kitchen(max_attempts=20, backoff_base=1.0, backoff_max=5.0)
    oven = k.join("oven-1")
    ticket = k.submit("margherita")
    for _ in range(8):
        order = oven.claim()
        now = clock()
        oven.fail(order, "again")
        run_at = k.ticket(ticket.number).run_at
        assert run_at - now <= 5.0
        clock.set(run_at)
    assert run_at - now >= 2.5


def test_requeue_burnt_orders(open_kitchen, clock: FrozenClock) -> None:
    k = open_kitchen(max_attempts=1)
    oven = k.join("oven-1")
    tickets = k.submit_many([{"recipe": "margherita", "customer": f"c{i}"} for i in range(3)])
    for _ in tickets:
        assert oven.fail(oven.claim(), "burnt") == "burnt"
    assert k.status().orders.burnt == 3
    assert k.requeue([tickets[0].number, 999_999, tickets[0].number]) == [tickets[0].number]
    info = k.ticket(tickets[0].number)
    assert (info.state, info.attempts, info.error, info.oven) == ("queued", 0, None, None)
    assert k.requeue([tickets[0].number]) == [], "only burnt orders are requeued"
    assert sorted(k.requeue(burnt=True)) == [t.number for t in tickets[1:]]
    status = k.status()
    assert status.orders.burnt == 0 and status.orders.queued == 3
    again = oven.claim()
    assert again.attempt == 1
    assert oven.complete(again)
    assert k.status().orders.done == 1


def test_fail_keeps_the_first_meaningful_line(kitchen: Kitchen) -> None:
    oven = kitchen.join("oven-1")
    kitchen.submit_many([{"recipe": "margherita"}] * 3)
    for error, stored in (("\n\n  KeyError: 'cheese'\n  at line 3", "KeyError: 'cheese'"), ("   ", "failed"),
                          ("x" * 900, "x" * 500)):
        order = oven.claim()
        assert oven.fail(order, error) == "queued"
        assert kitchen.ticket(order.id).error == stored


def test_backoff_survives_huge_attempt_counts(open_kitchen, clock: FrozenClock) -> None:
    k = open_kitchen(max_attempts=5000, backoff_max=30.0)
    oven = k.join("oven-1")
    k.submit("margherita")
    real = oven.claim()
    late = Order(real.id, real.recipe, real.payload, 4000, real.fence, real.bucket)  # as after 4000 redeliveries
    execute(k, "UPDATE orders SET attempt = 4000 WHERE id = ?",
                                            real.id)
    now = clock()
    assert oven.fail(late, "again") == "queued"
    assert now + 15.0 <= k.ticket(real.id).run_at <= now + 30.0


@pytest.mark.parametrize("by_position", [True, False])
def test_a_group_commit_writes_each_accepted_order_s_own_ledger_row(
        open_kitchen, monkeypatch: pytest.MonkeyPatch, backend: str, by_position: bool) -> None:
    """SQLite inserts a batch's ledger rows together; whether its binder makes tuples or passes the one
    reused dict on, every row is its own order's (id, fence), refused ones left out."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL writes each ledger row inside its completion statement")
    monkeypatch.setattr(SqliteDialect, "statements",
                        lambda self: Statements.build(lambda text: text, {}, bind_by_position=by_position))
    kitchen = open_kitchen()
    oven = kitchen.join("oven-1")
    kitchen.submit_many([{"recipe": "margherita"} for _ in range(4)])
    held = oven.claim_many(4)
    execute(kitchen, "UPDATE orders SET fence = fence + 1 WHERE id = ?", held[2].id)  # as if re-claimed elsewhere
    accepted, _ = oven.complete_many([(o, {"n": i}) for i, o in enumerate(held)])
    assert accepted == [True, True, False, True]
    got = rows(kitchen, "SELECT order_id, fence FROM ledger ORDER BY order_id")
    assert [tuple(r) for r in got] == [(o.id, o.fence) for o in held if o is not held[2]]
