"""The Oven facade: one oven incarnation's calls, each one short transaction, durable on return."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from functools import partial
from typing import Any

from kitchen.core.clock import Clock
from kitchen.core.errors import BadOrder, ConfigError
from kitchen.core.orders import Order, check_recipe_name, dumps_json
from kitchen.store import RERUN

from . import cooking, settle
from .context import Ctx
from .cooking import Hint, Who

TRACEBACK_LIMIT = 8000  # characters of a failure's traceback kept (its end: where it was raised)


def menu_json(menu: Iterable[str] | None) -> str | None:
    """An oven's menu as stored and matched by claims: a sorted JSON list of recipe names (None: anything)."""
    if menu is None:
        return None
    if isinstance(menu, str):
        raise ConfigError("menu must be a list of recipe names, not one string")
    names = sorted({check_recipe_name(name, "menu recipe") for name in menu})
    return json.dumps(names, separators=(",", ":"))


def result_json(result: Any) -> str | None:
    """A recipe's result as stored: plain JSON or nothing; BadOrder (one line) for anything else."""
    return None if result is None else dumps_json(result, "result")


class Oven:
    """Handle returned by ``Kitchen.join``."""

    def __init__(self, ctx: Ctx, clock: Clock, oven_id: int, name: str, host: str, pid: int,
                 menu: str | None = None, *, seed: int | None = None) -> None:
        self._ctx = ctx
        self._store = ctx.store
        self._clock = clock
        self._who = Who(oven_id, name, menu)
        self._hint = Hint()  # did its own buckets give it nothing last time? (see cooking.Hint)
        self.id = oven_id
        self.name = name
        self.host = host
        self.pid = pid
        self.menu: list[str] | None = None if menu is None else json.loads(menu)
        self._rng = random.Random(seed)  # retry jitter

    def __repr__(self) -> str:
        return f"<Oven {self.name} #{self.id}>"

    def claim(self) -> Order | None:
        """Take the next ready order this oven can cook (priority, then age): from its own buckets first, else
        from any bucket (a steal); a customer's orders one at a time, in ticket order. None if there is none."""
        orders = self.claim_many(1)
        return orders[0] if orders else None

    def claim_many(self, limit: int) -> list[Order]:
        """Take up to ``limit`` ready orders in one transaction (prefetch); a crash requeues them together."""
        return self._store.write(cooking.claim, self._ctx, self._who, limit, self._clock(), self._hint,
                                 settle=settle.claimed(self._ctx, self._who))

    def heartbeat(self, progress: int | None = None, order: Order | None = None, *,
                  orders: Iterable[tuple[Order, int]] = ()) -> list[int]:
        """Prove liveness, renew the leases of every order this oven cooks, record progress (of ``order``, and
        of each ``(order, progress)`` in ``orders``: an oven with several slots); returns the orders it cooks
        that were asked to cancel (``Kitchen.cancel``): stop them, then ``cancelled(order)``.

        Raises OvenLost when this incarnation was declared dead: its orders already went back to the queue.
        """
        pairs = list(orders)
        for percent in [progress, *(p for _, p in pairs)]:
            if percent is not None and (isinstance(percent, bool) or not isinstance(percent, int)
                                        or not 0 <= percent <= 100):
                raise BadOrder(f"progress must be a whole number from 0 to 100, not {percent!r}")
        if progress is not None and order is not None:
            pairs.append((order, progress))
        # The clock is read inside the transaction: a beat that waited for the write lock proves the oven alive
        # when it commits, not when it was asked.
        return self._store.write(lambda cur: cooking.beat(cur, self._ctx, self._who, pairs, self._clock()),
                                 settle=RERUN, urgent=True)

    def alive(self) -> bool:
        """Whether the database still counts this incarnation as alive."""
        return self._store.read(cooking.oven_alive, self._ctx, self._who)

    def complete(self, order: Order, result: Any = None) -> bool:
        """Record the order done; True if accepted, False if refused (stale fence: requeued or re-cooked)."""
        accepted, _ = self.complete_many([(order, result)])
        return accepted[0]

    def complete_many(self, finished: Iterable[tuple[Order, Any]], claim: int = 0) -> tuple[list[bool], list[Order]]:
        """Group commit: several fenced completions and the next claim in one transaction.

        A crash before this commits re-cooks these orders (at-least-once); the ledger still holds one row each.
        """
        items = [(o, None if r is None else result_json(r)) for o, r in finished]  # None: no call
        return self._store.write(cooking.complete, self._ctx, self._who, items, claim, self._clock(), self._hint,
                                 settle=partial(settle.completed, self._ctx, self._who, items))

    def fail(self, order: Order, error: str, *, retry: bool = True, traceback: str | None = None,
             max_attempts: int | None = None, backoff: float | None = None) -> str | None:
        """Retry with exponential backoff and jitter, or burn after ``max_attempts`` (default: the kitchen's;
        at once if not ``retry``). ``traceback`` is kept beside the error (its last TRACEBACK_LIMIT characters).
        ``backoff``: seconds before the retry (default: exponential from the settings, with jitter).

        Returns 'queued' (will retry), 'burnt' (dead letter), 'cancelled' (a cancel was asked meanwhile), or
        None if the claim was already stale.
        """
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        error = lines[0][:500] if lines else "failed"
        s = self._ctx.settings
        # capped exponent: 2.0 ** 1100 overflows a float, and anything past 2 ** 60 is backoff_max anyway
        if backoff is None:
            backoff = min(s.backoff_max, s.backoff_base * 2.0 ** min(max(order.attempt - 1, 0), 60))
            backoff *= 0.5 + 0.5 * self._rng.random()
        limit = (s.max_attempts if max_attempts is None else max_attempts) if retry else 0
        kept = traceback[-TRACEBACK_LIMIT:] if traceback else None
        return self._store.write(cooking.fail, self._ctx, self._who, order, error, backoff, limit, self._clock(), kept,
                                 settle=settle.failed(self._ctx, self._who, order))

    def cancelled(self, order: Order) -> bool:
        """End an order this oven stopped after hearing its cancel: True if it is now cancelled; False if the
        claim was stale (taken back) or no cancel was asked."""
        return self._store.write(lambda cur: cooking.cancelled(cur, self._ctx, self._who, order, self._clock()),
                                 settle=RERUN)

    def release(self, order: Order | None = None) -> int:
        """Give orders back to the queue without counting an attempt (graceful shutdown); returns how many."""
        return self._store.write(lambda cur: cooking.release(cur, self._ctx, self._who, order, self._clock()),
                                 settle=RERUN)

    def leave(self) -> None:
        """Graceful exit: release unfinished orders, leave the ring, hand buckets to the others."""
        self._store.write(lambda cur: cooking.leave(cur, self._ctx, self._who, self._clock()), settle=RERUN)
