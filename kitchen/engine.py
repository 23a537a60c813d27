"""The Kitchen facade: the order taker's counter, oven registration, the reaper, and the shop's state.

Producers, ovens, the CLI and the TUI all go through this one object; none of them touches SQL.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .clock import Clock, ServerClock, system_clock
from .config import Settings
from .db import Backend, Conflict
from .errors import BadOrder, ConfigError
from .hashing import bucket_for
from .models import build_models
from .orders import NewOrder, Ticket, validate
from .ringdb import rebalance_in
from .schema import ensure_schema
from .sql import Statements

ORDER_FIELDS = frozenset({"recipe", "payload", "customer", "key", "priority", "delay"})
NOTIFY = "SELECT pg_notify('kitchen_orders', '')"
REAPED_ERROR = "its oven died or its lease ran out on the last allowed attempt"


@dataclass
class ReapReport:
    """What one reaper pass did: ovens declared dead, orders requeued or burnt, the ring change."""

    dead: list[str] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    burnt: list[int] = field(default_factory=list)
    moved: str = ""

    def __bool__(self) -> bool:
        return bool(self.dead or self.requeued or self.burnt or self.moved)


def _server_now(cur) -> float:
    cur.execute("SELECT extract(epoch FROM clock_timestamp())")
    return float(cur.fetchone()[0])


class Kitchen:
    """One shop over one database. Thread-safe: each thread gets its own connection."""

    def __init__(self, backend: Backend, settings: Settings, clock: Clock = system_clock) -> None:
        self.backend = backend
        self.settings = settings
        self.clock = clock
        self.models = build_models(backend.db)
        self.st = Statements(backend)
        backend.connect()
        self._bulk = backend.dialect == "sqlite"
        self.buckets = ensure_schema(backend, self.models, settings.buckets, clock())

    @classmethod
    def open(cls, url: str | None = None, *, clock: Clock | None = None, settings: Settings | None = None,
             **overrides: Any) -> "Kitchen":
        """Open (creating if needed) the kitchen at ``url``; keywords are any ``[kitchen]`` setting."""
        base = settings or Settings()
        if url is not None:
            overrides["database"] = url
        resolved = base.with_overrides(**overrides) if overrides else base.validated()
        backend = Backend(resolved.database, resolved.durability, resolved.busy_timeout)
        if clock is None and backend.dialect == "postgresql":
            clock = ServerClock(lambda: backend.read(_server_now))
        try:
            return cls(backend, resolved, clock or system_clock)
        except BaseException:
            backend.close()
            raise

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> "Kitchen":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def after_fork(self) -> None:
        """Call in a forked child before using the kitchen: drops the parent's connections."""
        self.backend.after_fork()

    # -- the order taker ---------------------------------------------------------------------------

    def _prepare(self, recipe: Any, payload: Any, customer: Any, key: Any, priority: Any, delay: Any) -> NewOrder:
        return validate(recipe, payload, customer=customer, key=key, priority=priority, delay=delay,
                        payload_limit=self.settings.payload_limit)

    def submit(self, recipe: str, payload: Mapping[str, Any] | None = None, *, customer: str | None = None,
               key: str | None = None, priority: int = 0, delay: float = 0.0) -> Ticket:
        """Persist one order and return its ticket; committed before this returns."""
        order = self._prepare(recipe, payload, customer, key, priority, delay)
        return self.backend.write(self._insert_many, [order], self.clock())[0]

    def submit_many(self, orders: Iterable[Mapping[str, Any]]) -> list[Ticket]:
        """Persist many orders in one transaction: all are committed, or none (bad input writes nothing)."""
        prepared = []
        limit = self.settings.payload_limit
        for i, spec in enumerate(orders):
            if not isinstance(spec, Mapping):
                raise BadOrder(f"order {i}: expected a mapping with at least 'recipe'")
            if not spec.keys() <= ORDER_FIELDS:
                unknown = set(spec) - ORDER_FIELDS
                raise BadOrder(f"order {i}: unknown field {sorted(unknown)[0]!r}")
            try:
                prepared.append(validate(spec.get("recipe"), spec.get("payload"), customer=spec.get("customer"),
                                         key=spec.get("key"), priority=spec.get("priority", 0),
                                         delay=spec.get("delay", 0.0), payload_limit=limit))
            except BadOrder as exc:
                raise BadOrder(f"order {i}: {exc}") from None
        if not prepared:
            return []
        return self.backend.write(self._insert_many, prepared, self.clock())

    def _insert_many(self, cur, orders: list[NewOrder], now: float) -> list[Ticket]:
        st, buckets = self.st, self.buckets
        tickets: list[Ticket] = []
        new_per_bucket: dict[int, int] = {}
        dup_per_bucket: dict[int, int] = {}
        plain: list[tuple] = []
        for o in orders:
            bucket = bucket_for(o.routing, buckets)
            if o.key is None and self._bulk:
                plain.append((o.recipe, o.customer, o.payload_json, o.priority, bucket, now + o.delay, now))
                new_per_bucket[bucket] = new_per_bucket.get(bucket, 0) + 1
                continue
            if plain:
                tickets += self._insert_plain(cur, plain)
                plain = []
            cur.execute(st.insert_order, (o.key, o.recipe, o.customer, o.payload_json, o.priority, bucket,
                                          now + o.delay, now))
            row = cur.fetchone()
            if row is not None:
                tickets.append(Ticket(int(row[0]), bucket, False))
                new_per_bucket[bucket] = new_per_bucket.get(bucket, 0) + 1
            else:
                cur.execute(st.find_key, (o.key,))
                number, first_bucket = cur.fetchone()
                tickets.append(Ticket(int(number), int(first_bucket), True))
                dup_per_bucket[first_bucket] = dup_per_bucket.get(first_bucket, 0) + 1
        if plain:
            tickets += self._insert_plain(cur, plain)
        if new_per_bucket:
            self.notify(cur)
        for bucket in set(new_per_bucket) | set(dup_per_bucket):
            cur.execute(st.tally_submit, (new_per_bucket.get(bucket, 0), dup_per_bucket.get(bucket, 0), bucket))
        return tickets

    def _insert_plain(self, cur, rows: list[tuple]) -> list[Ticket]:
        """Keyless orders in one executemany (SQLite): under our write lock new rowids are max(id)+1, +2, ...

        Checked, not assumed: if the id range is not exactly contiguous the transaction is retried.
        """
        if len(rows) == 1:
            cur.execute(self.st.insert_plain_returning, rows[0])
            return [Ticket(int(cur.fetchone()[0]), rows[0][4], False)]
        cur.execute(self.st.max_order_id)
        first = (cur.fetchone()[0] or 0) + 1
        cur.executemany(self.st.insert_plain, rows)
        cur.execute(self.st.max_order_id)
        if cur.fetchone()[0] != first + len(rows) - 1:
            raise Conflict("order ids were not contiguous")
        return [Ticket(first + i, row[4], False) for i, row in enumerate(rows)]

    # -- ovens ---------------------------------------------------------------------------------------

    def join(self, name: str, *, host: str | None = None, pid: int | None = None) -> "Oven":
        """Register a new oven incarnation and give it its share of buckets."""
        from .oven import Oven

        if not isinstance(name, str) or not name.strip() or len(name) > 64:
            raise ConfigError("oven name must be 1 to 64 characters")
        host = host or os.environ.get("KITCHEN_HOST") or socket.gethostname()
        pid = os.getpid() if pid is None else pid

        def tx(cur):
            now = self.clock()
            cur.execute(self.st.join, (name, host, pid, now, now))
            oven_id = int(cur.fetchone()[0])
            self.event(cur, now, "join", name, None, f"{name} joined from {host} pid {pid}")
            self._rebalance(cur, now)
            return oven_id

        return Oven(self, self.backend.write(tx), name, host, pid)

    def _rebalance(self, cur, now: float) -> str:
        summary = rebalance_in(cur, self.st, self.buckets, now)
        if summary:
            self.event(cur, now, "moved", None, None, summary)
            self.notify(cur)
        return summary

    def notify(self, cur) -> None:
        """Wake idle ovens (PostgreSQL LISTEN/NOTIFY, delivered at commit); SQLite ovens watch data_version."""
        if self.backend.dialect == "postgresql":
            cur.execute(NOTIFY)

    def event(self, cur, now: float, kind: str, oven: str | None, order_id: int | None, detail: str) -> None:
        cur.execute(self.st.event, (now, kind, oven, order_id, detail))

    # -- the reaper ----------------------------------------------------------------------------------

    def reap(self, now: float | None = None) -> ReapReport:
        """Declare silent ovens dead, requeue their orders and expired leases, move only their buckets.

        Safe to run from many processes at once: every change is conditional, so each dead oven and each
        expired lease is handled by exactly one reaper. Cheap when there is nothing to do (a read).
        """
        now = self.clock() if now is None else now
        cutoff = now - self.settings.heartbeat_timeout
        if not self.backend.read(self._needs_reaping, now, cutoff):
            return ReapReport()
        return self.backend.write(self._reap, now, cutoff)

    def _needs_reaping(self, cur, now: float, cutoff: float) -> bool:
        st = self.st
        for statement, params in ((st.any_silent, (cutoff,)), (st.any_expired, (now,)), (st.any_stranded, ())):
            cur.execute(statement, params)
            if cur.fetchone():
                return True
        cur.execute(st.orphan_buckets)
        orphans = cur.fetchone()[0]
        cur.execute(st.alive_count)
        return bool(orphans and cur.fetchone()[0])

    def _reap(self, cur, now: float, cutoff: float) -> ReapReport:
        st, report, limit = self.st, ReapReport(), self.settings.max_attempts
        cur.execute(st.declare_dead, (now, cutoff))
        dead = [(int(i), n) for i, n in cur.fetchall()]
        for oven_id, name in dead:
            report.dead.append(name)
            age = self.settings.heartbeat_timeout
            self.event(cur, now, "dead", name, None, f"{name} missed heartbeats for over {age:g}s: declared dead")
            cur.execute(st.requeue_oven, (limit, now, limit, REAPED_ERROR, limit, now, oven_id))
            self._requeued(cur, now, name, cur.fetchall(), report)
        cur.execute(st.expire_leases, (limit, now, limit, REAPED_ERROR, limit, now, now))
        rows = cur.fetchall()
        if rows:
            self._requeued(cur, now, None, [r[:3] for r in rows], report, "lease expired")
        # On PostgreSQL a claim can commit after requeue_oven read its snapshot (or after a leave released
        # orders) but before the oven's death or departure committed: sweep such orders now, not at lease end.
        cur.execute(st.requeue_stranded, (limit, now, limit, REAPED_ERROR, limit, now))
        rows = cur.fetchall()
        if rows:
            self._requeued(cur, now, None, rows, report, "its oven is gone")
        report.moved = self._rebalance(cur, now)
        if report.requeued:
            self.notify(cur)
        return report

    def _requeued(self, cur, now: float, oven: str | None, rows: list, report: ReapReport,
                  why: str = "oven died") -> None:
        st = self.st
        for order_id, state, bucket in rows:
            if state == "burnt":
                report.burnt.append(int(order_id))
                cur.execute(st.tally_burnt, (1, bucket))
                self.event(cur, now, "burnt", oven, order_id, f"order {order_id} burnt: {why} on its last attempt")
            else:
                report.requeued.append(int(order_id))
                cur.execute(st.tally_requeued, (1, bucket))
                self.event(cur, now, "requeue", oven, order_id, f"order {order_id} back in the queue: {why}")

    # -- dead letters ----------------------------------------------------------------------------------

    def requeue(self, tickets: Iterable[int] = (), *, burnt: bool = False) -> list[int]:
        """Put burnt (dead-lettered) orders back in the queue with fresh attempts; returns those moved."""
        def tx(cur):
            now = self.clock()
            ids = list(tickets)
            if burnt:
                cur.execute(self.st.all_burnt)
                ids += [int(r[0]) for r in cur.fetchall()]
            moved = []
            for order_id in dict.fromkeys(ids):
                cur.execute(self.st.requeue_burnt, (now, order_id))
                row = cur.fetchone()
                if row is not None:
                    moved.append(order_id)
                    cur.execute(self.st.tally_burnt, (-1, row[0]))
                    self.event(cur, now, "requeue", None, order_id, f"burnt order {order_id} requeued by hand")
            if moved:
                self.notify(cur)
            return moved

        return self.backend.write(tx)

    # -- reading the shop (see status.py) ----------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Counts per state, ovens, bucket owners and ledger totals, from one consistent snapshot."""
        from .status import snapshot

        return snapshot(self)

    def ticket(self, number: int) -> dict[str, Any]:
        """Where one order is: state, oven, attempts, result or error."""
        from .status import ticket

        return ticket(self, number)
