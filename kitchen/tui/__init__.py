"""The kitchen on screen (Textual). The only part of the project that imports Textual.

``run(settings, config_path)`` is what ``kitchen`` and ``kitchen tui`` call; ``create_app`` is the factory
shared by ``run`` and the tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kitchen.core.config import Settings
    from kitchen.protocol import Kitchen

    from .app import KitchenApp


def create_app(kitchen: Kitchen, settings: Settings | None = None, **options: Any) -> KitchenApp:
    """Build the app on an open kitchen (options: live, launcher, label, since, refresh_every, seed...)."""
    from .app import create_app as factory

    return factory(kitchen, settings, **options)


def run(settings: Settings, config_path: str | None = None) -> int:
    """Open the shop on ``settings.database``, start ``settings.ovens`` ovens, run the screen; exit code."""
    from .runner import run as run_shop

    return run_shop(settings, config_path)


def run_tour(settings: Settings) -> int:
    """``kitchen tour``: the guided tour in a fresh kitchen (temporary database, quick heartbeats)."""
    from .runner import run_tour as tour_shop

    return tour_shop(settings)


__all__ = ["create_app", "run", "run_tour"]
