"""How an idle oven waits: cheaply, but waking within milliseconds of a new order.

SQLite: poll ``PRAGMA data_version`` (it changes when another connection commits) every few ms; it costs
microseconds, so an idle oven stays far below 2% of a core. Other backends: plain polling.
"""

from __future__ import annotations

import time
from typing import Callable

from .engine import Kitchen

STEP = 0.004


class Waiter:
    def __init__(self, kitchen: Kitchen) -> None:
        self.kitchen = kitchen
        self.sqlite = kitchen.backend.dialect == "sqlite"

    def _version(self) -> int:
        cur = self.kitchen.backend.db.connection().execute("PRAGMA data_version")
        return cur.fetchone()[0]

    def wait(self, timeout: float, interrupted: Callable[[], bool]) -> None:
        """Return when the database changed, ``timeout`` passed, or ``interrupted()`` became true."""
        deadline = time.monotonic() + timeout
        if not self.sqlite:
            while time.monotonic() < deadline and not interrupted():
                time.sleep(min(0.05, timeout))
            return
        start = self._version()
        while not interrupted() and time.monotonic() < deadline:
            time.sleep(STEP)
            if self._version() != start:
                return
