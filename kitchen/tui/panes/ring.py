"""The hash ring: every bucket, coloured by the oven that owns it; the buckets that just moved stand out.

Consistent hashing in one picture: when an oven dies only its buckets change colour, and the summary line
says exactly where they went ("21 buckets oven-2 -> oven-1, oven-3").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from kitchen.core import words
from kitchen.core.events import RingMove
from kitchen.core.views import EventRow, Snapshot

from ..present import PALETTE

MOVED_FOR = 30.0  # seconds a moved bucket stays highlighted


@dataclass(frozen=True)
class RingView:
    """What the ring pane draws: bucket owners, the generation, and the latest move."""

    buckets: tuple[tuple[int, str | None, bool], ...] = ()  # (bucket, owner name, just moved)
    generation: int = 0
    colours: dict[str, int] = field(default_factory=dict)
    summary: str = ""  # where the latest move sent buckets, without its generation

    def __hash__(self) -> int:
        return hash((self.buckets, self.generation, self.summary))


def ring_view(status: Snapshot, colours: dict[str, int], last_move: EventRow | None) -> RingView:
    """Mark buckets moved in the current generation, recently, as 'just moved'."""
    gen, now = status.ring_generation, status.now
    cells = tuple((b.bucket, b.oven, b.generation == gen and b.moved_at is not None
                   and now - b.moved_at <= MOVED_FOR and b.prev_oven is not None)
                  for b in status.buckets)
    return RingView(cells, gen, dict(colours), move_text(last_move))


def move_text(event: EventRow | None) -> str:
    """'21 buckets oven-2 -> oven-1, oven-3' from a 'moved' event (a first-release row: its own sentence)."""
    if event is None:
        return ""
    if event.data is None:
        return event.legacy_detail
    return words.move_summary(RingMove.from_data(event.data), with_generation=False)


class RingPane(Widget):
    """All B buckets as a grid; colour = owner, solid block = moved in the latest rebalance."""

    COMPONENT_CLASSES = {f"owner-{i}" for i in range(PALETTE)} | {
        "ring--other", "ring--orphan", "ring--dim", "ring--moved", "ring--summary"}

    view: reactive[RingView] = reactive(RingView)

    def render(self) -> Text:
        v = self.view
        width = max(8, self.content_region.width)
        height = max(1, self.content_region.height)
        t = Text(no_wrap=True, overflow="ellipsis")
        dim = self.get_component_rich_style("ring--dim")
        if not v.buckets:
            return Text("no buckets yet", dim)
        n = len(v.buckets)
        cell, per_row, gap = _layout(n, width, max(1, height - 3))
        moved_style = self.get_component_rich_style("ring--moved", partial=True)
        for i, (bucket, owner, moved) in enumerate(v.buckets):
            style = self._owner(owner, v.colours)
            label = f"{bucket:>2}"[-2:] if cell == 3 else "■"
            t.append(label, style + moved_style if moved else style)
            if cell >= 2 and (i + 1) % per_row:
                t.append(" ")
            if (i + 1) % per_row == 0 and i + 1 < n:
                t.append("\n\n" if gap else "\n")
        counts: dict[str | None, int] = {}
        for _, owner, _ in v.buckets:
            counts[owner] = counts.get(owner, 0) + 1
        t.append("\n")
        for owner, count in sorted(counts.items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
            t.append("■ ", self._owner(owner, v.colours))
            t.append(f"{owner or 'nobody'} {count}  ", dim)
        just_moved = sum(1 for _, _, m in v.buckets if m)
        t.append("\n")
        t.append(f"generation {v.generation}", self.get_component_rich_style("ring--other"))
        if just_moved and v.summary:
            t.append(f" · {just_moved} just moved:\n", dim)
            t.append(v.summary, self.get_component_rich_style("ring--summary"))
        return t

    def _owner(self, owner: str | None, colours: dict[str, int]):
        if owner is None:
            return self.get_component_rich_style("ring--orphan")
        if owner in colours:
            return self.get_component_rich_style(f"owner-{colours[owner]}")
        return self.get_component_rich_style("ring--other")


def _layout(n: int, width: int, rows: int) -> tuple[int, int, bool]:
    """(cell width, buckets per row, blank line between rows): numbers when they fit, else small squares."""
    for cell in (3, 2):
        per_row = _even(n, max(1, width // cell))
        needed = _rows(n, per_row)
        if per_row >= 4 and needed <= rows:
            return cell, per_row, 2 * needed - 1 <= rows
    per_row = _even(n, max(1, width))
    return 1, per_row, 2 * _rows(n, per_row) - 1 <= rows


def _rows(n: int, per_row: int) -> int:
    return -(-n // max(1, per_row))


def _even(n: int, per_row: int) -> int:
    """Prefer a row length that divides the buckets evenly (16 per row for 64), within the width."""
    for candidate in range(min(per_row, n), 0, -1):
        if n % candidate == 0 and candidate >= per_row // 2:
            return candidate
    return per_row
