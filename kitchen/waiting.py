"""How an idle oven waits: cheaply, but waking within milliseconds of a new order.

SQLite: poll ``PRAGMA data_version`` (it changes when another connection commits) every few ms; it costs
microseconds, so an idle oven stays far below 2% of a core. PostgreSQL: LISTEN on a channel that every
submit, requeue and bucket move NOTIFYs at commit, so ovens on other machines wake at once; if the
listening connection drops, the oven falls back to polling and listens again next time.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from .engine import Kitchen

STEP = 0.004
CHANNEL = "kitchen_orders"
log = logging.getLogger("kitchen.oven")


class Waiter:
    def __init__(self, kitchen: Kitchen) -> None:
        self.kitchen = kitchen
        self.sqlite = kitchen.backend.dialect == "sqlite"
        self._listener: Any = None

    def _version(self) -> int:
        """The connection's data_version; -1 if it cannot be read (then the caller just looks again)."""
        try:
            return self.kitchen.backend.db.connection().execute("PRAGMA data_version").fetchone()[0]
        except Exception:
            return -1

    def wait(self, timeout: float, interrupted: Callable[[], bool]) -> None:
        """Return when the database changed, ``timeout`` passed, or ``interrupted()`` became true."""
        deadline = time.monotonic() + timeout
        if not self.sqlite:
            self._listen_until(deadline, interrupted)
            return
        start = self._version()
        if start == -1:
            time.sleep(STEP)
            return
        while not interrupted() and time.monotonic() < deadline:
            time.sleep(STEP)
            if self._version() != start:
                return

    def _listen_until(self, deadline: float, interrupted: Callable[[], bool]) -> None:
        while not interrupted() and time.monotonic() < deadline:
            conn = self._listen()
            if conn is None:
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
                continue
            try:
                for _ in conn.notifies(timeout=min(0.05, max(0.001, deadline - time.monotonic())), stop_after=1):
                    return
            except Exception as exc:
                log.warning("LISTEN connection lost (%s); polling until it is back", str(exc).splitlines()[0])
                self.close()

    def _listen(self) -> Any:
        if self._listener is None:
            import psycopg

            target = self.kitchen.backend.target
            options = f"-c search_path={target.schema}" if target.schema else None
            try:
                self._listener = psycopg.connect(target.location, autocommit=True, connect_timeout=5,
                                                 **({"options": options} if options else {}))
                self._listener.execute(f"LISTEN {CHANNEL}")
            except Exception:
                self._listener = None
        return self._listener

    def close(self) -> None:
        """Drop the LISTEN connection (PostgreSQL); a no-op for SQLite."""
        if self._listener is not None:
            try:
                self._listener.close()
            except Exception:
                pass
            self._listener = None
