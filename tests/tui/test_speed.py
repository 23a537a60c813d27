"""With 100k orders in the database a refresh stays cheap and the UI thread never stalls a keypress.

The measure is the UI thread's own CPU time between two wake-ups of a probe that asks to wake every 5 ms
while live refreshes run and keys are pressed: if the loop never works 100 ms without coming back, a
keypress always gets its turn within 100 ms. (CPU time, not wall time, so a busy test machine does not
count against the screen.)
"""

from __future__ import annotations

import asyncio
import gc
import time

import pytest

from kitchen import Kitchen
from kitchen.tui import create_app
from kitchen.tui.reader import read_shop
from tests.support.waiting import wait_until
from tests.tui.fakes import FakeLauncher
from tests.tui.helpers import settled

pytestmark = pytest.mark.slow


def seed(k: Kitchen, orders: int, cooked: int) -> None:
    for start in range(0, orders, 20_000):
        k.submit_many([{"recipe": "margherita", "customer": f"c{i}"} for i in range(start, start + 20_000)])
    ovens = [k.join(f"oven-{i}", pid=9000 + i) for i in (1, 2, 3)]
    for oven in ovens:
        for order in oven.claim_many(cooked // 3):
            oven.complete(order)


async def test_keypress_and_refresh_with_100k_orders(tmp_path):
    k = Kitchen.open(str(tmp_path / "big.db"))
    seed(k, 100_000, 6_000)
    reads = [read_shop(k).read_ms for _ in range(3)]
    assert min(reads) < 100, reads
    app = create_app(k, live=True, refresh_every=0.25, launcher=FakeLauncher(k))
    lateness: list[float] = []
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot)
        stop = asyncio.Event()

        async def probe() -> None:
            while not stop.is_set():
                asked = time.thread_time()
                await asyncio.sleep(0.005)
                lateness.append(time.thread_time() - asked)

        collections: list[tuple[int, float]] = []

        def on_gc(phase, info):
            if phase == "start":
                on_gc.started = time.thread_time()
            else:
                collections.append((info["generation"], time.thread_time() - on_gc.started))

        gc.callbacks.append(on_gc)
        gc.collect()
        gc.freeze()  # the test worker's own heap (earlier tests) is not the screen's: keep its GC out of it
        task = asyncio.create_task(probe())
        reads_before = app.reads
        for key, slot in (("2", 2), ("3", 3), ("1", 1), ("2", 2)):
            await pilot.press(key)
            assert app.selected == slot
        await pilot.press("r")
        await wait_until(pilot, lambda: app.view.status.orders.submitted == 100_010, what="the rush")
        await wait_until(pilot, lambda: app.reads >= reads_before + 4, what="four live refreshes")
        stop.set()
        await task
        gc.callbacks.remove(on_gc)
        gc.unfreeze()
    k.close()
    worst_gc = max((t for _, t in collections), default=0.0)
    assert max(lateness) < 0.1, (f"the UI thread stalled {max(lateness) * 1000:.0f} ms (worst gc "
                                 f"{worst_gc * 1000:.0f} ms, {len(collections)} gcs, {gc.get_count()}, "
                                 f"objects {len(gc.get_objects())})")
