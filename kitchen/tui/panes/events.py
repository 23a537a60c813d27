"""The event log: what the kitchen did (from its event table) and what you did (from this screen)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ..present import clock_time

KINDS = ("join", "leave", "dead", "requeue", "released", "moved", "stolen", "refused", "retry", "burnt", "late",
         "you", "exit", "info")
KEEP = 300


class EventLog(Widget):
    """The newest events that fit, newest at the bottom; kinds are coloured (see kitchen.tcss)."""

    COMPONENT_CLASSES = {f"event--{k}" for k in KINDS} | {"event--time", "event--text"}

    lines: reactive[tuple[tuple[float, str, str], ...]] = reactive(tuple)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._kept: deque[tuple[float, str, str]] = deque(maxlen=KEEP)

    def add(self, entries: Iterable[tuple[float, str, str]]) -> None:
        """Append (at, kind, text) entries; one repaint however many arrive."""
        before = len(self._kept)
        self._kept.extend(entries)
        if len(self._kept) != before or before == KEEP:
            self.lines = tuple(self._kept)

    def render(self) -> Text:
        height = max(1, self.content_region.height)
        st = self.get_component_rich_style
        t = Text(no_wrap=True, overflow="ellipsis")
        shown = self.lines[-height:]
        if not shown:
            return Text("the kitchen's log appears here", st("event--time"))
        for i, (at, kind, text) in enumerate(shown):
            if i:
                t.append("\n")
            t.append(f"{clock_time(at)} ", st("event--time"))
            style = f"event--{kind}" if kind in KINDS else "event--info"
            t.append(f"{kind:<8} ", st(style))
            t.append(text, st("event--text"))
        return t
