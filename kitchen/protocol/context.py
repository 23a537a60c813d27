"""What every transaction body is given: the store's statements, the settings, and how to record events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kitchen.core.config import Settings
from kitchen.core.events import EventKind
from kitchen.store import Statements, Store


@dataclass(frozen=True)
class Ctx:
    """One open kitchen's fixed facts, shared by its facades and transaction bodies."""

    store: Store
    settings: Settings
    buckets: int

    @property
    def st(self) -> Statements:
        return self.store.st

    def record(self, cur: Any, now: float, kind: EventKind, oven: str | None, order_id: int | None,
               **data: Any) -> None:
        """Append an event inside the caller's transaction: its facts as JSON, never a sentence."""
        cur.execute(self.store.st.event, {"now": now, "kind": kind.value, "oven": oven, "order": order_id,
                                          "data": json.dumps(data, separators=(",", ":"), default=str)})

    def notify(self, cur: Any) -> None:
        """Wake idle ovens when this transaction commits."""
        self.store.dialect.notify(cur)

    def notify_finished(self, cur: Any) -> None:
        """Wake those waiting for results (``Ticket.result``) when this transaction commits."""
        self.store.dialect.notify_finished(cur)
