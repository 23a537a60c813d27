"""Deterministic scenes for snapshot tests and the screenshots in README: a frozen clock, seeded orders,
fake ovens driven step by step through the real engine (no processes, no sleeping).

Each builder returns a Scene whose kitchen is exactly in the state the picture shows; ``scene.app()``
opens the screen on it with live refresh paused.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kitchen.core.clock import FrozenClock
from kitchen.core.hashing import bucket_for
from kitchen.core.orders import Order
from kitchen.protocol import Kitchen, Oven

from . import counter
from .tour import TourStart

START = 1_767_258_000.0  # 2026-01-01 09:00:00 UTC: the shop opens
HOST = "counter"
LABEL = "data/kitchen.db"
SPEED = 3.0  # bake seconds are divided by this in scenes, so a few frozen seconds cook something


@dataclass
class Scene:
    """A kitchen on a frozen clock with its fake ovens (name -> Oven) and what each is cooking."""

    kitchen: Kitchen
    clock: FrozenClock
    ovens: dict[str, Oven] = field(default_factory=dict)
    cooking: dict[str, tuple[Order, float]] = field(default_factory=dict)
    tour: TourStart | None = None  # open the screen in the guided tour, at this step

    def app(self, **options):
        """The screen on this scene: live refresh paused, a fixed label, no oven processes."""
        from .app import create_app

        options.setdefault("live", False)
        options.setdefault("label", LABEL)
        options.setdefault("seed", 7)
        options.setdefault("tour", self.tour)
        return create_app(self.kitchen, **options)

    def join(self, name: str, pid: int) -> Oven:
        self.ovens[name] = self.kitchen.join(name, host=HOST, pid=pid, seed=pid)
        return self.ovens[name]

    def cook(self, seconds: int, *, silent: tuple[str, ...] = ()) -> None:
        """Advance the clock second by second; every oven not ``silent`` beats, finishes and claims."""
        menu = self.kitchen.settings.menu
        for _ in range(seconds):
            now = self.clock.advance(1.0)
            for name, oven in self.ovens.items():
                if name in silent or not oven.alive():
                    continue
                current = self.cooking.get(name)
                if current is not None:
                    order, started = current
                    bake = menu.get(order.recipe, 5.0) / SPEED
                    if order.recipe == "charcoal":  # the built-in that always burns
                        oven.fail(order, "burnt to charcoal")
                        self.cooking.pop(name)
                        current = None
                    elif now - started >= bake:
                        oven.complete(order, {"pizza": order.recipe, "by": name})
                        current = self.cooking.pop(name)
                        current = None
                    else:
                        oven.heartbeat(progress=min(99, int(100 * (now - started) / bake)), order=order)
                        continue
                claimed = oven.claim()
                if claimed is not None:
                    self.cooking[name] = (claimed, now)
                    oven.heartbeat(progress=0, order=claimed)
                else:
                    oven.heartbeat()


def open_scene(directory: str | Path, **settings: Any) -> Scene:
    clock = FrozenClock(START)
    k = Kitchen.open(str(Path(directory) / "kitchen.db"), clock=clock, heartbeat_timeout=5.0,
                     heartbeat_interval=1.0, lease=30.0, buckets=64, **settings)
    return Scene(k, clock)


def empty(directory: str | Path) -> Scene:
    """The shop just opened: three idle ovens sharing the ring, no orders."""
    s = open_scene(directory)
    for i in (1, 2, 3):
        s.join(f"oven-{i}", 4100 + i)
        s.clock.advance(0.5)
    s.cook(2)
    return s


def rush(directory: str | Path) -> Scene:
    """Two rushes, a repeated order absorbed by its key, ovens cooking for a while."""
    s = empty(directory)
    menu = sorted(s.kitchen.settings.menu)
    counter.rush(s.kitchen, random.Random(11), menu)
    counter.take_order(s.kitchen, "margherita", "ada", "ada-table-4", 1)
    s.cook(6)
    counter.rush(s.kitchen, random.Random(12), menu)
    counter.take_order(s.kitchen, "margherita", "ada", "ada-table-4", 1)
    s.cook(5)
    return s


def killed(directory: str | Path, victim: str = "oven-2") -> Scene:
    """``victim`` is SIGKILLed mid-bake: silent past the timeout, the reaper declares it dead, requeues its
    order and moves only its buckets."""
    s = rush(directory)
    _until_cooking(s, victim)
    s.cook(6, silent=(victim,))
    s.kitchen.reap()
    s.cook(1, silent=(victim,))
    return s


def refused(directory: str | Path, zombie: str = "oven-2") -> Scene:
    """``zombie`` was frozen, not killed: after its death and the re-cook, it thaws and finishes its stale
    claim. The fence refuses it; the ledger shows it."""
    s = killed(directory, zombie)
    stale, _ = s.cooking.pop(zombie)
    for _ in range(12):
        if s.kitchen.ticket(stale.id).state == "done":
            break
        s.cook(1, silent=(zombie,))
    s.clock.advance(0.5)
    s.ovens[zombie].complete(stale, {"pizza": stale.recipe, "by": zombie})
    return s


def stolen(directory: str | Path) -> Scene:
    """Owner first, then steal: a long calzone and four quick pizzas, all in oven-1's buckets. oven-1 bakes
    the calzone; oven-2, whose own buckets are empty, takes the pizzas waiting behind it one by one."""
    s = open_scene(directory)
    for i in (1, 2):
        s.join(f"oven-{i}", 4100 + i)
        s.clock.advance(0.5)
    s.cook(1)
    return calzone_then_quick_ones(s)


def calzone_then_quick_ones(s: Scene) -> Scene:
    """A long calzone and four quick pizzas, all for customers in oven-1's buckets, then three cook steps: the
    owner bakes the calzone, the other oven steals the pizzas (the stolen scene and the tour's balance step)."""
    owner = s.ovens["oven-1"].id
    owned = {b.bucket for b in s.kitchen.status().buckets if b.oven_id == owner}
    names = [c for c in counter.CUSTOMERS if bucket_for(c, s.kitchen.buckets) in owned][:5]
    counter.take_order(s.kitchen, "calzone", names[0], None, 0)
    for name in names[1:]:
        counter.take_order(s.kitchen, "margherita", name, None, 0)
    s.cook(3)
    return s


def slots(directory: str | Path) -> Scene:
    """``kitchen run --concurrency 4`` beside two plain ovens: oven-1 cooks four orders at once, one per slot,
    each with its own progress (one heartbeat carries them all); ada's lane still cooks one order at a time."""
    s = open_scene(directory)
    for i in (1, 2, 3):
        s.join(f"oven-{i}", 4100 + i)
        s.clock.advance(0.5)
    s.cook(1)
    for _ in range(3):
        counter.take_order(s.kitchen, "calzone", "ada", None, 0)
    for name, recipe in zip(counter.CUSTOMERS[1:9], ["quattro_formaggi", "calzone", "pepperoni", "hawaiian"] * 2):
        counter.take_order(s.kitchen, recipe, name, None, 0)
    wide, menu = s.ovens["oven-1"], s.kitchen.settings.menu
    busy: list[tuple[Order, float]] = []
    for _ in range(4):
        s.cook(1, silent=("oven-1",))
        now = s.clock()
        claimed = wide.claim()  # each slot claims for itself, under the one incarnation
        if claimed is not None:
            busy.append((claimed, now))
        wide.heartbeat(orders=[(o, min(99, int(100 * (now - t) / (menu.get(o.recipe, 5.0) / SPEED))))
                               for o, t in busy])
    return s


def _until_cooking(s: Scene, name: str) -> None:
    for _ in range(20):
        if name in s.cooking:
            return
        s.cook(1)
    raise RuntimeError(f"{name} never got an order in this scene")


SCENES: dict[str, Callable[[str | Path], Scene]] = {
    "empty": empty, "rush": rush, "killed": killed, "refused": refused, "stolen": stolen, "slots": slots}
