"""Messages workers post up to the app: what a refresh saw, what an action did, what the counter said."""

from __future__ import annotations

from textual.message import Message
from textual.notifications import SeverityLevel

from .counter import Answer
from .reader import ShopView

Entry = tuple[float, str, str]  # (at, kind, text) for the event log


class ShopRead(Message):
    """One refresh: the view, which oven pids are this TUI's running children, which children exited."""

    def __init__(self, view: ShopView, ours: set[int], exited: list[tuple[str, int, int]]) -> None:
        super().__init__()
        self.view, self.ours, self.exited = view, ours, exited


class ReadFailed(Message):
    """A refresh could not read the database (it will try again on the next tick)."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class Said(Message):
    """An action finished: lines for the event log, and optionally a toast."""

    def __init__(self, entries: list[Entry], toast: str | None = None,
                 severity: SeverityLevel = "information") -> None:
        super().__init__()
        self.entries, self.toast, self.severity = entries, toast, severity


class Answered(Message):
    """The counter's answer to Take order (``field='answer'``) or a ticket lookup (``'whereabouts'``)."""

    def __init__(self, field: str, answer: Answer) -> None:
        super().__init__()
        self.field, self.answer = field, answer
