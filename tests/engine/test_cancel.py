"""Cancel: a queued order becomes ``cancelled`` (a final state, counted in status) and never cooks; a cooking one is
told through ``ctx.cancelled`` / ``ctx.wait`` and ends cancelled unless it completes first (compare-and-set on
the claim's fence); a finished one is left as it is. ``kitchen cancel N...``. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from kitchen import FrozenClock, Kitchen, OrderCancelled, UnknownTicket, recipe
from kitchen.cli import main
from kitchen.ovens.recipes import build_menu
from kitchen.ovens.worker import Worker
from tests.engine.helpers import scalar
from tests.support.waiting import wait_for

SIMMERING = threading.Event()


@recipe
def can_simmer(*, ctx) -> str:
    """Waits cooperatively until its order is cancelled (or the oven stops)."""
    SIMMERING.set()
    while True:
        ctx.wait(0.02)


@recipe
def can_quick(n: int = 0) -> int:
    return n


def test_a_queued_order_is_cancelled_and_never_cooks(kitchen: Kitchen) -> None:
    t = can_quick.submit(kitchen, n=1)
    other = can_quick.submit(kitchen, n=2)
    assert kitchen.cancel(t.number) is True
    assert kitchen.cancel(t.number) is True, "already cancelled: it still will never cook"
    assert kitchen.cook_all() == 1
    info = kitchen.ticket(t.number)
    assert (info.state, info.attempts, info.oven) == ("cancelled", 0, None) and info.finished_at is not None
    counts = kitchen.status().orders
    assert (counts.queued, counts.cooking, counts.done, counts.cancelled) == (0, 0, 1, 1)
    with pytest.raises(OrderCancelled):
        t.result(timeout=1)
    assert other.result(timeout=1) == 2
    assert [e.data for e in kitchen.events(limit=100) if e.kind == "cancelled"] == [{"was": "queued"}]


def test_a_finished_order_is_left_as_it_is(kitchen: Kitchen) -> None:
    done = can_quick.submit(kitchen, n=3)
    kitchen.cook_all()
    assert kitchen.cancel(done.number) is False
    assert kitchen.ticket(done.number).state == "done" and kitchen.status().orders.cancelled == 0
    with pytest.raises(UnknownTicket):
        kitchen.cancel(999)


def test_cancelling_the_head_of_a_lane_lets_the_next_one_cook(kitchen: Kitchen) -> None:
    first, second = (can_quick.submit(kitchen, n=i, customer="ada") for i in (1, 2))
    assert kitchen.cancel(first.number)
    oven = kitchen.join("oven-1")
    claimed = oven.claim()
    assert claimed is not None and claimed.id == second.number


def test_a_cooking_order_is_told_through_ctx_and_ends_cancelled(kitchen: Kitchen) -> None:
    SIMMERING.clear()
    t = can_simmer.submit(kitchen)
    worker = Worker(kitchen, "oven-1", build_menu(kitchen.settings.menu))
    ticked: list[str] = []
    thread = threading.Thread(target=lambda: ticked.append(worker.tick()), daemon=True)
    thread.start()
    try:
        wait_for(SIMMERING.is_set, what="the recipe to start")
        assert kitchen.cancel(t.number) is True, "cooking: its oven is told"
        assert kitchen.ticket(t.number).state == "cooking", "until its oven hears it"
        worker.beat()  # the heartbeat job: hears the cancel and tells the recipe (ctx.wait raises Cancelled)
        thread.join(20)
        assert ticked == ["cooked"]
    finally:
        worker.stop.set()
        thread.join(5)
        worker.close()
    info = kitchen.ticket(t.number)
    assert (info.state, info.attempts, info.error) == ("cancelled", 1, None)
    counts = kitchen.status().orders
    assert (counts.cooking, counts.queued, counts.cancelled) == (0, 0, 1)
    cancelled = [e for e in kitchen.events(limit=100) if e.kind == "cancelled"]
    assert [(e.oven_name, e.data) for e in cancelled] == [("oven-1", {"was": "cooking"})]


def test_a_completion_before_the_cancel_is_heard_stands(kitchen: Kitchen) -> None:
    t = can_quick.submit(kitchen, n=5)
    oven = kitchen.join("oven-1")
    order = oven.claim()
    assert order is not None and kitchen.cancel(t.number) is True
    assert oven.heartbeat() == [t.number], "the heartbeat hears it"
    assert oven.complete(order, 5) is True, "it completed first: the completion is accepted"
    assert oven.cancelled(order) is False, "too late to cancel: the fence no longer matches a cooking order"
    assert kitchen.ticket(t.number).state == "done" and t.result(timeout=1) == 5
    counts = kitchen.status().orders
    assert (counts.done, counts.cancelled, counts.queued) == (1, 0, 0)


def test_a_failure_after_a_cancel_ends_cancelled_not_retried(kitchen: Kitchen) -> None:
    t = can_quick.submit(kitchen)
    oven = kitchen.join("oven-1")
    order = oven.claim()
    kitchen.cancel(t.number)
    assert oven.fail(order, "RuntimeError: stopped half-way") == "cancelled"
    assert kitchen.ticket(t.number).state == "cancelled" and kitchen.status().orders.cancelled == 1


def test_an_order_whose_oven_dies_after_a_cancel_is_cancelled_by_the_reaper(kitchen: Kitchen,
                                                                            clock: FrozenClock) -> None:
    t = can_quick.submit(kitchen)
    oven = kitchen.join("oven-1")
    order = oven.claim()
    assert order is not None and kitchen.cancel(t.number)
    clock.advance(60)
    report = kitchen.reap()
    assert report.dead == ["oven-1"] and report.requeued == []
    assert kitchen.ticket(t.number).state == "cancelled"
    counts = kitchen.status().orders
    assert (counts.queued, counts.cooking, counts.cancelled) == (0, 0, 1)
    assert scalar(kitchen, "SELECT sum(cancelled) FROM tally") == 1


def test_kitchen_cancel(kitchen: Kitchen, backend_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    queued, cooking, done = (can_quick.submit(kitchen, n=i) for i in range(3))
    kitchen.cook_all()  # all three done; queue two more
    cooking, queued = can_quick.submit(kitchen, n=7), can_quick.submit(kitchen, n=8)
    oven = kitchen.join("oven-1", ["can_quick"])
    claimed = oven.claim()
    assert claimed is not None and claimed.id == cooking.number
    assert main(["--db", backend_url, "cancel", str(queued.number)]) == 0
    assert capsys.readouterr().out == f"ticket {queued.number}: cancelled\n"
    assert main(["--db", backend_url, "cancel", str(cooking.number), str(done.number), "99"]) == 1
    out, err = capsys.readouterr()
    assert out.startswith(f"ticket {cooking.number}: cooking; its oven is told to stop")
    assert err.splitlines() == [f"kitchen: error: ticket {done.number} not cancelled: already done, left as it is",
                                "kitchen: error: ticket 99 not cancelled: no such order"]
    assert main(["--db", backend_url, "status"]) == 0
    assert "1 cancelled" in capsys.readouterr().out


def test_an_order_handed_back_after_its_cancel_was_asked_ends_cancelled(kitchen: Kitchen) -> None:
    """A graceful release or leave of an order whose cancel its oven had not acted on: cancelled, not requeued."""
    first, second = can_quick.submit(kitchen), can_quick.submit(kitchen)
    oven = kitchen.join("oven-1")
    held = oven.claim_many(2)
    assert [o.id for o in held] == [first.number, second.number]
    assert kitchen.cancel(first.number) and kitchen.cancel(second.number)
    assert oven.release(held[0]) == 1
    oven.leave()
    assert [kitchen.ticket(t.number).state for t in (first, second)] == ["cancelled", "cancelled"]
    counts = kitchen.status().orders
    assert (counts.queued, counts.cooking, counts.cancelled) == (0, 0, 2)


def test_a_prefetched_order_cancelled_in_hand_is_never_cooked(kitchen: Kitchen) -> None:
    first, second = can_quick.submit(kitchen, n=1), can_quick.submit(kitchen, n=2)
    worker = Worker(kitchen, "oven-1", build_menu(kitchen.settings.menu), prefetch=2)
    try:
        worker.start()
        worker.in_hand = worker.oven.claim_many(2)
        assert kitchen.cancel(second.number)
        worker.beat()  # the heartbeat hears it while the order waits in hand
        while worker.tick() == "cooked":
            pass
    finally:
        worker.close()
    assert kitchen.ticket(first.number).state == "done"
    info = kitchen.ticket(second.number)
    assert (info.state, info.result) == ("cancelled", None)
