"""What one refresh reads: every event since the last one on screen, even in a burst."""

from __future__ import annotations

from kitchen import FrozenClock, Kitchen
from kitchen.core.events import EventKind
from kitchen.tui.reader import read_shop


def test_a_refresh_sees_every_event_of_a_burst(tmp_path) -> None:
    """100 failures and then a death between two refreshes: the tour's detectors see them all, the death too."""
    clock = FrozenClock()
    k = Kitchen.open(str(tmp_path / "k.db"), clock=clock, heartbeat_timeout=5.0)
    try:
        seen = read_shop(k).last_event_id
        k.submit_many([{"recipe": "margherita"} for _ in range(100)])
        oven = k.join("oven-1")
        for order in oven.claim_many(100):
            oven.fail(order, "RuntimeError: burst")
        clock.advance(10)
        k.reap()
        view = read_shop(k, after_event=seen)
        kinds = [e.kind for e in view.events]
        assert kinds.count(EventKind.RETRY) == 100 and EventKind.DEAD in kinds
        assert view.events[0].id == seen + 1, "from the first event after the last one on screen"
        assert [e.id for e in view.events] == sorted(e.id for e in view.events), "oldest first"
    finally:
        k.close()
