"""``kitchen run --concurrency N`` as real processes, on both engines: N orders held at once, SIGTERM drains
them all, SIGTERM twice hands them all back, SIGKILL requeues each once, lanes hold across slots and ovens."""

from __future__ import annotations

import os
import signal
from itertools import pairwise

import pytest

from tests.support.processes import assert_one_line_error
from tests.support.shop import Shop
from tests.support.waiting import wait_for

pytestmark = pytest.mark.processes


def held(shop: Shop, name: str, n: int) -> list[int] | None:
    """The orders oven ``name`` holds, once it holds ``n`` of them (else None)."""
    row = shop.oven_row(name)
    return sorted(row.cooking) if row is not None and row.state == "alive" and len(row.cooking) == n else None


def test_first_sigterm_drains_every_busy_slot_then_exits_zero(shop):
    proc = shop.oven("a", "--concurrency", "3")
    wait_for(lambda: shop.alive("a"), what="oven alive")
    tickets = shop.kitchen.submit_many([{"recipe": "slow", "payload": {"seconds": 1.0}} for _ in range(5)])
    cooking = wait_for(lambda: held(shop, "a", 3), what="three slots cooking")
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    states = {t.number: shop.kitchen.ticket(t.number) for t in tickets}
    assert all(states[n].state == "done" and states[n].attempts == 1 for n in cooking), "each slot finished its own"
    rest = [info for n, info in states.items() if n not in cooking]
    assert [(i.state, i.attempts) for i in rest] == [("queued", 0)] * 2, "nothing new claimed while draining"
    assert shop.oven_row("a").state == "left"
    assert "draining (signal)" in shop.log("a")


def test_second_sigterm_hands_every_slots_order_back_at_once(shop):
    proc = shop.oven("a", "--concurrency", "3")
    wait_for(lambda: shop.alive("a"), what="oven alive")
    tickets = shop.kitchen.submit_many([{"recipe": "slow", "payload": {"seconds": 30}} for _ in range(3)])
    wait_for(lambda: held(shop, "a", 3), what="three slots cooking")
    os.kill(proc.pid, signal.SIGTERM)
    wait_for(lambda: "a draining (" in shop.log("a"), 5, "the first SIGTERM to be handled")
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    infos = [shop.kitchen.ticket(t.number) for t in tickets]
    assert [(i.state, i.attempts) for i in infos] == [("queued", 0)] * 3, "released without using an attempt"


def test_sigkill_with_every_slot_busy_requeues_each_order_once(shop):
    victim = shop.oven("a", "--concurrency", "3")
    wait_for(lambda: shop.alive("a"), what="oven alive")
    tickets = shop.kitchen.submit_many([{"recipe": "slow", "payload": {"seconds": 2.0}} for _ in range(3)])
    wait_for(lambda: held(shop, "a", 3), what="three slots cooking")
    os.kill(victim.pid, signal.SIGKILL)
    wait_for(lambda: (shop.kitchen.reap(), shop.oven_row("a").state == "dead")[1], timeout=10,
             what="declared dead by this process's reaper")
    assert shop.status().orders.queued == 3, "every held order back in the queue"
    shop.oven("b", "--concurrency", "2")
    wait_for(lambda: shop.status().orders.done == 3, timeout=30, what="all three cooked elsewhere")
    infos = [shop.kitchen.ticket(t.number) for t in tickets]
    assert all(i.attempts == 2 and i.oven == "b" for i in infos), [(i.ticket, i.attempts, i.oven) for i in infos]
    assert shop.status().requeued == 3, "each held order requeued once"
    assert sorted(r.order_id for r in shop.kitchen.ledger(100)) == sorted(t.number for t in tickets)


def test_a_lane_cooks_one_at_a_time_in_ticket_order_across_slots_and_ovens(shop):
    shop.oven("a", "--concurrency", "4")
    shop.oven("b", "--concurrency", "3")
    wait_for(lambda: shop.alive("a") and shop.alive("b"), what="both ovens alive")
    ada = shop.kitchen.submit_many([{"recipe": "slow", "payload": {"seconds": 0.1}, "customer": "ada"}
                                    for _ in range(8)])
    others = shop.kitchen.submit_many([{"recipe": "slow", "payload": {"seconds": 0.5}} for _ in range(7)])
    wait_for(lambda: shop.status().orders.done == 15, timeout=40, what="all orders done")
    lane = [shop.kitchen.ticket(t.number) for t in ada]
    for before, after in pairwise(lane):
        assert after.started_at >= before.finished_at, f"#{after.ticket} started before #{before.ticket} finished"
    free = sorted((shop.kitchen.ticket(t.number) for t in others), key=lambda i: i.started_at)
    overlapping = max(sum(1 for o in free if o.started_at <= i.started_at < o.finished_at) for i in free)
    assert overlapping >= 4, f"orders outside a lane cooked at most {overlapping} at once on 7 slots"


def test_concurrency_out_of_range_is_one_line(shop):
    out = shop.cli("run", "--concurrency", "0")
    assert "must be from 1 to 256" in assert_one_line_error(out, code=2)
    shop.ini.write_text(shop.ini.read_text() + "concurrency = 257\n")
    out = shop.cli("run")
    assert "concurrency must be between 1 and 256" in assert_one_line_error(out)
