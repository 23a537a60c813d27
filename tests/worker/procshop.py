"""Helpers for real oven processes: a fast-heartbeat kitchen.ini, spawning and waiting with deadlines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from kitchen import Kitchen
from kitchen.core.views import OvenView, Snapshot
from kitchen.ovens.procs import spawn_oven

HERE = Path(__file__).parent

FAST = {"heartbeat_interval": 0.2, "heartbeat_timeout": 1.0, "reap_interval": 0.2, "lease": 30,
        "max_attempts": 3, "backoff_base": 0.05, "backoff_max": 0.2, "poll_interval": 0.2, "grace": 5, "speed": 20}


def wait_for(condition: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> object:
    """Poll until ``condition()`` is truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class Shop:
    """A kitchen on disk plus the oven processes a test starts; everything is killed at teardown."""

    def __init__(self, tmp: Path, database: str | None = None, **settings: object) -> None:
        self.tmp = tmp
        self.db = database or str(tmp / "kitchen.db")
        self.ini = tmp / "kitchen.ini"
        lines = [f"{k} = {v}" for k, v in {**FAST, **settings}.items()]
        self.ini.write_text("[kitchen]\n" + "\n".join(lines) + "\n")
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
        self.env.pop("KITCHEN_DB", None)
        self.env.pop("KITCHEN_CONFIG", None)
        self.procs: list[subprocess.Popen] = []
        self.kitchen = Kitchen.open(settings=self.settings())

    def settings(self):
        from kitchen.core.config import load_settings

        return load_settings(config=str(self.ini), database=self.db, env={})

    def oven(self, name: str, *extra: str, host: str | None = None) -> subprocess.Popen:
        env = {**self.env, "KITCHEN_HOST": host} if host else self.env
        proc = spawn_oven(name, database=self.db, config=str(self.ini),
                          extra=["--recipes", "kitchen_test_recipes", "--log-level", "debug", *extra],
                          log_path=str(self.tmp / f"{name}.log"), env=env)
        self.procs.append(proc)
        return proc

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "kitchen", "--config", str(self.ini), "--db", self.db, *args],
                              capture_output=True, text=True, timeout=timeout, env=self.env)

    def status(self) -> Snapshot:
        return self.kitchen.status()

    def oven_row(self, name: str) -> OvenView | None:
        rows = [o for o in self.status().ovens if o.name == name]
        return rows[-1] if rows else None

    def alive(self, name: str) -> bool:
        row = self.oven_row(name)
        return bool(row and row.state == "alive")

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                    p.kill()
                except ProcessLookupError:
                    pass
            p.wait(timeout=10)
        self.kitchen.close()


