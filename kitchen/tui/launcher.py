"""Oven processes the TUI starts, signals and stops — and which ovens it may signal at all.

Policy: the TUI signals an oven only when it is this TUI's own child (it holds the process handle, so a
recycled pid can never be hit), or when it runs on this host, the database still counts it alive and
``/proc/PID/cmdline`` shows a ``kitchen ... run`` process (an oven started in another terminal).
Ovens of other hosts are refused with a message: signal them where they run.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Protocol

from kitchen.core.errors import KitchenError
from kitchen.ovens.procs import spawn_oven

HOST = socket.gethostname()


class Launcher(Protocol):
    """What the app needs from whoever starts ovens (real processes, or fakes in tests)."""

    def start(self, name: str) -> int: ...

    def owns(self, pid: int) -> bool: ...

    def signal(self, pid: int, sig: int) -> None: ...

    def reap(self) -> list[tuple[str, int, int]]: ...

    def stop_all(self) -> None: ...


class ProcessLauncher:
    """Starts ``kitchen run`` children; on stop: SIGTERM (drain), SIGTERM again (release now), SIGKILL."""

    def __init__(self, database: str, config: str | None = None, log_dir: str | Path | None = None,
                 extra: tuple[str, ...] = ()) -> None:
        self.database = database
        self.config = config
        self.log_dir = Path(log_dir) if log_dir else None
        self.extra = extra
        self._procs: dict[int, tuple[str, subprocess.Popen]] = {}
        self._reported: set[int] = set()
        self._lock = threading.Lock()

    def start(self, name: str) -> int:
        log = str(self.log_dir / f"{name}.log") if self.log_dir else None
        proc = spawn_oven(name, database=self.database, config=self.config, extra=self.extra, log_path=log)
        with self._lock:
            self._procs[proc.pid] = (name, proc)
        return proc.pid

    def start_shop(self, name: str, ovens: int) -> int:
        """A second shop: one ``kitchen run --ovens N --name NAME`` supervisor process on the same database."""
        log = str(self.log_dir / f"{name}.log") if self.log_dir else None
        proc = spawn_oven(name, database=self.database, config=self.config,
                          extra=(*self.extra, "--ovens", str(ovens)), log_path=log)
        with self._lock:
            self._procs[proc.pid] = (name, proc)
        return proc.pid

    def pids(self) -> list[int]:
        with self._lock:
            return list(self._procs)

    def owns(self, pid: int) -> bool:
        with self._lock:
            entry = self._procs.get(pid)
        return entry is not None and entry[1].poll() is None

    def signal(self, pid: int, sig: int) -> None:
        with self._lock:
            entry = self._procs.get(pid)
        if entry is None or entry[1].poll() is not None:
            raise ProcessLookupError(pid)
        entry[1].send_signal(sig)

    def reap(self) -> list[tuple[str, int, int]]:
        """Collect children that exited since the last call: (name, pid, exit code)."""
        gone = []
        with self._lock:
            entries = list(self._procs.items())
        for pid, (name, proc) in entries:
            code = proc.poll()
            if code is not None and pid not in self._reported:
                self._reported.add(pid)
                gone.append((name, pid, code))
        return gone

    def stop_all(self, drain: float = 1.5, release: float = 1.5) -> None:
        """Stop every child still running; returns when none is left (SIGKILL as the last resort)."""
        with self._lock:
            procs = [p for _, p in self._procs.values()]
        for step, wait in ((signal.SIGTERM, drain), (signal.SIGTERM, release), (signal.SIGKILL, 5.0)):
            running = [p for p in procs if p.poll() is None]
            if not running:
                return
            for p in running:
                _send(p, step)
                if step != signal.SIGKILL:
                    _send(p, signal.SIGCONT)  # a frozen oven must wake up to hear SIGTERM
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and any(p.poll() is None for p in running):
                time.sleep(0.02)


def _send(proc: subprocess.Popen, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except (ProcessLookupError, OSError):
        pass


def refusal(launcher: Launcher, *, name: str, host: str, pid: int, db_state: str) -> str | None:
    """Why this oven may not be signalled from here, or None when it may."""
    if launcher.owns(pid):
        return None
    if host != HOST:
        return f"{name} runs on host {host}: signal it there (this TUI only signals ovens on {HOST})"
    if db_state != "alive":
        return f"{name} is {db_state} and not a process of this TUI: nothing to signal"
    if not _looks_like_oven(pid):
        return f"{name}: pid {pid} is not a running kitchen oven on this host"
    return None


def _looks_like_oven(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    words = [os.path.basename(a.decode(errors="replace")) for a in argv if a]
    return "run" in words and any("kitchen" in w for w in words)


def signal_pid(launcher: Launcher, pid: int, sig: int) -> None:
    """Signal one of our children through its handle, else (an allowed same-host oven) by pid."""
    if launcher.owns(pid):
        launcher.signal(pid, sig)
    else:
        os.kill(pid, sig)


class NoLauncher:
    """Stands in when no oven may be started or signalled (snapshot scenes)."""

    def start(self, name: str) -> int:
        raise KitchenError("this screen starts no ovens")

    def owns(self, pid: int) -> bool:
        return False

    def signal(self, pid: int, sig: int) -> None:
        raise ProcessLookupError(pid)

    def reap(self) -> list[tuple[str, int, int]]:
        return []

    def stop_all(self) -> None:
        pass


def exit_text(name: str, pid: int, code: int) -> str:
    if code < 0:
        try:
            return f"{name} (pid {pid}) ended by {signal.Signals(-code).name}"
        except ValueError:
            pass
    return f"{name} (pid {pid}) exited with code {code}"
