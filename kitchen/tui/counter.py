"""The counter's words: taking an order, a rush of orders, and where a ticket is — run in worker threads.

Pure functions over the Kitchen facade (no Textual), so the order taker's sentences are tested directly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kitchen.core.errors import KitchenError
from kitchen.core.views import TicketView

if TYPE_CHECKING:
    from kitchen.protocol import Kitchen

CUSTOMERS = ("ada", "grace", "linus", "guido", "barbara", "ken", "dennis", "margaret", "alan", "edsger",
             "radia", "frances", "donald", "hedy", "john", "katherine")
SIZES = ("S", "M", "L")


@dataclass(frozen=True)
class Answer:
    """What the counter says back: a sentence and its tone ('ok', 'dup', 'error', 'info')."""

    text: str
    tone: str = "info"


def take_order(k: Kitchen, recipe: str, customer: str | None, key: str | None, priority: int) -> Answer:
    """Write the order down and hand back its ticket at once — the cooking happens later."""
    try:
        t = k.submit(recipe, {"size": "M"}, customer=customer, key=key, priority=priority)
    except KitchenError as exc:
        return Answer(f"Not taken: {exc}", "error")
    if t.duplicate:
        return Answer(f"Key {key!r} was ordered before: that is ticket #{t.number}. Nothing new to cook.", "dup")
    who = f" for {customer}" if customer else ""
    return Answer(f"Ticket #{t.number}{who}: {recipe}, bucket {t.bucket}. Come back later!", "ok")


def rush(k: Kitchen, rng: random.Random, recipes: list[str], count: int = 10) -> list[int]:
    """Rush hour: ``count`` random orders in one transaction; returns their ticket numbers."""
    orders = [{"recipe": rng.choice(recipes), "customer": rng.choice(CUSTOMERS),
               "payload": {"size": rng.choice(SIZES)}, "priority": 1 if rng.random() < 0.2 else 0}
              for _ in range(count)]
    return [t.number for t in k.submit_many(orders)]


def locate(k: Kitchen, number: int) -> Answer:
    """Where is my order? One sentence from the ticket's row."""
    try:
        t = k.ticket(number)
    except KitchenError as exc:
        return Answer(str(exc), "error")
    return Answer(describe(t), "error" if t.state == "burnt" else "ok")


def describe(t: TicketView) -> str:
    who = f" for {t.customer}" if t.customer else ""
    head = f"#{t.ticket} {t.recipe}{who}"
    state = t.state
    if state == "queued":
        again = f", attempt {t.attempts + 1} next" if t.attempts else ""
        return f"{head}: in the queue (bucket {t.bucket}{again}); an oven owning that bucket will take it."
    if state == "cooking":
        return f"{head}: cooking in {t.oven} ({t.progress}%, attempt {t.attempts}, fence {t.fence})."
    if state == "done":
        result = f" -> {t.result}" if t.result is not None else ""
        return f"{head}: done by {t.oven} (attempt {t.attempts}, fence {t.fence}){result}."
    if state == "cancelled":
        return f"{head}: cancelled after {t.attempts} attempt{'s' if t.attempts != 1 else ''}; it will not cook."
    return f"{head}: burnt after {t.attempts} attempts: {t.error}. `kitchen requeue {t.ticket}` retries it."


def reopened(k: Kitchen) -> str:
    """What the shop found on opening its database: persistence, said out loud. Runs one reaper pass first,
    so orders left cooking on ovens that died while nobody watched are back in the queue before the screen
    opens."""
    before = k.status()
    if before.orders.submitted == 0:
        return f"opened {k.label}: a new order list, nothing queued yet"
    report = k.reap()
    now = k.status() if report else before
    o = now.orders
    parts = [f"reopened {k.label}: {o.queued} queued", f"{o.done} done"]
    if o.burnt:
        parts.append(f"{o.burnt} burnt")
    if report.requeued:
        gone = ", ".join(sorted(report.dead)) or "ovens that are gone"
        parts.append(f"{len(report.requeued)} were cooking on ovens that are gone ({gone}) — requeued")
    elif o.cooking:
        ovens = ", ".join(sorted({v.name for v in now.ovens if v.state == "alive" and v.cooking}))
        parts.append(f"{o.cooking} cooking on ovens from before ({ovens}); if those are gone, they are requeued "
                     f"after {now.heartbeat_timeout:g}s of silence")
    return ", ".join(parts)
