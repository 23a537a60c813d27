"""``kitchen`` / ``kitchen tui``: open the shop, start its ovens and the reaper, run the screen, clean up.

Cleanup is in ``finally``: quitting, SIGTERM/SIGHUP (handled by the app) or a crash all stop the ovens this
process started. Were this process SIGKILLed instead, the ovens notice their parent is gone and leave.
"""

from __future__ import annotations

import logging
import sys
import tempfile

from apscheduler.schedulers.background import BackgroundScheduler

from kitchen.config import Settings
from kitchen.engine import Kitchen

from .app import create_app
from .launcher import ProcessLauncher
from .present import next_oven_name

log = logging.getLogger("kitchen.tui")


def run(settings: Settings, config_path: str | None = None) -> int:
    """Run the shop; database and config errors raise KitchenError before the screen opens."""
    kitchen = Kitchen.open(settings=settings)
    since = kitchen.clock()
    launcher = ProcessLauncher(settings.database, config_path, tempfile.mkdtemp(prefix="kitchen-ovens-"))
    scheduler = BackgroundScheduler(daemon=True)
    scheduler.add_job(_reap, "interval", args=[kitchen], seconds=settings.reap_interval, id="reaper",
                      max_instances=1, coalesce=True)
    try:
        taken = {o["name"] for o in kitchen.status()["ovens"] if o["state"] == "alive"}
        names = []
        for _ in range(settings.ovens):
            names.append(next_oven_name(taken | set(names)))
            launcher.start(names[-1])
        scheduler.start()
        app = create_app(kitchen, settings, launcher=launcher, since=since, handle_signals=True)
        app.started.update(names)
        app.run()
        return app.return_code or 0
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        if launcher.pids():
            print(f"stopping the {len(launcher.pids())} ovens this kitchen started ...", file=sys.stderr)
        launcher.stop_all()
        kitchen.close()


def _reap(kitchen: Kitchen) -> None:
    """The TUI's own reaper pass: recovery works even when only the TUI and its ovens run."""
    try:
        kitchen.reap()
    except Exception as exc:  # never let a reaper error print over the screen; the next pass retries
        log.debug("reap failed: %s", exc)
