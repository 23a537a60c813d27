"""Seeded scenes for every step of the guided tour: the kitchen just after the step happened.

Each builder drives the engine on a frozen clock (see scenes.py) up to the moment the step begins, marks
it (``mark``: the status and newest event the tour measures from), then does what the step asks. The
screen opens in the tour at that step, and its first refresh must detect it from the events — so these
scenes test detection as well as the picture.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kitchen.core.hashing import bucket_for

from . import counter
from .scenes import HOST, Scene, calzone_then_quick_ones, empty, open_scene, rush
from .tour import TourStart


def mark(s: Scene, index: int, step: int = 0, **notes: Any) -> None:
    """The tour's step ``index`` (0-based) begins now."""
    events = s.kitchen.events(after=0, limit=100_000)
    s.tour = TourStart(index, step, s.kitchen.status(), events[-1].id if events else 0, dict(notes))


def until_cooking(s: Scene, name: str) -> None:
    for _ in range(20):
        if name in s.cooking:
            return
        s.cook(1)
    raise RuntimeError(f"{name} never got an order in this scene")


def async_orders(directory: str | Path) -> Scene:
    s = empty(directory)
    mark(s, 0)
    counter.rush(s.kitchen, random.Random(21), sorted(s.kitchen.settings.menu))
    s.cook(1)
    return s


def persistence(directory: str | Path) -> Scene:
    s = empty(directory)
    counter.rush(s.kitchen, random.Random(22), sorted(s.kitchen.settings.menu))
    s.cook(1)
    mark(s, 1)
    counter.rush(s.kitchen, random.Random(23), sorted(s.kitchen.settings.menu))
    for oven in s.ovens.values():
        s.clock.advance(0.2)
        oven.leave()
    s.cooking.clear()
    return s


def assignment(directory: str | Path) -> Scene:
    s = empty(directory)
    mark(s, 2)
    counter.take_order(s.kitchen, "margherita", "grace", None, 0)
    s.clock.advance(0.5)
    bucket = bucket_for("grace", s.kitchen.buckets)
    owner = next(b.oven for b in s.kitchen.status().buckets if b.bucket == bucket)
    oven = s.ovens[str(owner)]
    order = oven.claim()  # the owner looks first: its own bucket has the order
    assert order is not None
    s.cooking[oven.name] = (order, s.clock())
    oven.heartbeat(progress=0, order=order)
    s.cook(1)
    return s


def balance(directory: str | Path) -> Scene:
    s = open_scene(directory)
    for i in (1, 2):
        s.join(f"oven-{i}", 4100 + i)
        s.clock.advance(0.5)
    s.cook(1)
    mark(s, 3)
    calzone_then_quick_ones(s)
    assert s.tour is not None
    s.tour.notes["tickets"] = [o.id for o in s.kitchen.recent_orders(5)]  # as the tour's action notes them
    return s


def _killed(s: Scene, victim: str, index: int) -> None:
    until_cooking(s, victim)
    mark(s, index)
    s.cook(6, silent=(victim,))
    s.kitchen.reap()
    s.cook(1, silent=(victim,))


def recovery(directory: str | Path) -> Scene:
    s = rush(directory)
    _killed(s, "oven-2", 4)
    return s


def door(directory: str | Path) -> Scene:
    s = empty(directory)
    mark(s, 5)
    counter.take_order(s.kitchen, "margherita", "ada", "table-4", 0)
    s.clock.advance(0.5)
    counter.take_order(s.kitchen, "margherita", "ada", "table-4", 0)
    s.cook(1)
    return s


def fence(directory: str | Path) -> Scene:
    s = rush(directory)
    _killed(s, "oven-2", 6)
    stale, _ = s.cooking.pop("oven-2")
    for _ in range(12):
        if s.kitchen.ticket(stale.id).state == "done":
            break
        s.cook(1, silent=("oven-2",))
    s.clock.advance(0.5)
    s.ovens["oven-2"].complete(stale, {"pizza": stale.recipe, "by": "oven-2"})
    return s


def _charcoal(directory: str | Path) -> tuple[Scene, int]:
    s = open_scene(directory, max_attempts=3, backoff_base=1.0)
    for i in (1, 2, 3):
        s.join(f"oven-{i}", 4100 + i)
        s.clock.advance(0.5)
    s.cook(2)
    mark(s, 7)
    ticket = s.kitchen.submit("charcoal", {"size": "M"}, customer="linus").number
    assert s.tour is not None
    s.tour.notes["ticket"] = ticket
    for _ in range(12):
        if s.kitchen.ticket(ticket).state == "burnt":
            break
        s.cook(1)
    return s, ticket


def retries(directory: str | Path) -> Scene:
    s, _ = _charcoal(directory)
    s.cook(1)
    return s


def requeued(directory: str | Path) -> Scene:
    s, ticket = _charcoal(directory)
    s.cook(1)
    mark(s, 7, 1, ticket=ticket)
    s.clock.advance(0.5)
    s.kitchen.requeue([ticket])
    return s


def scaling(directory: str | Path) -> Scene:
    s = empty(directory)
    counter.rush(s.kitchen, random.Random(29), sorted(s.kitchen.settings.menu))
    s.cook(2)
    mark(s, 8, shop="annex")
    s.join("oven-4", 4104)
    s.clock.advance(0.5)
    for i in (1, 2):
        s.ovens[f"annex-{i}"] = s.kitchen.join(f"annex-{i}", host=f"{HOST}-annex", pid=5200 + i, seed=i)
        s.clock.advance(0.5)
    counter.rush(s.kitchen, random.Random(30), sorted(s.kitchen.settings.menu), count=20)
    s.cook(3)
    return s


TOUR_SCENES: dict[str, Callable[[str | Path], Scene]] = {
    "1-async": async_orders, "2-persistence": persistence, "3-assignment": assignment, "4-balance": balance,
    "5-recovery": recovery, "6-door": door, "7-fence": fence, "8-retries": retries, "8-requeued": requeued,
    "9-scaling": scaling}
