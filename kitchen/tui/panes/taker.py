"""The order taker: take an order, hand back a ticket at once, "come back later"; look a ticket up.

The pane only collects input and shows answers. It posts messages up (Submit, Lookup); the app does the
database work off the UI thread and sets ``answer`` / ``whereabouts`` back down.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Button, Input, Label, Select, Static

from ..counter import Answer


class OrderTaker(Vertical):
    """Recipe, customer, key, priority -> Take order; a ticket number -> where is my order."""

    BINDINGS = [Binding("escape", "leave", "Back to the kitchen", id="order.leave")]

    class Submit(Message):
        def __init__(self, recipe: str, customer: str | None, key: str | None, priority: int) -> None:
            super().__init__()
            self.recipe, self.customer, self.key, self.priority = recipe, customer, key, priority

    class Lookup(Message):
        def __init__(self, number: int) -> None:
            super().__init__()
            self.number = number

    answer: reactive[Answer] = reactive(Answer("You get a ticket at once: come back later."),
                                        init=False)
    whereabouts: reactive[Answer] = reactive(Answer("Ticket number, then Enter."), init=False)

    def __init__(self, recipes: Iterable[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.recipes = list(recipes)

    def compose(self):
        with Horizontal(classes="field"):
            yield Label("recipe", classes="label")
            yield Select([(r, r) for r in self.recipes], value=self.recipes[0] if self.recipes else Select.BLANK,
                         allow_blank=not self.recipes, compact=True, id="recipe")
        with Horizontal(classes="field"):
            yield Label("customer", classes="label")
            yield Input(placeholder="who is it for (routes the order)", compact=True, id="customer")
        with Horizontal(classes="field"):
            yield Label("key", classes="label")
            yield Input(placeholder="optional: same key = same order", compact=True, id="key")
        with Horizontal(classes="field"):
            yield Label("priority", classes="label")
            yield Input(value="0", type="integer", compact=True, id="priority")
        yield Button("Take order", id="take", compact=True, variant="primary")
        yield Static(id="answer")
        with Horizontal(classes="field"):
            yield Label("ticket #", classes="label")
            yield Input(placeholder="where is my order?", type="integer", compact=True, id="lookup")
        yield Static(id="whereabouts")

    def on_mount(self) -> None:
        self.watch_answer(self.answer)
        self.watch_whereabouts(self.whereabouts)

    def _show(self, widget_id: str, answer: Answer) -> None:
        widget = self.query_one(widget_id, Static)
        widget.update(Text(answer.text))
        for tone in ("ok", "dup", "error", "info"):
            widget.set_class(tone == answer.tone, f"-{tone}")

    def watch_answer(self, answer: Answer) -> None:
        self._show("#answer", answer)

    def watch_whereabouts(self, answer: Answer) -> None:
        self._show("#whereabouts", answer)

    def action_leave(self) -> None:
        """Escape: give the keys back to the kitchen (r, k, 1-9 ...)."""
        self.screen.set_focus(None)

    def take(self) -> None:
        """Read the form and ask the app to take the order."""
        recipe = self.query_one("#recipe", Select).value
        if recipe is Select.BLANK:
            self.answer = Answer("Pick a recipe first.", "error")
            return
        customer = self.query_one("#customer", Input).value.strip() or None
        key = self.query_one("#key", Input).value.strip() or None
        raw = self.query_one("#priority", Input).value.strip() or "0"
        try:
            priority = int(raw)
        except ValueError:
            self.answer = Answer(f"priority must be a whole number, not {raw!r}", "error")
            return
        self.post_message(self.Submit(str(recipe), customer, key, priority))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "take":
            event.stop()
            self.take()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "lookup":
            raw = event.value.strip()
            if not raw.isdigit():
                self.whereabouts = Answer("A ticket is a number, like 42.", "error")
                return
            self.post_message(self.Lookup(int(raw)))
        else:
            self.take()
