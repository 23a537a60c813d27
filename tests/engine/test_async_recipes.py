"""``async def`` recipes run to completion on their oven's own event loop (one per oven, reused between orders);
the built-in pizzas are recipes of the same decorator. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time

from kitchen import GiveUp, Kitchen, recipe
from kitchen.ovens.recipes import Cooking, Recipe, RecipeOptions, build_menu
from kitchen.ovens.worker import ASYNC_GRACE, EXIT_TIMEOUT, Worker


@recipe
async def aio_fetch(url: str, *, ctx) -> dict:
    await asyncio.sleep(0.01)
    ctx.progress(50)
    return {"url": url, "attempt": ctx.attempt, "loop": id(asyncio.get_running_loop())}


@recipe
async def aio_refuse() -> None:
    await asyncio.sleep(0)
    raise GiveUp("no such url")


def test_an_async_recipe_returns_its_awaited_result(kitchen: Kitchen) -> None:
    t = aio_fetch.submit(kitchen, url="https://example.org")
    assert kitchen.cook_all() == 1
    result = t.result(timeout=5)
    assert (result["url"], result["attempt"]) == ("https://example.org", 1), "not a coroutine: its value"


def test_one_event_loop_per_oven_reused_between_orders(kitchen: Kitchen) -> None:
    tickets = [aio_fetch.submit(kitchen, url=f"u{i}") for i in range(3)]
    worker = Worker(kitchen, "oven-1", build_menu(kitchen.settings.menu))
    try:
        while worker.tick() == "cooked":
            pass
    finally:
        worker.close()
    loops = {kitchen.ticket(t.number).result["loop"] for t in tickets}
    assert len(loops) == 1, "the same loop cooked every order of this oven"


def test_an_async_recipe_follows_the_failure_policy(kitchen: Kitchen) -> None:
    t = aio_refuse.submit(kitchen)
    kitchen.cook_all()
    info = kitchen.ticket(t.number)
    assert (info.state, info.attempts, info.error) == ("burnt", 1, "GiveUp: no such url")
    assert "aio_refuse" in info.traceback


def test_the_built_in_pizzas_are_recipes_of_the_same_decorator(kitchen: Kitchen) -> None:
    menu = build_menu({"margherita": 0.0, "calzone": 0.0})
    pizza = menu.get("margherita")
    assert isinstance(pizza, Recipe) and pizza.options == RecipeOptions() and pizza.wants_ctx
    assert set(menu.names()) >= {"margherita", "calzone", "noop"}
    sized = kitchen.submit("margherita", {"size": "L", "slices": 6})
    plain = kitchen.submit("calzone")
    odd = kitchen.submit("margherita", {"slices": "many"})
    assert kitchen.cook_all(menu=menu) == 3
    assert sized.result(timeout=5) == {"baked_seconds": 0.0, "slices": 6}, "toppings taken and ignored"
    assert plain.result(timeout=5)["slices"] == 8 and odd.result(timeout=5)["slices"] == 8


@recipe(timeout=0.2, retry_on=(ValueError,))
async def aio_stuck(*, ctx) -> str:
    if ctx.attempt == 1:
        await asyncio.sleep(30)  # past its timeout: cancelled on the oven's loop
    return "second time lucky"


def test_an_async_recipe_past_its_timeout_is_cancelled_on_its_loop_and_the_oven_goes_on(kitchen: Kitchen) -> None:
    t = aio_stuck.submit(kitchen)
    worker = Worker(kitchen, "oven-1", build_menu(kitchen.settings.menu))
    try:
        started = time.monotonic()
        assert worker.tick() == "cooked"
        assert time.monotonic() - started < 5, "cancelled at its timeout, not after its 30 s sleep"
        info = kitchen.ticket(t.number)
        assert (info.state, info.attempts, info.error) == ("queued", 1, "TimeoutError: timed out after 0.2 s")
        assert "RecipeTimeout" in info.traceback, "retried although retry_on names only ValueError"
        kitchen.clock.advance(60)
        assert worker.tick() == "cooked" and worker.oven.alive()
    finally:
        worker.close()
    assert t.result(timeout=5) == "second time lucky"


def test_the_watchdog_gives_an_async_recipe_s_loop_time_to_cancel_it_first(kitchen: Kitchen) -> None:
    """Only an async recipe that blocks its loop (so it cannot be cancelled) takes the oven down, after a grace."""
    t = aio_stuck.submit(kitchen)
    worker = Worker(kitchen, "oven-1", build_menu(kitchen.settings.menu))
    exits: list[int] = []
    worker.exit_now = exits.append
    try:
        order = worker.start().claim()
        assert order is not None and order.id == t.number
        worker.cooking, worker.cooking_options, worker.cooking_since = Cooking(order), aio_stuck.options, 100.0
        worker.watch(now=100.0 + 0.2 + ASYNC_GRACE / 2)
        assert exits == [] and kitchen.ticket(t.number).state == "cooking", "its loop cancels it"
        worker.watch(now=100.0 + 0.2 + ASYNC_GRACE + 0.1)
        assert exits == [EXIT_TIMEOUT], "a loop that could not cancel it: the oven exits, as for a sync recipe"
        assert kitchen.ticket(t.number).error == "TimeoutError: timed out after 0.2 s"
    finally:
        worker.cooking = None
        worker.close()
