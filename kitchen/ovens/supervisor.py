"""``kitchen run --ovens N``: a supervisor process that starts N oven processes and restarts crashed ones.

How a child starts is the caller's (``procs.fork_oven``, the default, or ``procs.spawn_oven``); the supervisor
only watches pids.

Children learn the supervisor's pid and leave when it is gone, so killing the supervisor (even with
SIGKILL) leaves no orphan ovens. Signals are forwarded: the first drains every oven, the second stops now.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Sequence

from kitchen.core.clock import pause

from .procs import Child

log = logging.getLogger("kitchen.supervisor")
RESTART_DELAY = 0.5


class Supervisor:
    def __init__(self, names: Sequence[str], start: Callable[[str], Child], *, restart: bool = True,
                 burst: bool = False) -> None:
        """``start(name)`` starts one oven process (``procs.fork_oven`` or ``procs.spawn_oven``)."""
        self.names = list(names)
        self.start = start
        self.restart = restart and not burst
        self.burst = burst
        self.children: dict[str, Child] = {}
        self.signals = 0
        self._forwarded = 0

    def _start(self, name: str) -> None:
        self.children[name] = self.start(name)
        log.info("started %s (pid %d)", name, self.children[name].pid)

    def _on_signal(self, signum: int, frame: object) -> None:
        self.signals += 1

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        for name in self.names:
            self._start(name)
        failed = False
        pending: dict[str, float] = {}
        while self.children or pending:
            if self.signals > self._forwarded:
                self._forwarded = self.signals
                pending.clear()
                for child in self.children.values():
                    _signal(child, signal.SIGTERM)
            for name, child in list(self.children.items()):
                code = child.poll()
                if code is None:
                    continue
                del self.children[name]
                if code != 0:
                    how = f"signal {-code}" if code < 0 else f"code {code}"
                    log.warning("%s (pid %d) exited with %s", name, child.pid, how)
                    failed = failed or (self.burst and code != 0)
                    if self.restart and not self.signals:
                        pending[name] = time.monotonic() + RESTART_DELAY
            for name, when in list(pending.items()):
                if time.monotonic() >= when and not self.signals:
                    del pending[name]
                    self._start(name)
            pause(0.05)
        return 1 if failed else 0


def _signal(child: Child, sig: int) -> None:
    try:
        os.kill(child.pid, sig)
    except ProcessLookupError:
        pass
