"""``kitchen run --ovens N`` forks its ovens (``oven_start = fork``, the default) or execs them (``exec``): either
way each oven is its own process that logs, restarts after a SIGKILL, drains on SIGTERM and dies with its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import children_of, wait_exited
from tests.support.shop import RECIPES, Shop
from tests.support.waiting import wait_for

pytestmark = pytest.mark.processes


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def alive(shop: Shop) -> dict[str, int]:
    return {o.name: o.pid for o in shop.status().ovens if o.state == "alive"}


@pytest.mark.parametrize("start", ["fork", "exec"])
def test_supervised_ovens_cook_log_restart_and_drain(tmp_path: Path, backend_url: str, start: str) -> None:
    shop = Shop(tmp_path, backend_url, oven_start=start)
    log = tmp_path / "supervisor.log"
    try:
        with log.open("wb") as out:
            sup = subprocess.Popen([sys.executable, "-m", "kitchen", "--config", str(shop.ini), "--db", shop.db,
                                    "run", "--ovens", "2", "--name", "sup", "--recipes", RECIPES],
                                   env=shop.env, stdout=out, stderr=out, start_new_session=True)
        shop.procs.append(sup)
        first = wait_for(lambda: a if set(a := alive(shop)) == {"sup-1", "sup-2"} else None, timeout=30,
                         what="both ovens joined")
        assert set(first.values()) == children_of(sup.pid), "the ovens are the supervisor's own children"
        for pid in first.values():
            argv = cmdline(pid)
            if start == "fork":
                assert argv == cmdline(sup.pid), "a forked oven runs the supervisor's program, no exec"
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
                assert comm in ("sup-1", "sup-2"), f"its process name is its oven's name, not {comm!r}"
            else:
                assert "--parent" in argv and str(sup.pid) in argv, argv

        os.kill(first["sup-1"], signal.SIGKILL)
        again = wait_for(lambda: a if (a := alive(shop)).get("sup-1") not in (None, first["sup-1"]) else None,
                         timeout=30, what="sup-1 restarted under a new pid")
        assert again["sup-2"] == first["sup-2"]

        tickets = shop.kitchen.submit_many([{"recipe": "slow", "payload": {"seconds": 0.05}} for _ in range(20)])
        wait_for(lambda: shop.status().orders.done == 20, timeout=30, what="the orders cooked")
        rows = shop.kitchen.ledger(100)
        assert sorted(r.order_id for r in rows) == sorted(t.number for t in tickets)

        os.kill(sup.pid, signal.SIGTERM)
        assert sup.wait(timeout=30) == 0
        wait_exited(set(again.values()), timeout=15, what="the ovens exited")
        last = {o.pid: o.state for o in shop.status().ovens if o.pid in again.values()}
        assert last == {pid: "left" for pid in again.values()}, "both left the ring on the way out"
        lines = log.read_text().splitlines()
        for name, pid in again.items():
            assert any(f"[{pid}]" in line and f"{name} joined" in line for line in lines), f"{name}'s own log line"
            assert any(f"[{pid}]" in line and f"{name} left the kitchen" in line for line in lines), lines[-10:]
        assert not [line for line in lines if "Traceback" in line or "ERROR" in line]
    finally:
        shop.close()


def test_a_forked_oven_logs_to_stderr_beside_a_handler_its_recipes_added(tmp_path: Path) -> None:
    """A recipe module that adds a root handler at import (its own log file) does not take the ovens' lines off
    stderr: an exec'd oven installs kitchen's writer before importing recipes, a forked one after."""
    shop = Shop(tmp_path)
    (tmp_path / "own_logging.py").write_text(
        "import logging\n"
        f"logging.getLogger().addHandler(logging.FileHandler({str(tmp_path / 'app.log')!r}))\n")
    env = {**shop.env, "PYTHONPATH": os.pathsep.join([str(tmp_path), shop.env.get("PYTHONPATH", "")])}
    try:
        done = subprocess.run([sys.executable, "-m", "kitchen", "--config", str(shop.ini), "--db", shop.db, "run",
                               "--ovens", "2", "--name", "sup", "--burst", "--recipes", "own_logging"],
                              env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        for name in ("sup-1", "sup-2"):
            assert f"{name} joined" in done.stderr and f"{name} left the kitchen" in done.stderr, done.stderr
        assert "joined" in (tmp_path / "app.log").read_text(), "the application's handler gets them too"
    finally:
        shop.close()
