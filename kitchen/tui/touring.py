"""The tour on the running kitchen: keys, palette commands and the glue between refreshes and the tour.

A mixin of KitchenApp (kept out of app.py so the app stays one idea): each refresh feeds the tour the new
events and the status; the tour says when a step happened; the panes the scene is about are outlined.
Actions that write run in worker threads (tour_actions.py); signals follow what a refresh showed.
"""

from __future__ import annotations

import random
from dataclasses import replace

from textual import work
from textual.app import App
from textual.binding import Binding

from kitchen.core.errors import KitchenError
from kitchen.core.events import EventKind
from kitchen.protocol import Kitchen

from . import present
from .launcher import Launcher
from .messages import Said
from .panes.ring import RingPane
from .panes.tour import TourPane
from .reader import ShopView
from .tour import Tour, TourCard, TourStart, load_scenes
from .tour_actions import ACTIONS

TOUR_BINDINGS = [
    Binding("t", "tour_start", "Tour", id="tour.start"),
    Binding("space", "tour_space", "Do it / next", id="tour.space"),
    Binding("right", "tour_skip", "Skip", id="tour.skip"),
    Binding("left", "tour_back", "Back", id="tour.back"),
    Binding("full_stop", "tour_repeat", "Repeat", key_display=".", id="tour.repeat"),
    Binding("escape", "tour_leave", "Leave tour", id="tour.leave"),
]

TOUR_COMMANDS = (
    ("tour: start", "tour_start", "A guided tour: nine scenes, one per idea of the pizza-shop note"),
    ("tour: do it / next", "tour_space", "The tour does what the scene asks, or goes on once it happened"),
    ("tour: skip", "tour_skip", "Skip to the next scene"),
    ("tour: back", "tour_back", "Back to the previous scene"),
    ("tour: repeat", "tour_repeat", "Start this scene again"),
    ("tour: leave", "tour_leave", "Leave the tour; the kitchen keeps running"),
)
PANES = {"taker": "#taker", "queue": "#queue", "ovens": "#ovens", "ring": "#ring", "ledger": "#ledger",
         "events": "#events"}


class TourMixin(App):
    """Tour state and actions for KitchenApp (which provides view, cards, kitchen, launcher, live...)."""

    tour: Tour | None = None
    view: ShopView | None
    kitchen: Kitchen
    launcher: Launcher
    live: bool
    cards: list[present.OvenCard]
    frozen: set[int]
    selected: int
    rng: random.Random
    _last_event: int

    def action_kill(self) -> None:
        raise NotImplementedError

    def action_freeze(self) -> None:
        raise NotImplementedError

    # -- starting, moving, leaving ------------------------------------------------------------------

    def start_tour(self, at: TourStart | None = None) -> None:
        """Open the tour at ``at`` (default: the first scene, counting events after the newest on screen)."""
        if self.tour is None:
            self.tour = Tour(load_scenes())
        if at is None or (at.base is None and not at.after and not at.notes):
            self._tour_begin(at.index if at else 0, at.step if at else 0)
            return
        self.tour.begin(at.index, at.base, at.after, at.step)
        self.tour.notes.update(at.notes)
        self._tour_show()

    def _tour_begin(self, index: int, step: int = 0) -> None:
        assert self.tour is not None
        status = self.view.status if self.view else None
        self.tour.begin(index, status, self._last_event, step)
        if step == 0 and self.live:
            self._tour_do("ensure_ovens")
        self._tour_show()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action.startswith("tour_") and action != "tour_start":
            return self.tour is not None
        return True

    def action_tour_start(self) -> None:
        self.start_tour()

    def action_tour_skip(self) -> None:
        if self.tour is None:
            return
        if self.tour.index + 1 >= len(self.tour.scenes):
            self.tour.over = True
            self._tour_show()
        else:
            self._tour_begin(self.tour.index + 1)

    def action_tour_back(self) -> None:
        if self.tour is not None:
            self._tour_begin(max(0, self.tour.index - 1) if not self.tour.over else self.tour.index)

    def action_tour_repeat(self) -> None:
        if self.tour is not None:
            self._tour_begin(self.tour.index)

    def action_tour_leave(self) -> None:
        self.tour = None
        self._tour_show()
        self.refresh_bindings()

    def action_tour_space(self) -> None:
        t = self.tour
        if t is None:
            return
        if t.over:
            self.action_tour_leave()
        elif t.scene_done:
            self.action_tour_skip()
        elif t.step_done:
            self._tour_begin(t.index, t.step + 1)
        elif t.acting:
            self.notify("the tour already did it: watching the kitchen (→ skips the scene)", timeout=3)
        else:
            t.acting = True
            self._tour_act(t.current.do)
            self._tour_show()

    # -- doing ------------------------------------------------------------------------------------------

    def _tour_act(self, name: str) -> None:
        assert self.tour is not None
        notes = self.tour.notes
        if name == "kill":
            notes["kill_when_cooking"] = True
            self._tour_do("rush")
        elif name == "freeze":
            notes["freeze_when_cooking"] = True
            self._tour_do("calzones")
        else:
            self._tour_do(name)
        self._tour_follow()

    @work(thread=True, group="writer", exit_on_error=False)
    def _tour_do(self, name: str) -> None:
        k = self.kitchen
        notes = self.tour.notes if self.tour else {}
        try:
            lines = ACTIONS[name](k, self.launcher, self.view.status if self.view else None, notes,
                                  random.Random(self.rng.randrange(1 << 30)))
            self.post_message(Said([(k.clock(), "you", line) for line in lines]))
        except (KitchenError, OSError) as exc:
            self.post_message(Said([], f"tour: {exc}", "error"))
        finally:
            k.release_thread()

    def _tour_follow(self) -> None:
        """Signals that wait for a moment: kill or freeze an oven once it cooks; thaw it once declared dead."""
        t = self.tour
        if t is None or not self.live:
            return
        notes = t.notes
        cooking = [c for c in self.cards if c.ours and c.db_state == "alive" and c.current_order
                   and c.pid not in self.frozen]
        if notes.get("kill_when_cooking") and cooking:
            notes.pop("kill_when_cooking")
            self.selected = cooking[0].slot
            self.action_kill()
        calzones = [c for c in cooking if c.current_recipe == "calzone"]
        if notes.get("freeze_when_cooking") and calzones:
            notes.pop("freeze_when_cooking")
            self.selected = calzones[0].slot
            self.action_freeze()
            notes["frozen"] = calzones[0].name
        frozen = notes.get("frozen")
        if frozen and any(e.kind == EventKind.DEAD and e.oven_name == frozen for e in t.events):
            card = next((c for c in self.cards if c.name == frozen and c.pid in self.frozen), None)
            notes.pop("frozen")
            if card is not None:
                self.selected = card.slot
                self.action_freeze()

    # -- watching -----------------------------------------------------------------------------------------

    def tour_observe(self, view: ShopView) -> None:
        """Called with every refresh, before its events are counted as seen."""
        t = self.tour
        if t is None:
            return
        ring = self.query_one(RingPane)
        if t.observe(view.status, view.events, view.recent) and self.live:
            self.notify(f"{t.index + 1} / {len(t.scenes)} {t.scene.title}: it happened", timeout=3)
        self._tour_follow()
        self._tour_show()
        if t.facts and "bucket" in t.facts and t.scene.id == "assignment":  # point at the order's bucket
            ring.view = replace(ring.view, spot=int(t.facts["bucket"]))

    def _tour_show(self) -> None:
        pane = self.query_one(TourPane)
        t = self.tour
        pane.card = t.card() if t is not None else TourCard()
        self.screen.set_class(t is not None, "touring")
        watched = set(t.scene.panes) if t is not None and not t.over else set()
        for name, selector in PANES.items():
            widget = self.query_one(selector)
            widget.set_class(name in watched and not (t and t.step_done), "-watch")
            widget.set_class(name in watched and bool(t and t.step_done), "-changed")
        self.refresh_bindings()
