"""The dedup ledger: one row per accepted completion, and every late completion the fence refused.

This is where "exactly once" becomes visible: a zombie oven that wakes up and finishes an order that was
already re-cooked elsewhere shows up here, highlighted, instead of as a second pizza.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from kitchen.core import words
from kitchen.core.views import LedgerRow, RefusalRow, Snapshot

from ..present import clock_time


@dataclass(frozen=True)
class LedgerView:
    """Totals plus the newest rows: (at, order, oven, fence, why it was refused in a few words, or None)."""

    completions: int = 0
    duplicates: int = 0
    refused: int = 0
    rows: tuple[tuple[float, int, str, int, str | None], ...] = ()


def ledger_view(status: Snapshot, ledger: list[LedgerRow], refusals: list[RefusalRow]) -> LedgerView:
    totals = status.ledger
    rows: list[tuple[float, int, str, int, str | None]] = [(r.at, r.order_id, r.oven_name, r.fence, None)
                                                           for r in ledger]
    rows += [(r.at, r.order_id, r.oven_name, r.fence,
              words.short_refusal(r.code, r.current_fence, r.order_state, r.legacy_reason)) for r in refusals]
    rows.sort(key=lambda r: (r[0], r[4] is not None), reverse=True)
    return LedgerView(int(totals.completions), int(totals.duplicate_submissions), int(totals.refused_completions),
                      tuple(rows))


class LedgerPane(Widget):
    """Totals on top, then the newest completions; refused ones stand out."""

    COMPONENT_CLASSES = {"ledger--dim", "ledger--num", "ledger--ok", "ledger--refused", "ledger--dup",
                         "ledger--refused-mark"}

    view: reactive[LedgerView] = reactive(LedgerView)

    def render(self) -> Text:
        v = self.view
        st = self.get_component_rich_style
        dim, num = st("ledger--dim"), st("ledger--num")
        width = max(20, self.content_region.width)
        wide = width >= 46
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("✓ ", st("ledger--ok"))
        t.append(f"{v.completions}", num)
        t.append(" completions, each order cooked once\n" if wide else " cooked once\n", dim)
        t.append("≡ ", st("ledger--dup"))
        t.append(f"{v.duplicates}", num)
        t.append(" repeated orders absorbed by their key\n" if wide else " dups absorbed · ", dim)
        t.append("✗ ", st("ledger--refused-mark"))
        t.append(f"{v.refused}", num)
        t.append(" late completions refused by the fence" if wide else " late refused", dim)
        head = 3 if wide else 2
        if not v.rows:
            t.append("\nno completions yet: each one is written here once, fenced by its claim", dim)
        for at, order, oven, fence, reason in v.rows[: max(0, self.content_region.height - head)]:
            t.append("\n")
            line = Text(no_wrap=True, overflow="ellipsis")
            if width >= 66:
                line.append(f"{clock_time(at)} ", dim)
            line.append(f"#{order:<6}", num)
            line.append(f"{oven:<9} fence {fence:<3}" if wide else f"{oven:<8} f{fence:<3}", dim)
            if reason is None:
                line.append("✓ accepted", st("ledger--ok"))
            else:
                line.append(f"✗ {reason}", st("ledger--refused"))
                line.pad_right(max(0, width - line.cell_len))
                line.stylize(st("ledger--refused"), 0)
            t.append_text(line)
        return t
