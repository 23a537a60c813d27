"""The shop in sentences: events, refusals and ring moves as a person reads them (CLI, TUI, logs).

The only place prose is made from the protocol's facts. Rows written by the first release carry their
sentence already (``detail``); those are shown as they are.
"""

from __future__ import annotations

from typing import Any

from .events import EventKind, PurgeReport, RefusalCode, RingMove, TakeBack
from .views import WAITING_COUNT_CAP, ScheduleView

_TAKE_BACK = {TakeBack.OVEN_DIED: "oven died", TakeBack.LEASE_EXPIRED: "lease expired",
              TakeBack.OVEN_GONE: "its oven is gone"}


def move_summary(move: RingMove, with_generation: bool = True) -> str:
    """'21 buckets oven-2 -> oven-1, oven-3 (generation 4)', one clause per previous owner."""
    parts = []
    for flow in sorted(move.flows, key=lambda f: f.source or "nobody"):
        targets = ", ".join(sorted(t or "nobody" for t in flow.targets))
        parts.append(f"{flow.count} bucket{'s' if flow.count != 1 else ''} {flow.source or 'nobody'} -> {targets}")
    text = "; ".join(parts)
    return text + f" (generation {move.generation})" if with_generation else text


def move_reason(move: RingMove, alive: set[str], buckets: int) -> str:
    """Why a ring move was the smallest possible: a dead oven's buckets only, or a newcomer's fair share only."""
    n = move.buckets
    sources = {f.source for f in move.flows}
    targets = {t for f in move.flows for t in f.targets}
    if sources and None not in sources and not (sources & alive):
        gone = ", ".join(sorted(s or "nobody" for s in sources))
        return (f"{n} of {buckets} buckets moved: only {gone}'s own. They had to move (their oven is gone); "
                "every other bucket kept its owner, so no smaller move exists.")
    if len(targets) == 1 and None not in targets and not (sources & targets) and alive:
        (new,) = targets
        return (f"{n} of {buckets} buckets moved, all to {new}: its fair share of {buckets}/{len(alive)}. "
                "No other bucket changed owner, so no smaller move gives it a share.")
    return f"{n} of {buckets} buckets moved."


def _n(count: int, what: str) -> str:
    return f"{count:,} {what}{'' if count == 1 else 's'}"


def purge_summary(report: PurgeReport) -> str:
    """'1,200 orders (1,180 done, 20 burnt), 1,180 ledger rows, 3 refusals, 40 events; 5 keys kept as
    tombstones, 2 expired; 256 pages given back' (a dry run says 'would purge')."""
    text = (f"{_n(report.orders, 'order')} ({report.done:,} done, {report.burnt:,} burnt), "
            f"{_n(report.ledger, 'ledger row')}, {_n(report.refusals, 'refusal')}, {_n(report.events, 'event')}")
    if report.dry_run:
        return "would purge " + text
    if report.tombstones or report.expired_keys:
        text += f"; {_n(report.tombstones, 'key')} kept as tombstones, {report.expired_keys:,} expired"
    if report.reclaimed_pages:
        text += f"; {_n(report.reclaimed_pages, 'page')} given back to the file system"
    return text + ("; more to purge" if report.more else "")


def schedule_line(plan: ScheduleView, now: float) -> str:
    """'margherita every 10s · next in 4s' (the TUI; `kitchen status` prints the slots' times)."""
    wait = plan.next_slot - now
    if wait == float("inf"):
        return f"{plan.recipe} {plan.rule} · no next slot"
    if wait <= 0:
        return f"{plan.recipe} {plan.rule} · next slot due now"
    units = ((86400, "d"), (3600, "h"), (60, "m"), (1, "s"))
    size, unit = next((size, unit) for size, unit in units if wait >= size or size == 1)
    return f"{plan.recipe} {plan.rule} · next in {wait / size:.0f}{unit}"


def refusal(code: str | None, fence: int, current_fence: int | None, order_state: str | None,
            legacy: str = "") -> str:
    """Why a late completion was refused, e.g. 'stale fence 1: order is being re-cooked under fence 2'."""
    if not code:
        return legacy
    if code == RefusalCode.NO_SUCH_ORDER:
        return "no such order"
    if code == RefusalCode.RECOOKING:
        return f"stale fence {fence}: order is being re-cooked under fence {current_fence}"
    if code == RefusalCode.ALREADY_DONE:
        return f"stale fence {fence}: order already done (fence {current_fence})"
    return f"stale fence {fence}: order was taken back ({order_state})"


def short_refusal(code: str | None, current_fence: int | None, order_state: str | None, legacy: str = "") -> str:
    """The ledger pane's few words: 're-cooked under fence 2', 'already done (fence 3)', 'taken back (queued)'."""
    if not code:
        text = legacy.split(": ", 1)[-1]
        for prefix in ("order ", "is being ", "was "):
            text = text.removeprefix(prefix)
        return text
    if code == RefusalCode.NO_SUCH_ORDER:
        return "no such order"
    if code == RefusalCode.RECOOKING:
        return f"re-cooked under fence {current_fence}"
    if code == RefusalCode.ALREADY_DONE:
        return f"already done (fence {current_fence})"
    return f"taken back ({order_state})"


def no_oven_can_cook(recipe: str, waiting: int) -> str:
    """"no oven can cook 'soup' (3 waiting)": a recipe on no live oven's menu (counts stop at the status cap)."""
    count = f"{waiting:,}+" if waiting >= WAITING_COUNT_CAP else f"{waiting:,}"
    return f"no oven can cook {recipe!r} ({count} waiting)"


def stolen(thief: str | None, order_id: int | None, owner: str | None, bucket: int | None) -> str:
    """'oven-3 took #14 from oven-1's bucket 22' (or 'from bucket 22' when the bucket had no owner)."""
    whose = f"{owner}'s bucket" if owner else "bucket"
    return f"{thief} took #{order_id} from {whose} {bucket}"


def event(kind: str, oven: str | None, order_id: int | None, data: dict[str, Any] | None, legacy: str = "") -> str:
    """One event as a sentence."""
    if data is None:
        return legacy
    d = data
    if kind == EventKind.JOIN:
        return f"{oven} joined from {d.get('host')} pid {d.get('pid')}"
    if kind == EventKind.LEAVE:
        return f"{oven} left the kitchen ({d.get('released', 0)} orders handed back)"
    if kind == EventKind.DEAD:
        return f"{oven} missed heartbeats for over {float(d.get('timeout', 0)):g}s: declared dead"
    if kind == EventKind.MOVED:
        return move_summary(RingMove.from_data(d))
    if kind == EventKind.REQUEUE:
        if d.get("why") == TakeBack.BY_HAND:
            return f"burnt order {order_id} requeued by hand"
        return f"order {order_id} back in the queue: {_TAKE_BACK.get(TakeBack(d.get('why')), d.get('why'))}"
    if kind == EventKind.BURNT:
        if "why" in d:
            return f"order {order_id} burnt: {_TAKE_BACK.get(TakeBack(d['why']), d['why'])} on its last attempt"
        return f"order {order_id} burnt after {d.get('attempts')} attempts: {d.get('error')}"
    if kind == EventKind.RETRY:
        return (f"order {order_id} failed (attempt {d.get('attempt')}): {d.get('error')};"
                f" retry in {float(d.get('backoff', 0)):.1f}s")
    if kind == EventKind.REFUSED:
        return "late completion refused: " + refusal(d.get("code"), int(d.get("fence", 0)), d.get("current_fence"),
                                                      d.get("order_state"))
    if kind == EventKind.RELEASED:
        if d.get("why") == "lane":
            return (f"order {order_id} handed back at the upgrade to customer lanes: another order of"
                    f" {d.get('customer')} was cooking")
        return f"order {order_id} handed back to the queue by {oven}"
    if kind == EventKind.CANCELLED:
        return f"order {order_id} cancelled" + (f" while {oven} cooked it" if d.get("was") == "cooking" else "")
    if kind == EventKind.STOLEN:
        return stolen(d.get("thief") or oven, order_id, d.get("owner"), d.get("bucket"))
    return legacy or kind
