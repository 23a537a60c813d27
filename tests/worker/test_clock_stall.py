"""Liveness that never lies: a wall clock stepped ±60 s (one oven, or every oven of the host) and a writer
stopped inside its transaction for longer than ``heartbeat_timeout`` cause no false death and no re-cook.

Clock steps are real: libfaketime (LD_PRELOAD) moves the stepped processes' wall clock — ``time.time``,
``datetime.now``, APScheduler's planning — mid-run, while CLOCK_MONOTONIC and CLOCK_BOOTTIME keep going.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.capabilities import require
from tests.support.shop import Shop
from tests.support.waiting import wait_for

pytestmark = pytest.mark.processes

FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
ORDERS = 24


def faketime_env(shop: Shop, stepfile: Path) -> dict[str, str]:
    stepfile.write_text("+0s\n")
    return {**shop.env, "LD_PRELOAD": FAKETIME, "FAKETIME_TIMESTAMP_FILE": str(stepfile),
            "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_NO_CACHE": "1"}


def assert_cooked_once_and_nobody_died(shop: Shop) -> None:
    snap = shop.status()
    dead = [e for e in shop.kitchen.events(limit=10_000) if e.kind == "dead"]
    assert dead == [], f"false deaths: {dead}"
    assert snap.orders.done == ORDERS and snap.ledger.refused_completions == 0
    attempts = {o.id: shop.kitchen.ticket(o.id).attempts for o in shop.kitchen.recent_orders(ORDERS)}
    assert set(attempts.values()) == {1}, f"cooked more than once: {attempts}"


@pytest.mark.parametrize("step,stepped", [("+60s", "one"), ("-60s", "one"), ("+60s", "all"), ("-60s", "all")])
def test_a_stepped_wall_clock_kills_no_oven(tmp_path, backend_url: str, step: str, stepped: str) -> None:
    require(None if os.path.exists(FAKETIME) else "libfaketime is not installed (apt-get install libfaketime)",
            "the clock-step test")
    # heartbeat_timeout 3 s: far below the ±60 s steps, and far above a busy CI machine's scheduling hiccups
    shop = Shop(tmp_path, backend_url, heartbeat_timeout=3)
    try:
        stepfile = tmp_path / "faketime"
        fake = faketime_env(shop, stepfile)
        plain = shop.env
        for name in ("a", "b", "c"):
            shop.env = fake if stepped == "all" or name == "a" else plain
            shop.oven(name)
        shop.env = plain
        wait_for(lambda: all(shop.alive(n) for n in "abc"), 30, "three ovens")
        shop.kitchen.submit_many([{"recipe": "slow", "payload": {"seconds": 0.3}, "customer": f"c{i}"}
                                  for i in range(ORDERS)])
        wait_for(lambda: shop.status().orders.done >= 3, 30, "cooking under way")
        stepfile.write_text(f"{step}\n")
        wait_for(lambda: shop.status().orders.done == ORDERS, 60, "every order")
        assert all(shop.alive(n) for n in "abc")
        assert_cooked_once_and_nobody_died(shop)
    finally:
        shop.close()


HOLDER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")
con.execute("INSERT INTO kitchen_meta (key, value) VALUES ('held-by-test', '1')")
print("locked", flush=True)
sys.stdin.readline()
con.execute("ROLLBACK")
print("released", flush=True)
"""


def test_a_writer_stopped_inside_its_transaction_kills_no_oven(tmp_path) -> None:
    """Ctrl-Z on a producer holding SQLite's write lock for 3 s (heartbeat_timeout is 1 s): heartbeats could
    not be written meanwhile, and afterwards no reaper judges anyone until every oven had a fresh chance."""
    shop = Shop(tmp_path)
    holder = None
    try:
        for name in ("a", "b", "c"):
            shop.oven(name)
        wait_for(lambda: all(shop.alive(n) for n in "abc"), 30, "three ovens")
        shop.kitchen.submit_many([{"recipe": "slow", "payload": {"seconds": 0.3}, "customer": f"c{i}"}
                                  for i in range(ORDERS)])
        wait_for(lambda: shop.status().orders.done >= 3, 30, "cooking under way")
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, shop.db], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "locked"
        holder.send_signal(signal.SIGSTOP)
        time.sleep(3.0)  # the fault itself: a stalled writer, three heartbeat timeouts long
        holder.send_signal(signal.SIGCONT)
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "released"
        wait_for(lambda: shop.status().orders.done == ORDERS, 60, "every order")
        assert_cooked_once_and_nobody_died(shop)
    finally:
        if holder is not None and holder.poll() is None:
            holder.kill()
        shop.close()
