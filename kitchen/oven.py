"""One oven incarnation's side of the protocol: claim, heartbeat, complete (fenced), fail, release, leave."""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING, Any, Iterable

from .errors import BadOrder, OvenLost
from .orders import Order, loads_payload

if TYPE_CHECKING:
    from .engine import Kitchen


class Oven:
    """Handle returned by ``Kitchen.join``; every call is one short transaction, durable on return."""

    def __init__(self, kitchen: "Kitchen", oven_id: int, name: str, host: str, pid: int) -> None:
        self.kitchen = kitchen
        self.id = oven_id
        self.name = name
        self.host = host
        self.pid = pid
        self._rng = random.Random()

    def __repr__(self) -> str:
        return f"<Oven {self.name} #{self.id}>"

    # -- claiming --------------------------------------------------------------------------------------

    def claim(self) -> Order | None:
        """Take the next ready order of this oven's buckets (priority, then age), or None."""
        orders = self.claim_many(1)
        return orders[0] if orders else None

    def claim_many(self, limit: int) -> list[Order]:
        """Take up to ``limit`` ready orders in one transaction (prefetch); a crash requeues them together."""
        return self.kitchen.backend.write(self._claim, limit, self.kitchen.clock())

    def _claim(self, cur, limit: int, now: float) -> list[Order]:
        if limit < 1:  # SQLite reads LIMIT -1 as "no limit": never let a bad count take the whole queue
            return []
        lease = self.kitchen.settings.lease
        cur.execute(self.kitchen.st.claim, (self.id, now + lease, now, now, self.id, self.id, limit))
        rows = cur.fetchall()
        orders = [Order(int(r[0]), r[1], loads_payload(r[3]), int(r[6]), int(r[7]), int(r[5]), int(r[4]), r[2], r[8])
                  for r in rows]
        orders.sort(key=lambda o: (-o.priority, o.id))
        return orders

    # -- liveness ----------------------------------------------------------------------------------------

    def heartbeat(self, progress: int | None = None, order: Order | None = None) -> None:
        """Prove liveness, renew the leases of every order this oven cooks, record progress.

        Raises OvenLost when this incarnation was declared dead: its orders already went back to the queue.
        """
        if progress is not None and (isinstance(progress, bool) or not isinstance(progress, int)
                                     or not 0 <= progress <= 100):
            raise BadOrder(f"progress must be a whole number from 0 to 100, not {progress!r}")
        self.kitchen.backend.write(self._beat, progress, order, self.kitchen.clock())

    def _beat(self, cur, progress: int | None, order: Order | None, now: float) -> None:
        st = self.kitchen.st
        cur.execute(st.oven_beat, (now, self.id))
        if cur.rowcount != 1:
            raise OvenLost(f"{self.name} (#{self.id}) was declared dead or left; its orders were requeued")
        cur.execute(st.renew_leases, (now + self.kitchen.settings.lease, self.id))
        if progress is not None and order is not None:
            cur.execute(st.progress, (progress, order.id, self.id, order.fence))

    def alive(self) -> bool:
        """Whether the database still counts this incarnation as alive."""
        def tx(cur):
            cur.execute(self.kitchen.st.oven_state, (self.id,))
            row = cur.fetchone()
            return bool(row and row[0] == "alive")

        return self.kitchen.backend.read(tx)

    # -- finishing ----------------------------------------------------------------------------------------

    def complete(self, order: Order, result: Any = None) -> bool:
        """Record the order done; True if accepted, False if refused (stale fence: requeued or re-cooked)."""
        accepted, _ = self.complete_many([(order, result)])
        return accepted[0]

    def complete_many(self, finished: Iterable[tuple[Order, Any]], claim: int = 0) -> tuple[list[bool], list[Order]]:
        """Group commit: several fenced completions and the next claim in one transaction.

        A crash before this commits re-cooks these orders (at-least-once); the ledger still holds one row each.
        """
        items = [(o, _result_json(r)) for o, r in finished]
        return self.kitchen.backend.write(self._complete, items, claim, self.kitchen.clock())

    def _complete(self, cur, items: list[tuple[Order, str | None]], claim: int, now: float):
        k, st = self.kitchen, self.kitchen.st
        accepted: list[bool] = []
        done_per_bucket: dict[int, int] = {}
        for order, result in items:
            cur.execute(st.complete, (now, result, order.id, self.id, order.fence))
            if cur.rowcount == 1:
                cur.execute(st.ledger, (order.id, self.id, self.name, order.fence, now))
                done_per_bucket[order.bucket] = done_per_bucket.get(order.bucket, 0) + 1
                accepted.append(True)
            else:
                self._refuse(cur, order, now)
                accepted.append(False)
        for bucket, n in done_per_bucket.items():
            cur.execute(st.tally_done, (n, bucket))
        if done_per_bucket:
            cur.execute(st.oven_cooked, (sum(done_per_bucket.values()), self.id))
        claimed = self._claim(cur, claim, now) if claim else []
        return accepted, claimed

    def _refuse(self, cur, order: Order, now: float) -> None:
        st = self.kitchen.st
        cur.execute(st.order_now, (order.id,))
        row = cur.fetchone()
        if row is None:
            reason = "no such order"
        elif row[0] == "cooking" and row[2] != order.fence:
            reason = f"stale fence {order.fence}: order is being re-cooked under fence {row[2]}"
        elif row[0] == "done":
            reason = f"stale fence {order.fence}: order already done (fence {row[2]})"
        else:
            reason = f"stale fence {order.fence}: order was taken back ({row[0]})"
        cur.execute(st.refusal, (order.id, self.id, self.name, order.fence, now, reason))
        cur.execute(st.tally_refused, (order.bucket,))
        self.kitchen.event(cur, now, "refused", self.name, order.id, f"late completion refused: {reason}")

    def fail(self, order: Order, error: str, *, retry: bool = True) -> str | None:
        """Retry with exponential backoff and jitter, or burn after max_attempts (at once if not ``retry``).

        Returns 'queued' (will retry), 'burnt' (dead letter), or None if the claim was already stale.
        """
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        error = lines[0][:500] if lines else "failed"
        s = self.kitchen.settings
        # capped exponent: 2.0 ** 1100 overflows a float, and anything past 2 ** 60 is backoff_max anyway
        backoff = min(s.backoff_max, s.backoff_base * 2.0 ** min(max(order.attempt - 1, 0), 60))
        backoff *= 0.5 + 0.5 * self._rng.random()
        limit = s.max_attempts if retry else 0
        return self.kitchen.backend.write(self._fail, order, error, backoff, limit, self.kitchen.clock())

    def _fail(self, cur, order: Order, error: str, backoff: float, limit: int, now: float) -> str | None:
        k, st = self.kitchen, self.kitchen.st
        cur.execute(st.fail, (limit, now + backoff, error, limit, now, order.id, self.id, order.fence))
        row = cur.fetchone()
        if row is None:
            return None
        if row[0] == "burnt":
            cur.execute(st.tally_burnt, (1, order.bucket))
            k.event(cur, now, "burnt", self.name, order.id,
                    f"order {order.id} burnt after {order.attempt} attempts: {error}")
        else:
            cur.execute(st.tally_retried, (order.bucket,))
            k.event(cur, now, "retry", self.name, order.id,
                    f"order {order.id} failed (attempt {order.attempt}): {error}; retry in {backoff:.1f}s")
        return row[0]

    def release(self, order: Order | None = None) -> int:
        """Give orders back to the queue without counting an attempt (graceful shutdown); returns how many."""
        def tx(cur):
            now = self.kitchen.clock()
            st = self.kitchen.st
            if order is not None:
                cur.execute(st.release_one, (now, order.id, self.id, order.fence))
                rows = [(order.id, r[0]) for r in cur.fetchall()]
            else:
                cur.execute(st.release_oven, (now, self.id))
                rows = cur.fetchall()
            for order_id, _bucket in rows:
                self.kitchen.event(cur, now, "released", self.name, order_id,
                                   f"order {order_id} handed back to the queue by {self.name}")
            if rows:
                self.kitchen.notify(cur)
            return len(rows)

        return self.kitchen.backend.write(tx)

    def leave(self) -> None:
        """Graceful exit: release unfinished orders, leave the ring, hand buckets to the others."""
        def tx(cur):
            now = self.kitchen.clock()
            st = self.kitchen.st
            cur.execute(st.release_oven, (now, self.id))
            released = len(cur.fetchall())
            cur.execute(st.oven_leave, (now, self.id))
            if cur.rowcount == 1:
                self.kitchen.event(cur, now, "leave", self.name, None,
                                   f"{self.name} left the kitchen ({released} orders handed back)")
                self.kitchen._rebalance(cur, now)

        self.kitchen.backend.write(tx)


def _result_json(result: Any) -> str | None:
    if result is None:
        return None
    try:
        return json.dumps(result, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise BadOrder(f"result must be plain JSON: {str(exc).splitlines()[0]}") from None
