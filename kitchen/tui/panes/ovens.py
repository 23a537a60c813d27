"""One pane per oven: is it alive, what is it cooking, how late is its heartbeat.

The board receives a list of OvenCards (attributes down) and keeps one pane per slot; each pane draws
itself from its card, as a bordered card when it has room and as one line when the screen is narrow.
"""

from __future__ import annotations

from rich.text import Text
from textual.containers import Container
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from ..present import PALETTE, STATES, OvenCard, bar

WHY = {
    "idle": "waiting for orders",
    "suspect": "heartbeat late: dead if silent",
    "dead": "dead: its orders were requeued",
    "frozen": "frozen (SIGSTOP): f thaws it",
    "stopped": "left: buckets handed over",
}


class OvenPane(Widget):
    """A single oven, drawn from its card."""

    COMPONENT_CLASSES = {f"owner-{i}" for i in range(PALETTE)} | {
        "oven--dim", "oven--bar", "oven--bar-empty", "oven--late", "oven--dead", "oven--ok", "oven--state"}

    card: reactive[OvenCard | None] = reactive(None)
    selected: reactive[bool] = reactive(False)

    def watch_card(self, old: OvenCard | None, new: OvenCard | None) -> None:
        if new is None:
            return
        for state in STATES:
            self.set_class(new.state == state, f"-{state}")
        self.border_title = f"{new.slot} {new.name}"
        self.border_subtitle = new.state + (" · frozen" if new.frozen and new.state != "frozen" else "")

    def watch_selected(self, selected: bool) -> None:
        self.set_class(selected, "-selected")

    def _style(self, name: str):
        return self.get_component_rich_style(name)

    def render(self) -> Text:
        c = self.card
        if c is None:
            return Text("")
        width = max(10, self.content_region.width or self.size.width)
        if self.content_region.height <= 1:
            return self._line(c, width)
        return self._card(c, width)

    def _beat(self, c: OvenCard) -> str:
        if c.state in ("dead", "stopped") or c.heartbeat_age >= c.timeout:
            return "oven--dead"
        return "oven--late" if c.heartbeat_age >= c.suspect_after else "oven--ok"

    def _card(self, c: OvenCard, width: int) -> Text:
        dim = self._style("oven--dim")
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("● ", self._style(f"owner-{c.colour}"))
        t.append(f"pid {c.pid} @ {c.host}", dim)
        if c.ours:
            t.append("  started here", dim)
        t.append("\n")
        label = "silent " if c.state in ("dead", "stopped") else "heartbeat "
        age = f"{c.heartbeat_age:4.1f}s"
        gauge = max(4, width - len(label) - len(age) - 6)
        t.append(label, dim)
        t.append(age, self._style(self._beat(c)))
        t.append(" ")
        t.append(bar(c.heartbeat_age / c.timeout, gauge, "·"), self._style(self._beat(c)))
        t.append(f" {c.timeout:g}s\n", dim)
        t.append(f"{c.buckets}", self._style("oven--state"))
        t.append(" buckets · ", dim)
        t.append(f"{c.cooked}", self._style("oven--state"))
        t.append(" done" + (f" · {c.cooking} cooking" if c.cooking > 1 else "") + "\n", dim)
        if len(c.held) > 1 and c.state not in ("dead", "stopped"):
            self._slots(t, c, width)
        elif c.current_order is not None and c.state not in ("dead", "stopped"):
            t.append(f"#{c.current_order} {c.current_recipe}", self._style("oven--state"))
            t.append(f" · from {c.current_from}\n" if c.current_from else "\n", dim)
            pct = c.progress or 0
            t.append(bar(pct / 100, max(4, width - 5), " "), self._style("oven--bar"))
            t.append(f"{pct:>4}%", dim)
        else:
            t.append(WHY.get(c.state, ""), dim)
        return t

    def _slots(self, t: Text, c: OvenCard, width: int, lines: int = 2) -> None:
        """An oven cooking several orders at once (``--concurrency N``): one cell per held order, each with its
        ticket, recipe and progress, as many as fit in ``lines`` lines ("+3 more" for the rest)."""
        dim, state = self._style("oven--dim"), self._style("oven--state")
        per_line = max(1, (width + 1) // 16)  # cells of 15+ columns: "#12 calzone 75%"
        cell = (width - (per_line - 1)) // per_line
        room = per_line * lines
        shown = c.held if len(c.held) <= room else c.held[:room - 1]
        for i, (ticket, recipe, pct) in enumerate(shown):
            if i and i % per_line == 0:
                t.append("\n")
            elif i:
                t.append(" ")
            head = f"#{ticket} "
            name = recipe[:max(1, cell - len(head) - 5)]
            t.append(head + name, state)
            t.append(f"{pct:>4}%".rjust(cell - len(head) - len(name)), dim)
        if len(shown) < len(c.held):
            t.append(" " if len(shown) % per_line else "\n")
            t.append(f"+{len(c.held) - len(shown)} more", dim)

    def _line(self, c: OvenCard, width: int) -> Text:
        dim = self._style("oven--dim")
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f"{c.slot}", self._style("oven--state"))
        t.append("●", self._style(f"owner-{c.colour}"))
        t.append(f"{c.name:<7}", self._style("oven--state"))
        t.append(f" {c.state:<7} ", self._style(self._beat(c) if c.state != "cooking" else "oven--ok"))
        t.append(f"{c.heartbeat_age:4.1f}s", self._style(self._beat(c)))
        t.append(f" {c.buckets:>2}b ✓{c.cooked:<3}", dim)
        if len(c.held) > 1 and c.state not in ("dead", "stopped"):  # slots: the count, not one order's progress
            t.append(f" {len(c.held)}×", self._style("oven--state"))
            return t
        room = width - t.cell_len - 1
        if c.current_order is not None and c.state not in ("dead", "stopped"):
            pct = c.progress or 0
            if room >= 10:
                t.append(" ")
                t.append(bar(pct / 100, room - 5, "·"), self._style("oven--bar"))
            t.append(f" {pct:>3}%", dim)
        return t


class OvenBoard(Container):
    """The ovens, one pane each, in slot order; the selected one is highlighted."""

    cards: reactive[tuple[OvenCard, ...]] = reactive(tuple, always_update=False)
    selected: reactive[int] = reactive(1)
    hidden: reactive[int] = reactive(0)

    def compose(self):
        yield Static("No ovens yet: press a to add one.", id="no-ovens")

    def watch_cards(self, cards: tuple[OvenCard, ...]) -> None:
        panes = list(self.query(OvenPane))
        if len(panes) < len(cards):
            new = [OvenPane() for _ in range(len(cards) - len(panes))]
            self.mount_all(new)
            panes += new
        for pane in panes[len(cards):]:
            pane.remove()
        for pane, card in zip(panes, cards):
            pane.card = card
            pane.selected = card.slot == self.selected
        self.query_one("#no-ovens").display = not cards
        self.set_class(len(cards) > 3, "-many")

    def watch_selected(self, selected: int) -> None:
        for pane in self.query(OvenPane):
            pane.selected = pane.card is not None and pane.card.slot == selected
