"""The tour's pane: the scene's problem in the shop's words, what to press, and — once the kitchen's own
events show it happened — what the queue did and which guarantee that was. Its text wraps (80x24 works)."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ..tour import TourCard


class TourPane(Widget):
    """Attributes down: the app sets ``card``; the pane only draws it."""

    COMPONENT_CLASSES = {"tour--problem", "tour--todo", "tour--done", "tour--guarantee", "tour--keys"}

    card: reactive[TourCard] = reactive(TourCard, layout=True)

    def watch_card(self, card: TourCard) -> None:
        self.border_title = f"Tour {card.progress} · {card.title}" if card.progress else "Tour"
        self.border_subtitle = ("space next · → skip · ← back · . repeat · esc leave" if card.done or card.finished
                                else "space: the tour does it · → skip · ← back · . repeat · esc leave")

    def render(self) -> Text:
        c = self.card
        t = Text()
        if c.problem and not (c.done and self.size.width < 120):  # small screens: the outcome over the problem
            t.append(c.problem, self.get_component_rich_style("tour--problem"))
            t.append("\n")
        if c.done:
            t.append("✔ ", self.get_component_rich_style("tour--done"))
            t.append(c.done, self.get_component_rich_style("tour--done"))
            if c.guarantee:
                t.append("\n")
                t.append("Guarantee: ", self.get_component_rich_style("tour--keys"))
                t.append(c.guarantee, self.get_component_rich_style("tour--guarantee"))
        else:
            t.append("▶ ", self.get_component_rich_style("tour--keys"))
            t.append(c.todo, self.get_component_rich_style("tour--todo"))
        return t
