"""The whole tour with real oven processes and the space bar alone: every step is done by the tour and then
detected from the kitchen's own events, in well under the issue's ten minutes, on both engines."""

from __future__ import annotations

import time

import pytest

from kitchen.core.config import Settings
from kitchen.tui import create_app
from kitchen.tui.panes.events import EventLog
from kitchen.tui.panes.tour import TourPane
from kitchen.tui.runner import open_shop, tour_settings
from kitchen.tui.tour import TourStart
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.processes, pytest.mark.slow]

STEP_TIMEOUT = 40.0  # seconds one step may take on a loaded machine (most take one to five)


async def test_walk_the_whole_tour_with_the_space_bar(tmp_path, backend_url):
    """On SQLite (the tour's own temporary file) and on PostgreSQL (a fresh database)."""
    settings, ini = tour_settings(Settings(), tmp_path)
    settings = settings.with_overrides(database=backend_url)
    with open_shop(settings, ini) as shop:
        app = create_app(shop.kitchen, settings, launcher=shop.launcher, since=shop.since, found=shop.found,
                         tour=TourStart(), refresh_every=0.2)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_until(pilot, lambda: sum(c.db_state == "alive" and c.ours for c in app.cards) == 3,
                             timeout=30, what="the tour's three ovens")
            started = time.monotonic()
            tour = app.tour
            assert tour is not None
            seen = []
            while not tour.over:
                where = (tour.index, tour.step)
                await pilot.press("space")  # the tour does it
                assert (tour.index, tour.step) == where and tour.acting, \
                    f"scene {where[0] + 1} step {where[1] + 1} was over before its space: {tour.facts}"
                try:
                    await wait_until(pilot, lambda: tour.step_done, timeout=STEP_TIMEOUT,
                                     what=f"scene {where[0] + 1} step {where[1] + 1} detected")
                except AssertionError as exc:
                    log = "\n".join(text for _, _, text in app.query_one(EventLog).lines[-20:])
                    raise AssertionError(f"{exc}; the event log ended with:\n{log}") from None
                seen.append((tour.scene.id, app.query_one(TourPane).card.done))
                await pilot.press("space")  # next
            elapsed = time.monotonic() - started
            assert [s for s, _ in seen] == ["async", "persistence", "assignment", "balance", "recovery", "door",
                                            "fence", "retries", "retries", "scaling"]
            assert all(done and "?" not in done for _, done in seen), seen
            assert "refused" in dict(seen)["fence"] and "only its own" in dict(seen)["recovery"]
            assert elapsed < 600, f"the tour took {elapsed:.0f}s"
            print(f"\nkeys-only walk of the tour: {elapsed:.1f}s")
