"""Poison is burnt, never looped: hostile nesting is refused at the door, and a stored payload no oven can
decode costs one attempt and burns instead of crashing every oven that claims it."""

from __future__ import annotations

import pytest

from kitchen import BadOrder, Kitchen
from kitchen.core.orders import MAX_DEPTH
from kitchen.ovens.recipes import Menu
from kitchen.ovens.worker import Worker
from tests.engine.helpers import execute


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100_000])
def test_deep_payloads_are_refused_at_submit(kitchen: Kitchen, depth: int) -> None:
    with pytest.raises(BadOrder, match=f"nested more than {MAX_DEPTH} levels"):
        kitchen.submit("noop", nested(depth))
    assert kitchen.status().orders.submitted == 0


def test_a_payload_at_the_limit_is_taken(kitchen: Kitchen) -> None:
    t = kitchen.submit("noop", nested(MAX_DEPTH))
    assert kitchen.ticket(t.number).state == "queued"


def test_a_stored_payload_that_cannot_be_decoded_burns_after_one_attempt(kitchen: Kitchen) -> None:
    ran: list[int] = []
    menu = Menu()
    menu.register("noop", lambda ctx: ran.append(ctx.order.id))
    t = kitchen.submit("noop")
    execute(kitchen, "UPDATE orders SET payload = ? WHERE id = ?", "[" * 50_000 + "]" * 50_000, t.number)
    worker = Worker(kitchen, "oven-1", menu)
    assert worker.tick() == "cooked", "the claim itself must never crash on a payload"
    info = kitchen.ticket(t.number)
    assert info.state == "burnt" and info.attempts == 1 and "not JSON" in (info.error or "")
    assert ran == [] and worker.tick() == "idle"
