"""Recipes: Python callables registered by name. Only registered names ever run.

A recipe name read from the database is looked up in the menu, never imported: a stored order cannot make
an oven run anything but a recipe this oven registered at start (built-ins, or modules named in
kitchen.ini ``recipes`` / ``--recipes``).
"""

from __future__ import annotations

import importlib
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kitchen.core.errors import ConfigError
from kitchen.core.orders import Order, check_recipe_name


class Interrupted(Exception):
    """Raised inside a recipe's cooperative wait when the oven must stop now."""


class Burnt(Exception):
    """A bake went wrong on purpose (burn_rate); the order is retried or burnt like any failure."""


@dataclass
class Cooking:
    """What a recipe receives: its order, and ways to report progress and notice a hard stop."""

    order: Order
    speed: float = 1.0
    stop: threading.Event = field(default_factory=threading.Event)
    progress_value: int = 0
    on_progress: Callable[[int], None] | None = None  # the work horse sends progress to its oven

    @property
    def payload(self) -> dict[str, Any]:
        return self.order.payload or {}  # never None here: the oven burns an undecodable payload first

    @property
    def attempt(self) -> int:
        return self.order.attempt

    @property
    def token(self) -> str:
        """Idempotency token (order id + fence): unique per claim, stable for side effects."""
        return self.order.idempotency_token

    def progress(self, percent: int) -> None:
        """Report 0-100; the next heartbeat persists it for the TUI."""
        self.progress_value = max(0, min(100, int(percent)))
        if self.on_progress is not None:
            self.on_progress(self.progress_value)

    def wait(self, seconds: float) -> None:
        """Sleep, but return early with Interrupted if the oven is told to stop now."""
        if self.stop.wait(max(0.0, seconds)):
            raise Interrupted("stopped while cooking")


Recipe = Callable[[Cooking], Any]


@dataclass(frozen=True)
class RecipeOptions:
    """How a recipe is cooked.

    ``isolated``: in a child process the oven supervises (RQ's work horse, Celery's prefork), so a recipe
    that holds the GIL, blocks in C or never returns cannot starve the oven's heartbeat, and its timeout or
    a stop kills only that child. ``timeout``: seconds one attempt may run; overrun fails the attempt (an
    isolated recipe loses its child; an in-process one takes its oven down with it, to be restarted).
    """

    isolated: bool = False
    timeout: float | None = None
    every: str | None = None  # periodic orders: see kitchen.ovens.periodic
    cron: str | None = None


class Menu:
    """Name -> recipe (and its options). Ovens share one menu per process."""

    def __init__(self) -> None:
        self._recipes: dict[str, Recipe] = {}
        self._options: dict[str, RecipeOptions] = {}

    def register(self, name: str, fn: Recipe, *, isolated: bool = False, timeout: float | None = None,
                 every: str | None = None, cron: str | None = None) -> Recipe:
        check_recipe_name(name)
        if timeout is not None and not (isinstance(timeout, (int, float)) and 0 < timeout < float("inf")):
            raise ConfigError(f"recipe {name}: timeout must be a positive number of seconds, not {timeout!r}")
        self._recipes[name] = fn
        self._options[name] = RecipeOptions(isolated, None if timeout is None else float(timeout), every, cron)
        return fn

    def recipe(self, name: str | None = None, *, isolated: bool = False, timeout: float | None = None,
               every: str | None = None, cron: str | None = None) -> Callable[[Recipe], Recipe]:
        """Decorator: ``@menu.recipe("calzone")`` (defaults to the function's name)."""
        def deco(fn: Recipe) -> Recipe:
            return self.register(name or fn.__name__, fn, isolated=isolated, timeout=timeout, every=every,
                                 cron=cron)
        return deco

    def get(self, name: str) -> Recipe | None:
        return self._recipes.get(name)

    def options(self, name: str) -> RecipeOptions:
        return self._options.get(name, RecipeOptions())

    def names(self) -> list[str]:
        return sorted(self._recipes)

    def __contains__(self, name: str) -> bool:
        return name in self._recipes


menu = Menu()


def recipe(name: str | Recipe | None = None, *, isolated: bool = False,
           timeout: float | None = None, every: str | None = None, cron: str | None = None) -> Any:
    """Register a user recipe on the process-wide menu: ``@recipe``, ``@recipe("soup")`` or
    ``@recipe(isolated=True, timeout=30)``; ``every="5m"`` or ``cron="0 3 * * *"`` also orders it on a schedule."""
    if callable(name):
        return menu.recipe(None)(name)
    return menu.recipe(name, isolated=isolated, timeout=timeout, every=every, cron=cron)


def bake(seconds: float, burn_rate: float, rng: random.Random) -> Recipe:
    """A built-in pizza: bakes for ``seconds`` / speed, reporting progress, sometimes burning."""
    def cook(ctx: Cooking) -> dict[str, Any]:
        total = seconds / ctx.speed
        steps = max(1, min(20, int(total / 0.1)))
        started = time.monotonic()
        for i in range(1, steps + 1):
            ctx.wait(started + total * i / steps - time.monotonic())
            ctx.progress(100 * i // steps)
        if burn_rate and rng.random() < burn_rate:
            raise Burnt("burnt the crust")
        return {"baked_seconds": round(total, 3), "slices": int(ctx.payload.get("slices", 8))
                if isinstance(ctx.payload.get("slices", 8), int) else 8}
    return cook


def build_menu(bake_times: Mapping[str, float], burn_rate: float = 0.0, modules: Iterable[str] = (),
               base: Menu | None = None) -> Menu:
    """The menu an oven cooks from: built-in pizzas, ``noop``, then user recipe modules."""
    out = Menu()
    rng = random.Random()
    for name, seconds in bake_times.items():
        out.register(name, bake(seconds, burn_rate, rng))
    out.register("noop", lambda ctx: None)
    modules = list(modules)
    if modules and os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # `kitchen run --recipes tasks` finds ./tasks.py, as Celery and RQ do
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:
            raise ConfigError(f"cannot import recipe module {module!r}: {exc.__class__.__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    source = base or menu
    for name in source.names():
        fn = source.get(name)
        if fn is not None:
            opts = source.options(name)
            out.register(name, fn, isolated=opts.isolated, timeout=opts.timeout, every=opts.every, cron=opts.cron)
    return out
