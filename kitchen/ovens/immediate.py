"""Cooking without ovens, for a user's tests: ``Kitchen.cook_all()`` cooks what is queued, here and now.

Like huey's immediate mode, but through the real protocol: a short-lived oven incarnation joins, claims,
cooks with the same failure policy, completes under the fence and leaves, all on the calling thread (no
heartbeat or watchdog threads, so a recipe's ``timeout`` is enforced here only for ``async def`` recipes). A
failed order is retried at once, without backoff, until it succeeds or burns: a test sees the final state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitchen.core import recipes as known_recipes

from .recipes import Menu, build_menu

if TYPE_CHECKING:
    from kitchen.protocol import Kitchen


def cook_all(kitchen: Kitchen, menu: Menu | None = None, name: str = "cook-all") -> int:
    """Cook every ready order this process has a recipe for (built-in pizzas, ``noop`` and every ``@recipe``)
    until none is ready; returns how many were cooked (completed)."""
    from .worker import Worker  # the oven loop and its scheduler are loaded only when a test cooks

    worker = Worker(kitchen, name, menu or build_menu(kitchen.settings.menu), retry_at_once=True)
    try:
        while worker.tick() == "cooked":
            pass
    finally:
        worker.close()
    return worker.cooked


def provide() -> None:
    """Make ``Kitchen.cook_all`` cook through this module (``import kitchen`` does it)."""
    known_recipes.provide_cooker(cook_all)
