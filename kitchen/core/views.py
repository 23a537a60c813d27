"""What the shop's reads return, as types: the status snapshot, a ticket, ledger and refusal rows, events,
recent and burnt orders.

Facts only, never prose: a refusal carries its ``RefusalCode``, an event its ``EventKind`` and JSON facts;
the faces (CLI, TUI, logs) make sentences from them with ``kitchen.core.words``. Field names are the keys
of the dicts these reads used to return, so ``dataclasses.asdict`` gives the same JSON (the CLI's
``--json``), except where a row now keeps facts instead of a sentence (``RefusalRow``, ``EventRow``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .events import EventKind, RefusalCode

WAITING_COUNT_CAP = 10_000  # status looks this far into the queue for stuck recipes: a refresh never reads it all


@dataclass(frozen=True)
class OrderCounts:
    """Orders per state, and every order ever created (duplicates not counted)."""

    queued: int
    cooking: int
    done: int
    burnt: int
    submitted: int
    cancelled: int = 0


@dataclass(frozen=True)
class LedgerTotals:
    """Accepted completions, submits absorbed by an existing key, completions refused by the fence."""

    completions: int
    duplicate_submissions: int
    refused_completions: int


@dataclass(frozen=True)
class HeldOrder:
    """An order an oven holds: on an oven with several slots (``kitchen run --concurrency N``), one per busy slot."""

    ticket: int
    recipe: str
    progress: int


@dataclass(frozen=True)
class OvenView:
    """One oven incarnation as the snapshot saw it. ``state`` is 'alive', 'dead' or 'left'; ``buckets``
    are the buckets it owns (none unless alive); ``cooking`` every order it holds, ``current_order`` the first;
    ``menu`` the recipe names it cooks (None: any recipe); ``current_from`` the oven whose bucket the current
    order is in, when that is another oven's (this one took it: a steal); ``held`` every order it holds, with
    its recipe and progress (what each slot cooks)."""

    id: int
    name: str
    host: str
    pid: int
    state: str
    heartbeat_age: float
    buckets: list[int]
    current_order: int | None
    current_recipe: str | None
    progress: int | None
    cooking: list[int]
    cooked: int
    joined_at: float
    died_at: float | None
    menu: list[str] | None = None
    current_from: str | None = None
    held: list[HeldOrder] = field(default_factory=list)


@dataclass(frozen=True)
class BucketView:
    """One bucket of the ring: its owner (id and name), the previous owner's name, when it last moved."""

    bucket: int
    oven_id: int | None
    oven: str | None
    prev_oven: str | None
    generation: int
    moved_at: float | None


@dataclass(frozen=True)
class ScheduleView:
    """A periodic recipe as the ovens last fired it: its rule, the slot of its latest order, the next slot."""

    recipe: str
    rule: str
    last_slot: float
    next_slot: float


@dataclass(frozen=True)
class Snapshot:
    """The whole shop from one consistent read (``Kitchen.status()``). ``no_oven_can_cook``: recipe -> queued
    orders of it, for each recipe on no live oven's menu (counted among the next ``WAITING_COUNT_CAP``); empty while
    no oven is alive or one cooks anything."""

    database: str
    now: float
    orders: OrderCounts
    ovens: list[OvenView]
    buckets: list[BucketView]
    bucket_count: int
    ring_generation: int
    ledger: LedgerTotals
    requeued: int
    retried: int
    heartbeat_timeout: float
    no_oven_can_cook: dict[str, int] = field(default_factory=dict)
    schedule: list[ScheduleView] = field(default_factory=list)


@dataclass(frozen=True)
class TicketView:
    """Where one order is (``Kitchen.ticket()``); ``payload`` is None when the stored one is not JSON;
    ``started_at`` is when its latest claim began (None if never claimed), so lane order can be checked;
    ``traceback`` is the last failure's (None when it had none, or a later attempt succeeded)."""

    ticket: int
    state: str
    recipe: str
    customer: str | None
    key: str | None
    priority: int
    bucket: int
    attempts: int
    fence: int
    oven: str | None
    progress: int | None
    payload: dict[str, Any] | None
    result: Any
    error: str | None
    created_at: float
    run_at: float | None
    finished_at: float | None
    started_at: float | None = None
    traceback: str | None = None

    @property
    def finished(self) -> bool:
        """Done, burnt or cancelled: it will not change again (unless a burnt one is requeued by hand)."""
        return self.state in ("done", "burnt", "cancelled")


@dataclass(frozen=True)
class LedgerRow:
    """One accepted completion."""

    id: int
    order_id: int
    oven_id: int
    oven_name: str
    fence: int
    at: float


@dataclass(frozen=True)
class RefusalRow:
    """One refused (late or zombie) completion: why, as a code, and what the order was at the time.

    ``code`` is None only for a row whose code could not be read (schema v1 rows are given one when the
    database is upgraded); ``legacy_reason`` is the sentence such old rows were written with ('' since v2).
    """

    id: int
    order_id: int
    oven_id: int
    oven_name: str
    fence: int
    at: float
    code: RefusalCode | None
    current_fence: int | None
    order_state: str | None
    legacy_reason: str = ""


@dataclass(frozen=True)
class EventRow:
    """One row of the event log: its kind and its facts (``data``, the JSON the protocol wrote).

    Rows written by schema v1 have no facts (``data`` is None) but a sentence, ``legacy_detail``. ``kind``
    is a plain string only for a kind this release does not know.
    """

    id: int
    at: float
    kind: EventKind | str
    oven_name: str | None
    order_id: int | None
    data: dict[str, Any] | None
    legacy_detail: str = ""


@dataclass(frozen=True)
class RecentOrder:
    """One of the newest orders, for the order list."""

    id: int
    recipe: str
    customer: str | None
    state: str
    attempt: int
    bucket: int
    progress: int | None
    priority: int
    error: str | None


@dataclass(frozen=True)
class BurntOrder:
    """A dead-lettered order."""

    id: int
    recipe: str
    customer: str | None
    attempt: int
    error: str | None
    finished_at: float | None
