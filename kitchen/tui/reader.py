"""Reading the shop for the screen: one ShopView per refresh, built off the UI thread.

Everything here is a short indexed read (primary keys, the per-bucket tally, the partial index of
cooking orders), so a refresh costs the same with a hundred orders or a million. No Textual here:
the reader runs in a worker thread and its result is posted to the app as a message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kitchen.core.events import EventKind
from kitchen.core.views import EventRow, LedgerRow, RecentOrder, RefusalRow, Snapshot

if TYPE_CHECKING:
    from kitchen.protocol import Kitchen

THROUGHPUT_WINDOW = 60  # seconds shown by the sparkline, one bar per second
THROUGHPUT_CAP = 5000  # newest ledger rows looked at; beyond ~80 orders/s the oldest bars undercount
LEDGER_ROWS = 24
RECENT_ORDERS = 12
EVENT_BATCH = 2000  # events since the last refresh, at most: a burst of retries or steals must not hide the
# dead oven or the bucket move that the tour is waiting for (the events pane keeps only its newest lines)


@dataclass
class ShopView:
    """What one refresh saw: the status snapshot plus the listings the panes show."""

    now: float
    status: Snapshot
    ledger: list[LedgerRow]
    refusals: list[RefusalRow]
    events: list[EventRow]
    recent: list[RecentOrder]
    throughput: list[float]
    last_move: EventRow | None
    read_ms: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def last_event_id(self) -> int:
        return self.events[-1].id if self.events else 0


def read_shop(k: Kitchen, after_event: int = 0) -> ShopView:
    """Read everything a refresh needs; ``after_event`` is the newest event id already on screen."""
    started = time.perf_counter()
    status = k.status()
    now = status.now
    view = ShopView(
        now=now,
        status=status,
        ledger=k.ledger(LEDGER_ROWS),
        refusals=k.refusals(LEDGER_ROWS),
        events=k.events(after=after_event, limit=EVENT_BATCH),
        recent=k.recent_orders(RECENT_ORDERS),
        throughput=throughput(k, now),
        last_move=last_move(k),
    )
    view.read_ms = (time.perf_counter() - started) * 1000
    return view


def throughput(k: Kitchen, now: float, window: int = THROUGHPUT_WINDOW) -> list[float]:
    """Completions per second over the last ``window`` seconds, oldest first (from the ledger's times)."""
    since = now - window
    bars = [0.0] * window
    for at in k.completion_times(THROUGHPUT_CAP):
        if since <= at:
            bars[min(window - 1, int(at - since))] += 1
    return bars


def last_move(k: Kitchen) -> EventRow | None:
    """The newest 'moved' event (the ring's latest change, as facts), or None."""
    return k.last_event(EventKind.MOVED)
