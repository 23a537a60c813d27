"""The hash ring: every bucket, coloured by the oven that owns it; the buckets that just moved stand out.

Consistent hashing in one picture. With room, the pane draws the ring as a ring: the buckets on the outer
circle at their hash points, the ovens' virtual nodes as the inner circle's arcs (each point coloured by the
oven whose virtual node comes next clockwise, the oven a bucket walks to). When an oven dies or joins, the
moved buckets stand out and the caption says how many moved and why no smaller move exists. In a small
pane (80x24) it falls back to the compact grid of bucket numbers.
"""

from __future__ import annotations

import bisect
import math
import textwrap
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from kitchen.core import words
from kitchen.core.events import RingMove
from kitchen.core.hashing import stable_hash
from kitchen.core.ring import VNODES
from kitchen.core.views import EventRow, Snapshot

from ..present import PALETTE

MOVED_FOR = 30.0  # seconds a moved bucket stays highlighted
CIRCLE_MIN = (40, 14)  # content width, height below which the grid is drawn instead of the circle
FULL = float(1 << 64)


@dataclass(frozen=True)
class RingView:
    """What the ring pane draws: bucket owners, the generation, and the latest move."""

    buckets: tuple[tuple[int, str | None, bool], ...] = ()  # (bucket, owner name, just moved)
    generation: int = 0
    colours: dict[str, int] = field(default_factory=dict)
    summary: str = ""  # where the latest move sent buckets, without its generation
    reason: str = ""  # why that move was the smallest possible
    points: tuple[tuple[float, str], ...] = ()  # the live ovens' virtual nodes: (fraction of the circle, oven)
    spot: int | None = None  # a bucket to point at (the tour's assignment scene)

    def __hash__(self) -> int:
        return hash((self.buckets, self.generation, self.summary, self.reason, self.points, self.spot))


def ring_view(status: Snapshot, colours: dict[str, int], last_move: EventRow | None) -> RingView:
    """Mark buckets moved in the current generation, recently, as 'just moved'."""
    gen, now = status.ring_generation, status.now
    cells = tuple((b.bucket, b.oven, b.generation == gen and b.moved_at is not None
                   and now - b.moved_at <= MOVED_FOR and b.prev_oven is not None)
                  for b in status.buckets)
    alive = sorted({o.name for o in status.ovens if o.state == "alive"})
    reason = ""
    if last_move is not None and last_move.data is not None:
        reason = words.move_reason(RingMove.from_data(last_move.data), set(alive), status.bucket_count)
    return RingView(cells, gen, dict(colours), move_text(last_move), reason, virtual_nodes(alive))


def virtual_nodes(names: list[str]) -> tuple[tuple[float, str], ...]:
    """Where each oven's virtual nodes sit on the circle (the same hashes as kitchen.core.ring)."""
    return tuple(sorted((stable_hash(f"{name}/{v}") / FULL, name) for name in names for v in range(VNODES)))


def bucket_point(bucket: int) -> float:
    return stable_hash(f"bucket/{bucket}") / FULL


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
    dimmed: reactive[bool] = reactive(False)  # the "off" beat of a flash
    FLASHES = 8  # half-beats of 0.35 s after a live ring change: the moved buckets blink, then stay marked
    _beats = 0

    def watch_view(self, old: RingView, new: RingView) -> None:
        """A change seen live (not the first picture) makes the moved buckets flash for a few seconds."""
        if old.generation and new.generation != old.generation and any(m for _, _, m in new.buckets):
            self._beats = self.FLASHES
            self.set_interval(0.35, self._beat, repeat=self.FLASHES)

    @property
    def flashing(self) -> bool:
        return self._beats > 0

    def _beat(self) -> None:
        self._beats -= 1
        self.dimmed = self._beats > 0 and self._beats % 2 == 1

    def render(self) -> Text:
        v = self.view
        width = max(8, self.content_region.width)
        height = max(1, self.content_region.height)
        dim = self.get_component_rich_style("ring--dim")
        if not v.buckets:
            return Text("no buckets yet", dim)
        if width >= CIRCLE_MIN[0] and height >= CIRCLE_MIN[1]:
            return self._circle(v, width, height)
        t = Text(no_wrap=True, overflow="ellipsis")
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

    def _circle(self, v: RingView, width: int, height: int) -> Text:
        """The ring as a ring: buckets outside, virtual-node arcs inside, counts and the latest move below."""
        just_moved = any(m for _, _, m in v.buckets)
        caption = textwrap.wrap(f"◆ {v.reason or v.summary}", width) if just_moved and (v.reason or v.summary) else []
        caption = caption[:max(0, height - 1 - CIRCLE_MIN[1] // 2)]
        rows = height - 1 - len(caption)
        grid: list[list[tuple[str, Any]]] = [[(" ", None)] * width for _ in range(rows)]
        cx, cy = (width - 1) / 2, (rows - 1) / 2
        outer = _ellipse(cx, cy, cx, cy)
        inner = _ellipse(cx, cy, max(2.0, cx - 6), max(1.0, cy - 2))
        keys = [p for p, _ in v.points]
        for (x, y), at in inner:
            if v.points:
                i = bisect.bisect(keys, at) % len(v.points)
                grid[y][x] = ("·", self._owner(v.points[i][1], v.colours))
        moved_style = self.get_component_rich_style("ring--dim" if self.dimmed else "ring--moved", partial=True)
        taken: set[int] = set()
        for bucket, owner, moved in sorted(v.buckets, key=lambda b: bucket_point(b[0])):
            cell = _free(outer, bucket_point(bucket), taken)
            if cell is None:
                continue
            (x, y), _ = outer[cell]
            style = self._owner(owner, v.colours)
            grid[y][x] = ("◆" if moved else "●", style + moved_style if moved else style)
            if bucket == v.spot:
                grid[y][x] = ("◉", style + self.get_component_rich_style("ring--moved", partial=True))
        owners = {o for _, o, _ in v.buckets}
        middle = [f"{len(v.buckets)} buckets", f"{len(owners - {None})} ovens x {VNODES} virtual nodes",
                  f"generation {v.generation}"]
        for k, line in enumerate(middle):
            y = int(cy) - 1 + k
            x0 = int(cx - len(line) / 2 + 0.5)
            if 0 <= y < rows:
                for j, ch in enumerate(line):
                    if 0 <= x0 + j < width and grid[y][x0 + j][0] == " ":
                        grid[y][x0 + j] = (ch, self.get_component_rich_style("ring--other"))
        t = Text(no_wrap=False, overflow="fold")
        for row in grid:
            for ch, style in row:
                t.append(ch, style)
            t.append("\n")
        self._legend(t, v)
        owner = next((o for b, o, _ in v.buckets if b == v.spot), None)
        if v.spot is not None:
            t.append("\n")
            t.append(f"◉ bucket {v.spot} belongs to {owner or 'nobody'} (next node clockwise)",
                     self.get_component_rich_style("ring--summary"))
        for line in caption:
            t.append("\n")
            t.append(line, self.get_component_rich_style("ring--summary"))
        return t

    def _legend(self, t: Text, v: RingView) -> None:
        dim = self.get_component_rich_style("ring--dim")
        counts: dict[str | None, int] = {}
        for _, owner, _ in v.buckets:
            counts[owner] = counts.get(owner, 0) + 1
        for owner, count in sorted(counts.items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
            t.append("● ", self._owner(owner, v.colours))
            t.append(f"{owner or 'nobody'} {count}  ", dim)

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


def _ellipse(cx: float, cy: float, rx: float, ry: float) -> list[tuple[tuple[int, int], float]]:
    """The character cells of an ellipse, clockwise from the top, each with its fraction of the circle."""
    cells: list[tuple[tuple[int, int], float]] = []
    seen: set[tuple[int, int]] = set()
    steps = 1440
    for i in range(steps):
        a = i / steps
        cell = (round(cx + rx * math.sin(2 * math.pi * a)), round(cy - ry * math.cos(2 * math.pi * a)))
        if cell not in seen:
            seen.add(cell)
            cells.append((cell, a))
    return cells


def _free(cells: list[tuple[tuple[int, int], float]], at: float, taken: set[int]) -> int | None:
    """The first free cell at or after ``at`` (clockwise), so close buckets sit side by side."""
    if not cells:
        return None
    start = bisect.bisect_left([a for _, a in cells], at) % len(cells)
    for step in range(len(cells)):
        i = (start + step) % len(cells)
        if i not in taken:
            taken.add(i)
            return i
    return None
