"""Real oven processes: a kitchen on disk with fast heartbeats, and every process a test starts on it.

``Shop(tmp_path)`` writes a kitchen.ini (heartbeats every 0.2 s, dead after 1 s), opens the kitchen in the
test's process, and starts ovens (``shop.oven("a")``), supervisors (``shop.supervisor(...)``) or CLI commands
(``shop.cli(...)``) as children that load ``tests.support.recipes``. ``close()`` kills whatever is left.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kitchen import Kitchen
from kitchen.core.config import Settings, load_settings
from kitchen.core.views import OvenView, Snapshot
from kitchen.ovens.procs import spawn_oven
from tests.support.processes import child_env, end

RECIPES = "tests.support.recipes"
FAST = {"heartbeat_interval": 0.2, "heartbeat_timeout": 1.0, "reap_interval": 0.2, "lease": 30,
        "max_attempts": 3, "backoff_base": 0.05, "backoff_max": 0.2, "poll_interval": 0.2, "grace": 5, "speed": 20}


class Shop:
    """A kitchen on disk plus the oven processes a test starts; everything is killed at teardown."""

    def __init__(self, tmp: Path, database: str | None = None, **settings: object) -> None:
        self.tmp = tmp
        self.db = database or str(tmp / "kitchen.db")
        self.ini = tmp / "kitchen.ini"
        lines = [f"{k} = {v}" for k, v in {**FAST, **settings}.items()]
        self.ini.write_text("[kitchen]\n" + "\n".join(lines) + "\n")
        self.env = child_env()
        self.procs: list[subprocess.Popen] = []
        self.kitchen = Kitchen.open(settings=self.settings())

    def settings(self) -> Settings:
        return load_settings(config=str(self.ini), database=self.db, env={})

    def oven(self, name: str, *extra: str, host: str | None = None) -> subprocess.Popen:
        """One ``kitchen oven`` process, logging at debug level to ``<tmp>/<name>.log``."""
        env = {**self.env, "KITCHEN_HOST": host} if host else self.env
        proc = spawn_oven(name, database=self.db, config=str(self.ini),
                          extra=["--recipes", RECIPES, "--log-level", "debug", *extra],
                          log_path=str(self.tmp / f"{name}.log"), env=env)
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        """What oven ``name`` has logged so far."""
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def supervisor(self, *args: str, new_session: bool = False) -> subprocess.Popen:
        """``kitchen run ARGS --recipes tests.support.recipes`` (a supervisor and its ovens), output discarded."""
        proc = subprocess.Popen([sys.executable, "-m", "kitchen", "--config", str(self.ini), "--db", self.db, "run",
                                 *args, "--recipes", RECIPES], env=self.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=new_session)
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
        """Whether oven ``name`` is alive in the database (not: whether its process runs)."""
        row = self.oven_row(name)
        return bool(row and row.state == "alive")

    def close(self) -> None:
        for p in self.procs:
            end(p)
        self.kitchen.close()
