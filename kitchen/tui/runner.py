"""``kitchen`` / ``kitchen tui``: open the shop, start its ovens and the reaper, run the screen, clean up.

Cleanup is in ``finally``: quitting, SIGTERM/SIGHUP (handled by the app) or a crash all stop the ovens this
process started. Were this process SIGKILLed instead, the ovens notice their parent is gone and leave.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from kitchen.core.config import Settings, load_settings
from kitchen.ovens.jobs import add_reaper, make_scheduler
from kitchen.protocol import Kitchen

from .counter import reopened
from .launcher import ProcessLauncher
from .present import next_oven_name
from .tour import TourStart

log = logging.getLogger("kitchen.tui")


@dataclass
class Shop:
    """An open kitchen with the ovens this process started and its reaper running."""

    kitchen: Kitchen
    launcher: ProcessLauncher
    since: float
    started: list[str] = field(default_factory=list)
    found: str = ""  # what opening the database found (persistence on screen)


@contextmanager
def open_shop(settings: Settings, config_path: str | None = None, ovens: int | None = None) -> Iterator[Shop]:
    """Open the database (errors raise here, before any process starts), start ovens and the reaper;
    on exit stop them all."""
    kitchen = Kitchen.open(settings=settings)
    launcher = ProcessLauncher(settings.database, config_path, tempfile.mkdtemp(prefix="kitchen-ovens-"))
    if not logging.getLogger().handlers:  # the reaper's warnings must never print over the screen
        logging.getLogger("kitchen").addHandler(logging.NullHandler())
    scheduler = make_scheduler()
    add_reaper(scheduler, kitchen)
    shop = Shop(kitchen, launcher, kitchen.clock())
    try:
        shop.found = reopened(kitchen)
        taken = {o.name for o in kitchen.status().ovens if o.state == "alive"}
        for _ in range(settings.ovens if ovens is None else ovens):
            shop.started.append(next_oven_name(taken | set(shop.started)))
            launcher.start(shop.started[-1])
        scheduler.start()
        yield shop
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        launcher.stop_all()
        kitchen.close()


def run(settings: Settings, config_path: str | None = None, tour: TourStart | None = None) -> int:
    """Run the shop on screen until quit; returns the exit code."""
    from .app import create_app

    with open_shop(settings, config_path) as shop:
        app = create_app(shop.kitchen, settings, launcher=shop.launcher, since=shop.since, handle_signals=True,
                         found=shop.found, tour=tour)
        app.started.update(shop.started)
        try:
            app.run()
        finally:
            if any(shop.launcher.owns(pid) for pid in shop.launcher.pids()):
                print("stopping the ovens this kitchen started ...", file=sys.stderr)
        return app.return_code or 0


TOUR_INI = """# kitchen tour: quick heartbeats and few attempts, so every scene happens in seconds
[kitchen]
heartbeat_interval = 0.5
heartbeat_timeout = 2.0
reap_interval = 0.5
poll_interval = 0.2
speed = 2
grace = 1.0
max_attempts = 3
backoff_base = 0.5
backoff_max = 4
ovens = 3
"""


def tour_settings(settings: Settings, directory: str | Path) -> tuple[Settings, str]:
    """The tour's own kitchen: a fresh database and a kitchen.ini (the ovens read it) in ``directory``."""
    ini = Path(directory) / "kitchen.ini"
    menu = "".join(f"{name} = {seconds:g}\n" for name, seconds in settings.menu.items())
    ini.write_text(f"{TOUR_INI}\n[menu]\n{menu}", encoding="utf-8")
    return load_settings(config=str(ini), database=str(Path(directory) / "kitchen.db"), env={}), str(ini)


def run_tour(settings: Settings) -> int:
    """``kitchen tour``: the guided tour on a kitchen of its own, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="kitchen-tour-") as directory:
        tour, ini = tour_settings(settings, directory)
        return run(tour, ini, TourStart())
