"""The real `kitchen` command in a pseudo-terminal: its ovens start, and however the screen ends — SIGTERM,
SIGHUP, q, or SIGKILL — no oven process is left behind. A bad database fails before anything starts."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys

import pytest

from kitchen import Kitchen
from kitchen.core.config import Settings
from kitchen.core.errors import DatabaseError
from kitchen.tui import run
from tests.support.processes import child_env, running
from tests.support.waiting import wait_for

pytestmark = pytest.mark.processes

INI = """
[kitchen]
heartbeat_interval = 0.25
heartbeat_timeout = 1.5
reap_interval = 0.25
grace = 0.5
ovens = 2
"""


class Screen:
    """``kitchen`` running in a pty of 120x40; the test reads the database, not the screen."""

    def __init__(self, tmp_path) -> None:
        ini = tmp_path / "kitchen.ini"
        ini.write_text(INI)
        self.db = str(tmp_path / "kitchen.db")
        master, slave = pty.openpty()
        os.set_blocking(master, False)
        env = child_env(TERM="xterm-256color", COLUMNS="120", LINES="40")
        self.proc = subprocess.Popen([sys.executable, "-m", "kitchen", "--config", str(ini), "--db", self.db],
                                     stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.master = master

    def drain(self) -> None:
        try:
            while os.read(self.master, 65536):
                pass
        except (BlockingIOError, OSError):
            pass

    def oven_pids(self) -> list[int]:
        self.drain()
        if not os.path.exists(self.db):
            return []
        try:
            with Kitchen.open(self.db) as k:
                return [o.pid for o in k.status().ovens if o.state == "alive"]
        except DatabaseError:
            return []

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP", "q", "SIGKILL"])
def test_no_orphan_ovens_however_the_screen_ends(tmp_path, how):
    screen = Screen(tmp_path)
    try:
        pids: list[int] = []

        def started() -> bool:
            pids[:] = screen.oven_pids()
            return len(pids) == 2

        wait_for(started, 30, "two ovens alive")
        if how == "q":
            os.write(screen.master, b"q")
        else:
            screen.proc.send_signal(getattr(signal, how))
        wait_for(lambda: (screen.drain(), screen.proc.poll())[1] is not None, 15, "the screen to exit")
        if how != "SIGKILL":
            assert screen.proc.returncode == 0
        wait_for(lambda: not any(running(p) for p in pids), 15, f"ovens {pids} to exit")
    finally:
        screen.close()


def test_a_database_that_cannot_be_opened_fails_before_any_oven_starts(tmp_path):
    settings = Settings(database=str(tmp_path / "missing" / "k.db"))
    with pytest.raises(DatabaseError, match="does not exist"):
        run(settings, None)
    out = subprocess.run([sys.executable, "-m", "kitchen", "--db", str(tmp_path / "missing" / "k.db"), "tui"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "does not exist" in out.stderr
