"""What happened in the shop, as types: event kinds, refusal codes, ring moves, a reaper pass.

The protocol records these facts; only the faces (CLI, TUI, logs) turn them into sentences, with
``kitchen.core.words``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class EventKind(str, Enum):
    """Every kind of row in the events table."""

    JOIN = "join"
    LEAVE = "leave"
    DEAD = "dead"
    MOVED = "moved"
    REQUEUE = "requeue"
    RETRY = "retry"
    BURNT = "burnt"
    REFUSED = "refused"
    RELEASED = "released"
    STOLEN = "stolen"        # an oven whose own buckets had nothing took a ready order from another's bucket
    CANCELLED = "cancelled"  # a cancel ended the order (queued: at once; cooking: when its oven stopped it)


class RefusalCode(str, Enum):
    """Why a completion was refused by its fence."""

    RECOOKING = "recooking"          # the order was claimed again: another claim (fence) is cooking it
    ALREADY_DONE = "already_done"    # a later claim finished it
    TAKEN_BACK = "taken_back"        # requeued or burnt since this claim
    NO_SUCH_ORDER = "no_such_order"


class TakeBack(str, Enum):
    """Why an order left its oven without finishing."""

    OVEN_DIED = "oven_died"
    LEASE_EXPIRED = "lease_expired"
    OVEN_GONE = "oven_gone"          # its oven left or died while the claim was committing
    BY_HAND = "by_hand"              # `kitchen requeue`


@dataclass(frozen=True)
class Flow:
    """Buckets that moved from one previous owner (None: nobody) to new owners."""

    source: str | None
    targets: tuple[str | None, ...]
    count: int


@dataclass(frozen=True)
class RingMove:
    """One rebalance: the ring's new generation and where buckets went."""

    generation: int
    flows: tuple[Flow, ...]

    @property
    def buckets(self) -> int:
        return sum(f.count for f in self.flows)

    def to_data(self) -> dict[str, Any]:
        return {"generation": self.generation,
                "flows": [{"from": f.source, "to": list(f.targets), "count": f.count} for f in self.flows]}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> RingMove:
        flows = tuple(Flow(f.get("from"), tuple(f.get("to") or ()), int(f.get("count", 0)))
                      for f in data.get("flows") or ())
        return cls(int(data.get("generation", 0)), flows)


@dataclass
class ReapReport:
    """What one reaper pass did: ovens declared dead, orders requeued or burnt, the ring change."""

    dead: list[str] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    burnt: list[int] = field(default_factory=list)
    moved: RingMove | None = None

    def __bool__(self) -> bool:
        return bool(self.dead or self.requeued or self.burnt or self.moved)


@dataclass
class PurgeReport:
    """What a purge took (or, with ``dry_run``, would take): rows deleted, keys kept as tombstones, and the
    SQLite pages given back to the file system. ``more``: a batch was full, so more may be waiting."""

    done: int = 0
    burnt: int = 0
    ledger: int = 0
    refusals: int = 0
    events: int = 0
    tombstones: int = 0
    expired_keys: int = 0
    reclaimed_pages: int = 0
    dry_run: bool = False
    more: bool = False

    @property
    def orders(self) -> int:
        return self.done + self.burnt

    def add(self, other: PurgeReport) -> None:
        for name in ("done", "burnt", "ledger", "refusals", "events", "tombstones", "expired_keys",
                     "reclaimed_pages"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.more = other.more

    def __bool__(self) -> bool:
        return bool(self.orders or self.ledger or self.refusals or self.events or self.expired_keys
                    or self.reclaimed_pages)
