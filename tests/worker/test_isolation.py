"""Isolated recipes cook in a work horse the oven supervises: a recipe that holds the GIL cannot starve the
heartbeat, a timeout or a stop kills only the horse. In-process recipes are the control case."""

from __future__ import annotations

import signal

import pytest

from tests.support.shop import Shop
from tests.support.waiting import wait_for

pytestmark = pytest.mark.processes


@pytest.fixture
def shop(tmp_path, backend_url: str):
    s = Shop(tmp_path, backend_url)
    yield s
    s.close()


def reap_until(shop: Shop, condition, timeout: float, what: str):
    """Be the reaper (every 0.1 s) while waiting: a starved heartbeat would be judged at once."""
    def step():
        shop.kitchen.reap()
        return condition()
    return wait_for(step, timeout, what, interval=0.1)


def dead_events(shop: Shop) -> list:
    return [e for e in shop.kitchen.events(limit=10_000) if e.kind == "dead"]


def test_a_recipe_holding_the_gil_in_a_horse_never_starves_the_heartbeat(shop: Shop) -> None:
    proc = shop.oven("a")
    wait_for(lambda: shop.alive("a"), 20, "the oven to join")
    t = shop.kitchen.submit("hog", {"seconds": 3.0})
    info = reap_until(shop, lambda: (i := shop.kitchen.ticket(t.number)).state == "done" and i, 60, "the hog")
    assert info.attempts == 1 and info.result["calls"] >= 1
    assert info.result["pid"] != proc.pid, "cooked in the work horse, not the oven"
    assert dead_events(shop) == [] and shop.alive("a")


def test_the_same_recipe_in_process_starves_the_heartbeat(shop: Shop) -> None:
    """The control: proves the hog really holds the GIL long enough to be declared dead."""
    shop.oven("a")
    wait_for(lambda: shop.alive("a"), 20, "the oven to join")
    shop.kitchen.submit("hog_inline", {"seconds": 3.0})
    reap_until(shop, lambda: dead_events(shop), 60, "the starved oven to be declared dead")


def test_an_isolated_recipe_over_its_timeout_fails_the_attempt_and_the_oven_lives_on(shop: Shop) -> None:
    proc = shop.oven("a")
    t = shop.kitchen.submit("sleepy")
    info = wait_for(lambda: (i := shop.kitchen.ticket(t.number)).state == "burnt" and i, 30, "three timeouts")
    assert info.attempts == 3 and "TimeoutError: timed out after 0.5 s" in (info.error or "")
    assert proc.poll() is None and shop.alive("a") and dead_events(shop) == []


def test_an_in_process_recipe_over_its_timeout_takes_its_oven_down(shop: Shop) -> None:
    from kitchen.ovens.worker import EXIT_TIMEOUT

    proc = shop.oven("a")
    t = shop.kitchen.submit("sleepy_inline")
    assert proc.wait(timeout=30) == EXIT_TIMEOUT
    info = shop.kitchen.ticket(t.number)
    assert info.attempts == 1 and info.state == "queued" and "TimeoutError" in (info.error or "")
    assert shop.oven_row("a").state == "left"


def test_two_signals_kill_the_horse_and_hand_the_order_back(shop: Shop) -> None:
    proc = shop.oven("a")
    t = shop.kitchen.submit("stubborn_isolated")
    wait_for(lambda: shop.kitchen.ticket(t.number).progress == 5, 20, "the horse to be cooking")
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0, "a clean exit: the oven did not need a hard stop"
    info = shop.kitchen.ticket(t.number)
    assert info.state == "queued" and info.attempts == 0


def test_async_and_the_failure_policy_in_the_horse(shop: Shop) -> None:
    proc = shop.oven("a")
    aio = shop.kitchen.submit("aio_isolated", {"n": 3})
    refused = shop.kitchen.submit("refuse_isolated", {"why": "bad address"})
    done = wait_for(lambda: (i := shop.kitchen.ticket(aio.number)).state == "done" and i, 60, "the async order")
    assert done.result["n"] == 3 and done.result["pid"] != proc.pid, "awaited in the work horse"
    burnt = wait_for(lambda: (i := shop.kitchen.ticket(refused.number)).state == "burnt" and i, 60, "the refusal")
    assert (burnt.attempts, burnt.error) == (1, "ValueError: bad address"), "not in retry_on: burnt at once"
    assert "raise ValueError(why)" in burnt.traceback, "the horse's traceback came back with the error"


@pytest.mark.parametrize("name", ["simmer", "simmer_isolated"])
def test_cancelling_a_cooking_order_stops_its_recipe(shop: Shop, name: str) -> None:
    proc = shop.oven("a")
    t = shop.kitchen.submit(name)
    wait_for(lambda: shop.kitchen.ticket(t.number).progress == 5, 60, "the recipe to start")
    assert shop.kitchen.cancel(t.number) is True
    info = wait_for(lambda: (i := shop.kitchen.ticket(t.number)).state == "cancelled" and i, 30, "the cancel")
    assert info.attempts == 1 and shop.kitchen.status().orders.cancelled == 1
    after = shop.kitchen.submit("noop")
    wait_for(lambda: shop.kitchen.ticket(after.number).state == "done", 30, "the oven to cook on")
    assert proc.poll() is None and shop.alive("a")


def test_a_cold_work_horse_start_does_not_count_against_the_timeout(shop: Shop) -> None:
    """A fresh horse imports kitchen and the recipe's module first (often longer than 0.2 s on a loaded machine):
    the recipe's 0.5 s count from its start, so a 0.3 s recipe in a cold horse succeeds on its first attempt."""
    shop.oven("a")
    t = shop.kitchen.submit("brisk_isolated")
    info = wait_for(lambda: (i := shop.kitchen.ticket(t.number)).state in ("done", "burnt") and i, 60, "the order")
    assert (info.state, info.attempts, info.error) == ("done", 1, None)
