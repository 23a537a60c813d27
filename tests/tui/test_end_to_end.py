"""End to end with real oven processes: kill one from the keyboard and watch the screen show the recovery.

Deadlines, not sleeps: every wait is for a condition on screen, bounded by what the issue promises
(dead, requeued and moved within heartbeat_timeout + 1 s of the kill).
"""

from __future__ import annotations

import time

import pytest

from kitchen.core.config import load_settings
from kitchen.tui import create_app
from kitchen.tui.panes.events import EventLog
from kitchen.tui.runner import open_shop
from tests.support.processes import wait_exited
from tests.support.waiting import wait_until

pytestmark = pytest.mark.processes

TIMEOUT = 1.5
INI = f"""
[kitchen]
heartbeat_interval = 0.25
heartbeat_timeout = {TIMEOUT}
reap_interval = 0.25
poll_interval = 0.1
speed = 3
grace = 1.0
ovens = 3
"""


async def test_kill_a_real_oven_and_see_it_recovered(tmp_path):
    ini = tmp_path / "kitchen.ini"
    ini.write_text(INI)
    settings = load_settings(config=str(ini), database=str(tmp_path / "kitchen.db"), env={})
    with open_shop(settings, str(ini)) as shop:
        pids = shop.launcher.pids()
        app = create_app(shop.kitchen, settings, launcher=shop.launcher, since=shop.since, refresh_every=0.2)

        def card(name):
            return next((c for c in app.cards if c.name == name), None)

        def log() -> str:
            return "\n".join(text for _, _, text in app.query_one(EventLog).lines)

        async with app.run_test(size=(160, 48)) as pilot:
            await wait_until(pilot, lambda: sum(c.db_state == "alive" and c.ours for c in app.cards) == 3,
                             timeout=30, what="three ovens started by this screen")
            assert [c.name for c in app.cards] == ["oven-1", "oven-2", "oven-3"]

            for _ in range(5):  # rush until oven-2 has something in its buckets
                await pilot.press("r")
                try:
                    await wait_until(pilot, lambda: card("oven-2").state == "cooking", timeout=4,
                                     what="oven-2 cooking")
                    break
                except AssertionError:
                    continue
            victim = card("oven-2")
            assert victim.state == "cooking"
            generation = app.view.status.ring_generation
            await pilot.press("2", "k")
            killed = time.monotonic()

            def recovered() -> bool:
                c = card("oven-2")
                return (c.state == "dead" and c.buckets == 0
                        and app.view.status.ring_generation > generation
                        and "oven-2 missed heartbeats" in log()
                        and "back in the queue: oven died" in log()
                        and "buckets oven-2 -> " in log())

            await wait_until(pilot, recovered, timeout=TIMEOUT + 1.0, what="oven-2 dead, requeued, moved")
            assert time.monotonic() - killed <= TIMEOUT + 1.0
            assert f"oven-2 (pid {victim.pid}) ended by SIGKILL" in log()
            assert all(c.buckets > 0 for c in app.cards if c.name != "oven-2")
            order = victim.current_order
            await wait_until(pilot, lambda: shop.kitchen.ticket(order).state == "done", timeout=20,
                             what=f"order {order} cooked by another oven")
            assert shop.kitchen.ticket(order).oven in ("oven-1", "oven-3")
    wait_exited(pids, 10, "the oven processes to exit with the screen")


async def test_freeze_past_death_then_thaw_shows_the_refused_completion(tmp_path):
    ini = tmp_path / "kitchen.ini"
    ini.write_text(INI.replace("speed = 3", "speed = 2"))
    settings = load_settings(config=str(ini), database=str(tmp_path / "kitchen.db"), env={})
    with open_shop(settings, str(ini), ovens=2) as shop:
        app = create_app(shop.kitchen, settings, launcher=shop.launcher, since=shop.since, refresh_every=0.2)

        def card(name):
            return next((c for c in app.cards if c.name == name), None)

        async with app.run_test(size=(160, 48)) as pilot:
            await wait_until(pilot, lambda: sum(c.db_state == "alive" and c.ours for c in app.cards) == 2,
                             timeout=30, what="two ovens")
            for _ in range(5):
                await pilot.press("r")
                try:
                    await wait_until(pilot, lambda: card("oven-2").state == "cooking", timeout=4,
                                     what="oven-2 cooking")
                    break
                except AssertionError:
                    continue
            await pilot.press("2", "f")
            await wait_until(pilot, lambda: card("oven-2").state == "frozen", timeout=2, what="oven-2 frozen")
            await wait_until(pilot, lambda: card("oven-2").db_state == "dead", timeout=TIMEOUT + 1.0,
                             what="frozen oven-2 declared dead")
            assert card("oven-2").frozen
            await pilot.press("f")  # thaw: the zombie finishes its stale claim, the fence refuses it
            await wait_until(pilot, lambda: any(r.oven_name == "oven-2" for r in app.view.refusals),
                             timeout=20, what="oven-2's late completion refused in the ledger")
            assert app.view.status.ledger.refused_completions >= 1
