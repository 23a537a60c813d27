"""A fake oven launcher: 'starting' an oven joins it in the database; signals are recorded, not sent."""

from __future__ import annotations

import signal

from kitchen.tui.launcher import HOST


class FakeLauncher:
    def __init__(self, kitchen, first_pid: int = 9001) -> None:
        self.kitchen = kitchen
        self.names: dict[int, str] = {}
        self.ovens: dict[str, object] = {}
        self.signals: list[tuple[str, str]] = []
        self.gone: set[int] = set()
        self._exited: list[tuple[str, int, int]] = []
        self._next = first_pid
        self.stopped = False

    def start(self, name: str) -> int:
        pid, self._next = self._next, self._next + 1
        self.ovens[name] = self.kitchen.join(name, host=HOST, pid=pid)
        self.names[pid] = name
        return pid

    def adopt(self, oven) -> None:
        """Count an oven joined by the test as one this launcher started."""
        self.names[oven.pid] = oven.name
        self.ovens[oven.name] = oven

    def owns(self, pid: int) -> bool:
        return pid in self.names and pid not in self.gone

    def signal(self, pid: int, sig: int) -> None:
        if not self.owns(pid):
            raise ProcessLookupError(pid)
        self.signals.append((self.names[pid], signal.Signals(sig).name))
        if sig == signal.SIGKILL:
            self.gone.add(pid)
            self._exited.append((self.names[pid], pid, -signal.SIGKILL))

    def reap(self) -> list[tuple[str, int, int]]:
        out, self._exited = self._exited, []
        return out

    def stop_all(self) -> None:
        self.stopped = True
