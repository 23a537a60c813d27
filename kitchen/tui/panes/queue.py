"""The order list: how many orders wait, cook, are done, burnt or cancelled; how fast they go; the newest
tickets."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Sparkline

from kitchen.core import words
from kitchen.core.views import RecentOrder, Snapshot

STATE_MARK = {"queued": "…", "cooking": "♨", "done": "✓", "burnt": "✗", "cancelled": "⊘"}
STYLES = {"queue--queued", "queue--cooking", "queue--done", "queue--burnt", "queue--cancelled", "queue--dim",
          "queue--num"}


@dataclass(frozen=True)
class QueueView:
    """Counts, completions per second (oldest first), the newest orders, what no live oven can cook, and the
    periodic recipes with their next slot."""

    counts: tuple[tuple[str, int], ...] = ()
    extra: tuple[tuple[str, int], ...] = ()
    throughput: tuple[float, ...] = ()
    recent: tuple[tuple[int, str, str | None, str, int, int], ...] = ()
    stuck: tuple[str, ...] = ()
    schedule: tuple[str, ...] = ()  # periodic recipes and their next slot


def queue_view(status: Snapshot, throughput: list[float], recent: list[RecentOrder]) -> QueueView:
    o = status.orders
    counts: tuple[tuple[str, int], ...] = (
        ("queued", int(o.queued)), ("cooking", int(o.cooking)), ("done", int(o.done)), ("burnt", int(o.burnt)))
    if o.cancelled:  # shown once there is one: a shop that never cancels keeps its four counts
        counts += (("cancelled", int(o.cancelled)),)
    extra = (("submitted", int(o.submitted)), ("requeued", int(status.requeued)), ("retried", int(status.retried)))
    rows = tuple((r.id, r.recipe, r.customer, r.state, r.progress or 0, r.attempt) for r in recent)
    stuck = tuple(words.no_oven_can_cook(recipe, n) for recipe, n in sorted(status.no_oven_can_cook.items()))
    schedule = tuple(words.schedule_line(plan, status.now) for plan in status.schedule)
    return QueueView(counts, extra, tuple(throughput), rows, stuck, schedule)


class QueueCounts(Widget):
    """Counts per state (two per line when narrow) and the current throughput."""

    COMPONENT_CLASSES = STYLES
    view: reactive[QueueView] = reactive(QueueView)

    def render(self) -> Text:
        v, st = self.view, self.get_component_rich_style
        dim, num = st("queue--dim"), st("queue--num")
        per_line = 4 if self.content_region.width >= 46 else 2
        t = Text()
        for i, (state, n) in enumerate(v.counts):
            if i and i % per_line == 0:
                t.append("\n")
            t.append(f"{STATE_MARK[state]} ", st(f"queue--{state}"))
            t.append(f"{n}", num)
            t.append(f" {state}".ljust(10), dim)
        t.append("\n")
        t.append("  ".join(f"{name} {n}" for name, n in v.extra), dim)
        last10 = sum(v.throughput[-10:]) / 10 if v.throughput else 0.0
        peak = max(v.throughput) if v.throughput else 0.0
        t.append("\n")
        t.append(f"{last10:.1f}", num)
        t.append(f" done/s now · peak {peak:g}/s · last {len(v.throughput)}s", dim)
        for line in v.stuck:
            t.append("\n")
            t.append(line, st("queue--burnt"))
        for line in v.schedule:
            t.append("\n")
            t.append(f"⏲ {line}", dim)
        return t


class RecentOrders(Widget):
    """The newest tickets, one per line, with their state."""

    COMPONENT_CLASSES = STYLES
    view: reactive[QueueView] = reactive(QueueView)

    def render(self) -> Text:
        v, st = self.view, self.get_component_rich_style
        dim, num = st("queue--dim"), st("queue--num")
        if not v.recent:
            return Text("no orders yet: take one, or press r for a rush", dim)
        wide = self.content_region.width >= 40
        recipe_w, customer_w = (16, 10) if wide else (12, 8)
        t = Text()
        for i, (number, recipe, customer, state, progress, attempt) in enumerate(v.recent):
            if i:
                t.append("\n")
            t.append(f"#{number:<5}", num)
            t.append(f"{recipe[:recipe_w - 1]:<{recipe_w}}")
            t.append(f"{(customer or '-')[:customer_w - 1]:<{customer_w}}", dim)
            mark = STATE_MARK.get(state, "?")
            t.append(f"{mark} {progress}%" if state == "cooking" else f"{mark} {state}", st(f"queue--{state}"))
            if attempt > 1:
                t.append(f" ↻{attempt}", dim)
        return t


class QueuePane(Vertical):
    """Counts per state, a throughput sparkline, and the newest orders."""

    view: reactive[QueueView] = reactive(QueueView, init=False)

    def compose(self):
        yield QueueCounts(id="counts")
        yield Sparkline([0.0], id="throughput")
        yield RecentOrders(id="recent")

    def watch_view(self, v: QueueView) -> None:
        self.query_one(QueueCounts).view = v
        self.query_one(Sparkline).data = list(v.throughput) or [0.0]
        self.query_one(RecentOrders).view = v
