"""From database rows to what a person sees: oven cards, their states, slots and colours.

Pure functions, no Textual and no I/O, so the rules (when is an oven "suspect"? which incarnation gets
the pane?) are tested without a screen.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from kitchen.core.views import OvenView

MAX_PANES = 9  # keys 1-9
PALETTE = 8  # owner colours defined in kitchen.tcss (.owner-0 .. .owner-7)

STATES = ("idle", "cooking", "suspect", "frozen", "dead", "stopped")


@dataclass(frozen=True)
class OvenCard:
    """One oven pane's worth of facts; ``slot`` is the 1-9 key that selects it."""

    slot: int
    oven_id: int
    name: str
    host: str
    pid: int
    state: str
    db_state: str
    heartbeat_age: float
    timeout: float
    suspect_after: float
    buckets: int
    current_order: int | None
    current_recipe: str | None
    progress: int | None
    cooking: int
    cooked: int
    frozen: bool = False
    ours: bool = False
    current_from: str | None = None  # the current order was taken from this oven's bucket (a steal)
    held: tuple[tuple[int, str, int], ...] = ()  # (ticket, recipe, progress) of each order held: one per busy slot

    @property
    def colour(self) -> int:
        return (self.slot - 1) % PALETTE


def suspect_after(timeout: float, interval: float) -> float:
    """Heartbeat age at which an alive oven looks suspect: half the timeout, never before 1.5 beats."""
    return max(interval * 1.5, timeout * 0.5)


def display_state(db_state: str, age: float, limit: float, cooking: bool, frozen: bool) -> str:
    if db_state == "dead":
        return "dead"
    if db_state != "alive":
        return "stopped"
    if frozen:
        return "frozen"
    if age >= limit:
        return "suspect"
    return "cooking" if cooking else "idle"


def natural(name: str) -> tuple:
    """'oven-10' sorts after 'oven-9'."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def cards(ovens: Iterable[OvenView], *, timeout: float, interval: float, frozen: AbstractSet[int] = frozenset(),
          ours: AbstractSet[int] = frozenset(), since: float | None = None) -> tuple[list[OvenCard], int]:
    """One card per oven name (its alive incarnation, else its latest), at most 9; returns (cards, hidden).

    Gone ovens (dead or left) are shown only if they went after ``since`` (when this TUI opened), so
    yesterday's ovens do not crowd today's screen.
    """
    chosen: dict[str, OvenView] = {}
    for o in ovens:
        if o.state != "alive" and since is not None and (o.died_at or 0) < since:
            continue
        best = chosen.get(o.name)
        if best is None or _rank(o) > _rank(best):
            chosen[o.name] = o
    rows = sorted(chosen.values(), key=lambda o: natural(o.name))
    limit = suspect_after(timeout, interval)
    out = []
    for slot, o in enumerate(rows[:MAX_PANES], start=1):
        is_frozen = o.pid in frozen
        out.append(OvenCard(
            slot=slot, oven_id=o.id, name=o.name, host=o.host, pid=o.pid,
            state=display_state(o.state, o.heartbeat_age, limit, bool(o.cooking), is_frozen),
            db_state=o.state, heartbeat_age=o.heartbeat_age, timeout=timeout, suspect_after=limit,
            buckets=len(o.buckets), current_order=o.current_order, current_recipe=o.current_recipe,
            progress=o.progress, cooking=len(o.cooking), cooked=o.cooked,
            frozen=is_frozen, ours=o.pid in ours, current_from=o.current_from,
            held=tuple((h.ticket, h.recipe, h.progress) for h in o.held),
        ))
    return out, max(0, len(rows) - MAX_PANES)


def _rank(o: OvenView) -> tuple[int, int]:
    return (1 if o.state == "alive" else 0, o.id)


def owner_colours(all_cards: Iterable[OvenCard]) -> dict[str, int]:
    """Oven name -> colour index, shared by the oven panes and the ring."""
    return {c.name: c.colour for c in all_cards}


def next_oven_name(taken: Iterable[str]) -> str:
    """The first free 'oven-N' name."""
    used = set(taken)
    n = 1
    while f"oven-{n}" in used:
        n += 1
    return f"oven-{n}"


def bar(fraction: float, width: int, empty: str = " ") -> str:
    """A smooth horizontal bar of ``width`` cells filled to ``fraction`` (0..1)."""
    if width <= 0:
        return ""
    fraction = min(1.0, max(0.0, fraction))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part and full < width else ""
    return ("█" * full + partial).ljust(width, empty)


def clock_time(at: float) -> str:
    """HH:MM:SS local time (tests pin TZ=UTC)."""
    return time.strftime("%H:%M:%S", time.localtime(at))
