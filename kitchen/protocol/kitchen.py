"""The Kitchen facade: the order taker's counter, oven registration, the reaper, and the shop's state.

Producers, ovens, the CLI and the TUI all go through this one object; the transactions themselves live in
``submit``, ``cooking``, ``reaper`` and ``reads`` beside it.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable, Mapping
from typing import Any

from kitchen.core import recipes as known_recipes
from kitchen.core.clock import Clock, system_clock
from kitchen.core.config import Settings, load_settings
from kitchen.core.errors import BadOrder, OrderBurnt, OrderCancelled, UnknownTicket
from kitchen.core.events import EventKind, PurgeReport, ReapReport
from kitchen.core.orders import NewOrder, Ticket, check_oven_name, validate
from kitchen.core.views import BurntOrder, EventRow, LedgerRow, RecentOrder, RefusalRow, Snapshot, TicketView
from kitchen.store import RERUN, ChangeWaiter, Store, ensure_schema

from . import cancel, cooking, periodic, reads, reaper, retention, settle
from .context import Ctx
from .oven import Oven, menu_json
from .submit import insert_many, prepare_many

RESULT_RECHECK = 5.0  # seconds a result wait re-reads the ticket even without a wake-up (a lost notification)
FOLD_BATCHES = 10  # tally inbox batches a reaper pass folds at most


class Kitchen:
    """One shop over one database. Thread-safe: each thread gets its own connection.

    ``store`` is the layer below, for tests and tools that need raw SQL; applications never need it.
    """

    def __init__(self, store: Store, settings: Settings, clock: Clock | None = None) -> None:
        self.store = store
        self.settings = settings
        store.connect()
        # A write that waited this long may have held back heartbeats long enough to look like a death
        # (see Store.stalled_recently); a shorter wait cannot make any heartbeat older than the timeout.
        store.slow_write = max(settings.heartbeat_interval,
                               settings.heartbeat_timeout - 2 * settings.heartbeat_interval)
        self.buckets = ensure_schema(store, settings.buckets, (clock or system_clock)())
        # The clock that judges heartbeats, leases and retry times: injected (tests), else the engine's
        # shared one (SQLite: this machine's boot clock; PostgreSQL: the server's), never a process's wall clock.
        self.clock: Clock = clock or store.dialect.shared_clock(store) or system_clock
        self._own_clock = clock is None  # a clock the caller passed in is the caller's to close
        self._ctx = Ctx(store, settings, self.buckets)

    @classmethod
    def open(cls, url: str | None = None, *, clock: Clock | None = None, settings: Settings | None = None,
             **overrides: Any) -> Kitchen:
        """Open (creating or upgrading if needed) the kitchen at ``url``; keywords are any ``[kitchen]`` setting.

        With neither ``url`` nor ``settings``, the settings are resolved as the CLI resolves them: keywords, then
        KITCHEN_DB / KITCHEN_CONFIG, then ./kitchen.ini, then the defaults.
        """
        if url is None and settings is None:
            return cls.open(settings=load_settings(**overrides), clock=clock)
        base = settings or Settings()
        if url is not None:
            overrides["database"] = url
        resolved = base.with_overrides(**overrides) if overrides else base.validated()
        store = Store(resolved.database, resolved.durability, resolved.busy_timeout)
        try:
            return cls(store, resolved, clock)
        except BaseException:
            store.shut()
            raise

    @property
    def label(self) -> str:
        """The database, as shown to people (no password)."""
        return self.store.label

    def close(self) -> None:
        self.store.shut()
        close_clock = getattr(self.clock, "close", None)  # PostgreSQL's server clock reads on a connection of its own
        if self._own_clock and close_clock is not None:
            close_clock()

    def release_thread(self) -> None:
        """Close the calling thread's connection (short-lived worker threads); others stay open."""
        try:
            self.store.close()
        except Exception:
            pass

    def __enter__(self) -> Kitchen:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def after_fork(self) -> None:
        """Call in a forked child before using the kitchen: drops the parent's connections."""
        self.store.after_fork()

    def waiter(self) -> ChangeWaiter:
        """How an idle oven waits for the queue to change (data_version on SQLite, LISTEN on PostgreSQL)."""
        return self.store.waiter()

    # -- the order taker ---------------------------------------------------------------------------------

    def submit(self, recipe: str, payload: Mapping[str, Any] | None = None, *, customer: str | None = None,
               key: str | None = None, priority: int | None = None, delay: float = 0.0,
               connection: Any = None) -> Ticket:
        """Persist one order and return its ticket; committed before this returns.

        The payload's keys are the recipe's arguments: when this process knows the recipe (``@recipe``), they
        are checked against its signature (BadOrder, nothing written) and ``priority`` defaults to its own.
        An unknown name is accepted: another process's ovens may know it.

        ``connection``: the application's own open psycopg connection (PostgreSQL): the order is written
        inside that connection's transaction and commits or rolls back with the application's work
        (transactional enqueue); its ticket means nothing until then.
        """
        spec = known_recipes.known(recipe) if isinstance(recipe, str) else None
        if priority is None:
            priority = spec.priority if spec is not None else 0
        order = validate(recipe, payload, customer=customer, key=key, priority=priority, delay=delay,
                         payload_limit=self.settings.payload_limit)
        if spec is not None:
            spec.check(payload or {})
        return self._inserted([order], connection)[0]

    def submit_many(self, orders: Iterable[Mapping[str, Any]], *, connection: Any = None) -> list[Ticket]:
        """Persist many orders in one transaction: all are committed, or none (bad input writes nothing).
        ``connection``: as for ``submit``, inside the application's transaction."""
        specs = list(orders)
        prepared = prepare_many(specs, self.settings.payload_limit)
        if not prepared:
            return []
        for i, (spec, order) in enumerate(zip(specs, prepared)):
            known = known_recipes.known(order.recipe)
            if known is not None:
                try:
                    known.check(spec.get("payload") or {})
                except BadOrder as exc:
                    raise BadOrder(f"order {i}: {exc}") from None
        return self._inserted(prepared, connection)

    def _inserted(self, orders: list[NewOrder], connection: Any) -> list[Ticket]:
        if connection is None:
            tickets = self.store.write(insert_many, self._ctx, orders, self.clock(),
                                       settle=settle.submitted(self._ctx))
        else:  # the application's transaction: no tally row locked while it stays open (see insert_many)
            tickets = self.store.enlist(connection, insert_many, self._ctx, orders, self.clock(), True)
        return self._handed_out(tickets)

    def _handed_out(self, tickets: list[Ticket]) -> list[Ticket]:
        """Tickets that can wait for their result (``Ticket.result``) on this kitchen."""
        return [t.bound(self) for t in tickets]

    def result(self, number: int, timeout: float | None = None) -> Any:
        """Wait until order ``number`` is finished; its result, or ``OrderBurnt`` (with the stored error and
        traceback), ``OrderCancelled``, or ``TimeoutError`` after ``timeout`` seconds (None: no limit).

        Waits on the store's change waiter (PostgreSQL: LISTEN for finished orders; SQLite: data_version),
        not a sleep loop: it wakes when an order finishes.
        """
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        waiter = self.store.waiter(finished=True)
        try:
            while True:
                waiter.arm()  # before the read: a finish committed after it wakes the wait below
                info = self.ticket(number)
                if info.state == "done":
                    return info.result
                if info.state == "burnt":
                    raise OrderBurnt(number, info.error, info.traceback)
                if info.state == "cancelled":
                    raise OrderCancelled(number)
                left = RESULT_RECHECK if deadline is None else min(RESULT_RECHECK, deadline - time.monotonic())
                if left <= 0:
                    raise TimeoutError(f"order {number} is still {info.state} after {timeout:g}s")
                waiter.wait(left, lambda: False)
        finally:
            waiter.close()

    def cancel(self, number: int) -> bool:
        """Cancel one order: True if it will never cook (it was queued, or already cancelled) or its oven is
        told to stop it (it was cooking: it ends ``cancelled`` unless it completes first); False if it had
        already finished (done or burnt: left as it is). UnknownTicket if there is no such order."""
        outcome = self.cancel_many([number])[number]
        if outcome == "unknown":
            raise UnknownTicket(f"no order with ticket {number}")
        return outcome in (cancel.CANCELLED, cancel.ASKED, "cancelled")

    def cancel_many(self, numbers: Iterable[int]) -> dict[int, str]:
        """One transaction: ticket -> 'cancelled', 'asked' (cooking: its oven stops it), or what kept it
        ('done', 'burnt', 'unknown')."""
        ids = list(numbers)
        return self.store.write(lambda cur: cancel.cancel(cur, self._ctx, ids, self.clock()), settle=RERUN)

    def cook_all(self, **options: Any) -> int:
        """Cook what is queued and ready, here, synchronously, until nothing is (huey's immediate mode): for a
        user's tests, without ovens. Returns how many orders it completed. A failed order is retried at once (no
        backoff) until it succeeds or burns; ``timeout`` is enforced only for ``async def`` recipes (no watchdog)."""
        return known_recipes.cooker()(self, **options)

    # -- ovens ---------------------------------------------------------------------------------------------

    def join(self, name: str, menu: Iterable[str] | None = None, *, host: str | None = None,
             pid: int | None = None, seed: int | None = None) -> Oven:
        """Register a new oven incarnation and give it its share of buckets.

        ``menu``: the recipe names this oven cooks; it then claims only those, and an order no live oven can
        cook waits (``status().no_oven_can_cook``) instead of being claimed and burnt. None: it cooks anything.
        ``seed``: seeds the retry jitter, so a scene on a frozen clock backs off the same way every run.
        """
        check_oven_name(name)
        recipes = menu_json(menu)
        host = host or os.environ.get("KITCHEN_HOST") or socket.gethostname()
        pid = os.getpid() if pid is None else pid
        oven_id = self.store.write(lambda cur: cooking.join(cur, self._ctx, name, host, pid, recipes, self.clock()),
                                   settle=settle.joined(self._ctx))
        return Oven(self._ctx, self.clock, oven_id, name, host, pid, recipes, seed=seed)

    def attach(self, oven_id: int, name: str, *, host: str = "", pid: int = 0,
               menu: Iterable[str] | None = None) -> Oven:
        """A handle on an incarnation that already joined (another process's, in tests and tools)."""
        return Oven(self._ctx, self.clock, oven_id, name, host, pid, menu_json(menu))

    # -- the reaper --------------------------------------------------------------------------------------------

    def reap(self, now: float | None = None, *, judge: bool = True, spare: int | None = None) -> ReapReport:
        """Declare silent ovens dead, requeue their orders and expired leases, move only their buckets.

        Cheap when there is nothing to do (a read). A pass judges no one (``judge`` False, or this
        process's writes were recently stalled: see ``Store.stalled_recently``) when heartbeats may not have
        been writable: it still sweeps orders stranded on gone ovens and rebalances. ``spare`` is the oven
        of the process running this reaper: its heartbeat may lag (a starved thread), but a process whose
        reaper runs is alive, so it is left to the other ovens' reapers to judge.
        """
        now = self.clock() if now is None else now
        cutoff = now - self.settings.heartbeat_timeout
        own = -1 if spare is None else spare
        due, fold = self.store.read(reaper.pending, self._ctx, now, cutoff, own)
        if fold:
            self.fold_inbox()
        if not due:
            return ReapReport()
        # After a stall every live oven beats again within an interval: hold judgement for two of them.
        judge = judge and not self.store.stalled_recently(2 * self.settings.heartbeat_interval)
        asked = time.monotonic()

        def tx(cur: Any) -> ReapReport:
            # Waiting this long for the write lock means heartbeats may have waited as long.
            fair = judge and time.monotonic() - asked <= self.store.slow_write
            return reaper.reap(cur, self._ctx, now, cutoff, judge=fair, spare=own)

        return self.store.write(tx, settle=RERUN)

    def fold_inbox(self, batches: int = FOLD_BATCHES) -> int:
        """Fold the tally inbox (counts of submits made on applications' connections) into the per-bucket
        tally, at most ``batches`` short transactions; returns the inbox rows folded. The reaper does it each
        pass; counts read the same before and after (readers add the inbox)."""
        folded = 0
        for _ in range(batches):
            step = self.store.write(reaper.fold_inbox, self._ctx, settle=RERUN)  # a re-run folds other rows
            folded += step
            if step < reaper.FOLD_BATCH:
                break
        return folded

    def requeue(self, tickets: Iterable[int] = (), *, burnt: bool = False) -> list[int]:
        """Put burnt (dead-lettered) orders back in the queue with fresh attempts; returns those moved."""
        ids = list(tickets)
        return self.store.write(lambda cur: reaper.requeue_burnt(cur, self._ctx, ids, burnt, self.clock()),
                                settle=RERUN)

    # -- retention -----------------------------------------------------------------------------------------------

    def purge(self, *, older_than: float | None = None, dry_run: bool = False, batches: int | None = None,
              now: float | None = None) -> PurgeReport:
        """Delete finished orders past ``keep_done`` / ``keep_burnt`` (or ``older_than`` seconds), with their
        ledger rows, refusals and events, and events past ``keep_events``, in short batches; on SQLite, give
        freed pages back a few at a time. ``batches``: stop after that many (the reaper does one per pass);
        None: until nothing is left. ``dry_run``: count what would go, write nothing."""
        cut = retention.Cutoffs.of(self._ctx, self.clock() if now is None else now, older_than)
        if dry_run:
            return self.store.read(retention.would_purge, self._ctx, cut)
        total = PurgeReport()
        done = 0
        while batches is None or done < batches:
            if not self.store.read(retention.needs_purge, self._ctx, cut):
                total.more = False
                break
            report = self.store.write(retention.purge_batch, self._ctx, cut, settle=RERUN)
            done += 1
            if report is None:  # another process holds this turn (PostgreSQL); a reaper simply skips it
                total.more = True
                if batches is not None:
                    break
                time.sleep(0.05)
                continue
            total.add(report)
            if not report:
                break
        if total:  # pages were freed: give some back (an idle reaper pass takes no write lock)
            total.reclaimed_pages = self.reclaim(batches=batches)
        return total

    def reclaim(self, *, batches: int | None = None) -> int:
        """SQLite: give free pages back to the file system in short steps (see ``retention.reclaim``)."""
        pages, steps = 0, 0
        while batches is None or steps < batches:
            step = self.store.write(retention.reclaim, self._ctx, settle=RERUN)
            pages, steps = pages + step, steps + 1
            if step < retention.RECLAIM_PAGES:
                break
        return pages

    # -- periodic orders -------------------------------------------------------------------------------------------

    def fire(self, recipe: str, slot: float, next_slot: float, rule: str) -> Ticket | None:
        """Queue the order of one schedule slot (key ``recipe@slot``) unless that slot or a later one was taken
        already, by any process; returns its ticket, or None."""
        order = validate(recipe, {"slot": slot}, key=periodic.slot_key(recipe, slot),
                         payload_limit=self.settings.payload_limit)
        return self.store.write(periodic.fire, self._ctx, order, slot, next_slot, rule, self.clock(),
                                settle=_fired(self._ctx, order.key))

    # -- reading the shop -----------------------------------------------------------------------------------------

    def status(self) -> Snapshot:
        """Counts per state, ovens, bucket owners and ledger totals, from one consistent snapshot."""
        return self.store.read(reads.snapshot, self._ctx, self.clock())

    def ticket(self, number: int) -> TicketView:
        """Where one order is: state, oven, attempts, result or error."""
        return self.store.read(reads.ticket, self._ctx, number)

    def ledger(self, limit: int = 20) -> list[LedgerRow]:
        """Most recent accepted completions, newest first."""
        return self.store.read(reads.ledger, self._ctx, limit)

    def refusals(self, limit: int = 20) -> list[RefusalRow]:
        """Most recent refused (late or zombie) completions, newest first: codes, not sentences."""
        return self.store.read(reads.refusals, self._ctx, limit)

    def events(self, after: int = 0, limit: int = 50) -> list[EventRow]:
        """Events newer than ``after`` (an event id), oldest first, at most ``limit`` of the newest: kinds and
        facts, not sentences (``kitchen.core.words.event`` makes one)."""
        return self.store.read(reads.events, self._ctx, after, limit)

    def last_event(self, kind: EventKind | str) -> EventRow | None:
        """The newest event of one kind (e.g. 'moved': the ring's latest change), or None."""
        return self.store.read(reads.last_event, self._ctx, kind)

    def recent_orders(self, limit: int = 10) -> list[RecentOrder]:
        """The newest orders with their state, newest first."""
        return self.store.read(reads.recent_orders, self._ctx, limit)

    def burnt(self, limit: int = 50) -> list[BurntOrder]:
        """Dead-lettered orders, oldest first."""
        return self.store.read(reads.burnt, self._ctx, limit)

    def oldest_waiting(self) -> float | None:
        """Seconds the next ready order has waited since it became ready (None: nothing ready)."""
        return self.store.read(reads.oldest_waiting, self._ctx, self.clock())

    def latencies(self, after: int = 0, limit: int = 10_000) -> list[tuple[int, float, float]]:
        """Completions after ledger id ``after``: (ledger id, seconds ready before claimed, seconds from order
        to done), oldest first; for metrics' histograms."""
        return self.store.read(reads.latencies, self._ctx, after, limit)

    def completion_times(self, limit: int) -> list[float]:
        """The newest ``limit`` completion times from the ledger, newest first."""
        return self.store.read(reads.completion_times, self._ctx, limit)


def _fired(ctx: Ctx, key: str | None) -> Any:
    """Did a fire whose COMMIT reply was lost commit? Its key's order exists (then the ticket stands)."""
    def settle(cur: Any, ticket: Ticket | None) -> bool:
        if ticket is None:
            return True  # nothing was written: answering None again is right
        cur.execute(ctx.st.find_key, (key,))
        return cur.fetchone() is not None
    return settle
