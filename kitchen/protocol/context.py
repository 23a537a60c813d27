"""What every transaction body is given: the store's statements, the settings, and how to record events."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kitchen.core.config import Settings
from kitchen.core.events import EventKind
from kitchen.store import Statements, Store


@dataclass(frozen=True)
class Ctx:
    """One open kitchen's fixed facts, shared by its facades and transaction bodies.

    ``st`` and the notifications are the store's own, bound once here: the oven loop reads them every
    transaction, and a property or a forwarding method would be one more call each time.
    """

    store: Store
    settings: Settings
    buckets: int
    st: Statements = field(init=False)
    # Wake idle ovens when this transaction commits.
    notify: Callable[[Any], None] = field(init=False)
    # Wake those waiting for results (``Ticket.result``) when this transaction commits.
    notify_finished: Callable[[Any], None] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "st", self.store.st)
        object.__setattr__(self, "notify", self.store.dialect.notify)
        object.__setattr__(self, "notify_finished", self.store.dialect.notify_finished)

    def record(self, cur: Any, now: float, kind: EventKind, oven: str | None, order_id: int | None,
               **data: Any) -> None:
        """Append an event inside the caller's transaction: its facts as JSON, never a sentence."""
        cur.execute(self.st.event, {"now": now, "kind": kind.value, "oven": oven, "order": order_id,
                                    "data": json.dumps(data, separators=(",", ":"), default=str)})
