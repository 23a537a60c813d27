"""The kitchen on screen: panes, key bindings, and the refresh loop that feeds them.

Workers (threads) read the database and post messages up; the app turns each ShopView into pane
attributes. Refreshes never overlap and requests made during one collapse into a single follow-up.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Iterable

from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header

from kitchen.core import words
from kitchen.core.config import Settings
from kitchen.core.errors import KitchenError
from kitchen.core.events import EventKind
from kitchen.core.views import EventRow
from kitchen.protocol import Kitchen

from . import counter, present
from .launcher import Launcher, NoLauncher, exit_text, refusal, signal_pid
from .messages import Answered, ReadFailed, Said, ShopRead
from .panes.events import EventLog
from .panes.ledger import LedgerPane, ledger_view
from .panes.ovens import OvenBoard
from .panes.queue import QueuePane, queue_view
from .panes.ring import RingPane, ring_view
from .panes.taker import OrderTaker
from .panes.tour import TourPane
from .reader import ShopView, read_shop
from .tour import TourStart
from .touring import TOUR_BINDINGS, TOUR_COMMANDS, TourMixin

NARROW_WIDTH, NARROW_HEIGHT = 120, 36

COMMANDS = (  # (palette name, action, help)
    ("order: new", "focus_taker", "Focus the order taker: type a customer, Enter takes the order"),
    ("order: rush", "rush", "Rush hour: ten random orders at once"),
    ("oven: add", "add_oven", "Start one more oven process"),
    ("oven: kill", "kill", "SIGKILL the selected oven: watch the reaper recover its orders and buckets"),
    ("oven: freeze / thaw", "freeze", "SIGSTOP / SIGCONT the selected oven: a zombie's late completion is refused"),
    ("oven: stop", "stop", "SIGTERM the selected oven: it finishes its order, then leaves the ring"),
    ("app: quit", "quit", "Quit; the ovens this screen started are stopped"),
    *TOUR_COMMANDS,
)


class KitchenApp(TourMixin):
    """The shop: order taker, ovens, order list, hash ring, dedup ledger and event log."""

    CSS_PATH = "kitchen.tcss"
    TITLE = "kitchen"
    AUTO_FOCUS = None  # keys go to the kitchen until you press n (or click) to take an order
    BINDINGS = [
        Binding("n", "focus_taker", "Order", id="order.new"),
        Binding("r", "rush", "Rush", id="order.rush"),
        Binding("a", "add_oven", "Add oven", id="oven.add"),
        Binding("1", "select(1)", "Select", key_display="1-9", id="oven.select-1"),
        *[Binding(str(i), f"select({i})", f"Select oven {i}", show=False, id=f"oven.select-{i}")
          for i in range(2, 10)],
        Binding("k", "kill", "Kill", id="oven.kill"),
        Binding("f", "freeze", "Freeze", id="oven.freeze"),
        Binding("s", "stop", "Stop", id="oven.stop"),
        Binding("q", "quit", "Quit", id="app.quit"),
        *TOUR_BINDINGS,
    ]

    def __init__(self, kitchen: Kitchen, settings: Settings | None = None, *, live: bool = True,
                 launcher: Launcher | None = None, label: str | None = None, since: float | None = None,
                 refresh_every: float = 0.4, seed: int | None = None, handle_signals: bool = False,
                 tour: TourStart | None = None, found: str = "") -> None:
        super().__init__()
        self.kitchen = kitchen
        self.settings = settings or kitchen.settings
        self.live = live
        self.launcher: Launcher = launcher or NoLauncher()
        self.since = since
        self.refresh_every = refresh_every
        self.rng = random.Random(seed)
        self.handle_signals = handle_signals
        self.sub_title = f"{label or kitchen.label} · {kitchen.buckets} buckets"
        self.view: ShopView | None = None
        self.cards: list[present.OvenCard] = []
        self.selected = 1
        self.frozen: set[int] = set()
        self.started: set[str] = set()
        self.reads = 0
        self._reading = False
        self._again = False
        self._last_event = 0
        self.tour_at, self.found = tour, found

    # -- layout -------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(icon="🍕")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield OrderTaker(self.settings.menu, id="taker")
                yield QueuePane(id="queue")
            with Vertical(id="right"):
                yield OvenBoard(id="ovens")
                with Horizontal(id="middle"):
                    yield RingPane(id="ring")
                    yield LedgerPane(id="ledger")
                yield EventLog(id="events")
        yield TourPane(id="tour")
        yield Footer()

    def on_mount(self) -> None:
        titles = {"#taker": "Order taker", "#queue": "Order list", "#ovens": "Ovens",
                  "#ring": "Hash ring", "#ledger": "Dedup ledger", "#events": "Event log"}
        for selector, title in titles.items():
            self.query_one(selector).border_title = title
        self.query_one("#ovens").border_subtitle = "1-9 select · k kill · f freeze · s stop"
        self.query_one("#taker").border_subtitle = "n"
        self._fit(self.size.width, self.size.height)
        if self.found:  # persistence on screen: what reopening the database found
            self.query_one(EventLog).add([(self.kitchen.clock(), "info", self.found)])
            self.notify(self.found, timeout=8)
        if self.tour_at is not None:
            self.start_tour(self.tour_at)
        self.request_read()
        if self.live:
            self.set_interval(self.refresh_every, self.request_read)
        if self.handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, self.exit)

    def on_resize(self, event) -> None:
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        """Below 120x36 the layout turns compact (see kitchen.tcss: .narrow)."""
        narrow = width < NARROW_WIDTH or height < NARROW_HEIGHT
        self.screen.set_class(narrow, "narrow")
        for footer in self.query(Footer):
            footer.compact = narrow

    # -- refreshing ---------------------------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """No refresh is running and none is waiting to run."""
        return not self._reading and not self._again

    def request_read(self) -> None:
        """Start a refresh unless one is running; a request made meanwhile runs once it is done."""
        if self._reading:
            self._again = True
            return
        self._reading = True
        self._read(self._last_event)

    @work(thread=True, exclusive=True, group="reader", exit_on_error=False)
    def _read(self, after: int) -> None:
        try:
            view = read_shop(self.kitchen, after)
            exited = self.launcher.reap()
            ours = {o.pid for o in view.status.ovens if self.launcher.owns(o.pid)}
            self.post_message(ShopRead(view, ours, exited))
        except KitchenError as exc:
            self.post_message(ReadFailed(str(exc)))
        except Exception as exc:  # a refresh must never take the screen down
            self.post_message(ReadFailed(f"{exc.__class__.__name__}: {exc}"))
        finally:
            _close_thread_connection(self.kitchen)

    def _showing(self) -> bool:
        """Worker messages can land after quit, when the panes are gone: then there is nothing to update."""
        try:
            return self.is_running and bool(self.screen.query(OvenBoard))
        except Exception:
            return False

    def on_read_failed(self, message: ReadFailed) -> None:
        self._reading = False
        if not self._showing():
            return
        self.query_one(EventLog).add([(time.time(), "info", f"refresh failed: {message.error}")])
        self._follow_up()

    def on_shop_read(self, message: ShopRead) -> None:
        self._reading = False
        if not self._showing():
            return
        self.reads += 1
        self.apply(message.view, message.ours, message.exited)
        self._follow_up()

    def _follow_up(self) -> None:
        if self._again:
            self._again = False
            self.request_read()

    def apply(self, view: ShopView, ours: set[int], exited: list[tuple[str, int, int]]) -> None:
        """Hand each pane its slice of the view (attributes down)."""
        self.view = view
        self.frozen -= {pid for _, pid, _ in exited}
        status = view.status
        cards, hidden = present.cards(status.ovens, timeout=status.heartbeat_timeout,
                                      interval=self.settings.heartbeat_interval, frozen=self.frozen,
                                      ours=ours, since=self.since)
        log = [_log_entry(e) for e in view.events]
        log += self._transitions(cards, view.now)
        log += [(view.now, "exit", exit_text(name, pid, code)) for name, pid, code in exited]
        self.cards = cards
        if self.selected > len(cards):
            self.selected = max(1, len(cards))
        board = self.query_one(OvenBoard)
        board.selected = self.selected
        board.cards = tuple(cards)
        board.border_title = f"Ovens ({len(cards)}{f' +{hidden} more' if hidden else ''})"
        self.query_one(RingPane).view = ring_view(status, present.owner_colours(cards), view.last_move)
        self.query_one(QueuePane).view = queue_view(status, view.throughput, view.recent)
        self.query_one(LedgerPane).view = ledger_view(status, view.ledger, view.refusals)
        self.query_one(EventLog).add(log)
        self.tour_observe(view)
        self._last_event = max(self._last_event, view.last_event_id)

    def _transitions(self, cards: list[present.OvenCard], now: float) -> list[tuple[float, str, str]]:
        """Heartbeat misses are not database events: the screen notices them by comparing refreshes."""
        before = {c.name: c.state for c in self.cards}
        out = []
        for c in cards:
            if c.state == "suspect" and before.get(c.name) not in (None, "suspect"):
                out.append((now, "late", f"{c.name} missed heartbeats: silent {c.heartbeat_age:.1f}s "
                                         f"(declared dead after {c.timeout:g}s)"))
        return out

    # -- actions ------------------------------------------------------------------------------------------

    def action_focus_taker(self) -> None:
        self.query_one("#customer").focus()

    def action_select(self, slot: int) -> None:
        if slot > len(self.cards):
            self.notify(f"there is no oven {slot}", severity="warning")
            return
        self.selected = slot
        self.query_one(OvenBoard).selected = slot

    def action_rush(self) -> None:
        self._rush(self.rng.randrange(1 << 30))

    @work(thread=True, group="writer", exit_on_error=False)
    def _rush(self, seed: int) -> None:
        try:
            tickets = counter.rush(self.kitchen, random.Random(seed), sorted(self.settings.menu))
            text = f"rush hour: 10 orders, tickets #{tickets[0]}-#{tickets[-1]}"
            self.post_message(Said([(self.kitchen.clock(), "you", text)]))
        except KitchenError as exc:
            self.post_message(Said([], f"rush failed: {exc}", "error"))
        finally:
            _close_thread_connection(self.kitchen)

    def action_add_oven(self) -> None:
        taken = {o.name for o in (self.view.status.ovens if self.view else [])} | self.started
        name = present.next_oven_name(taken)
        self.started.add(name)
        self._add_oven(name)

    @work(thread=True, group="writer", exit_on_error=False)
    def _add_oven(self, name: str) -> None:
        try:
            pid = self.launcher.start(name)
            self.post_message(Said([(self.kitchen.clock(), "you", f"started {name} (pid {pid}): "
                                                                  "it joins the ring and takes its share of buckets")]))
        except (KitchenError, OSError) as exc:
            self.post_message(Said([], f"could not start {name}: {exc}", "error"))

    def _target(self) -> present.OvenCard | None:
        card = next((c for c in self.cards if c.slot == self.selected), None)
        if card is None:
            self.notify("no oven selected: press 1-9", severity="warning")
            return None
        why = refusal(self.launcher, name=card.name, host=card.host, pid=card.pid, db_state=card.db_state)
        if why:
            self.notify(why, severity="warning")
            self._say("you", f"refused: {why}")
            return None
        return card

    def _signal(self, card: present.OvenCard, sig: int) -> bool:
        try:
            signal_pid(self.launcher, card.pid, sig)
            return True
        except (ProcessLookupError, PermissionError, OSError) as exc:
            self.notify(f"{card.name}: {exc.__class__.__name__}", severity="error")
            return False

    def action_kill(self) -> None:
        card = self._target()
        if card and self._signal(card, signal.SIGKILL):
            self.frozen.discard(card.pid)
            self._say("you", f"SIGKILL {card.name} (pid {card.pid}): no goodbye; the reaper declares it dead "
                             f"after {card.timeout:g}s of silence")

    def action_freeze(self) -> None:
        card = self._target()
        if card is None:
            return
        if card.pid in self.frozen:
            if self._signal(card, signal.SIGCONT):
                self.frozen.discard(card.pid)
                self._say("you", f"SIGCONT {card.name}: thawed; if it was declared dead, its late completion "
                                 "is refused by the fence")
        elif self._signal(card, signal.SIGSTOP):
            self.frozen.add(card.pid)
            self._say("you", f"SIGSTOP {card.name}: frozen mid-bake; silent past {card.timeout:g}s it is "
                             "declared dead and its order re-cooked elsewhere")

    def action_stop(self) -> None:
        card = self._target()
        if card and self._signal(card, signal.SIGTERM):
            if card.pid in self.frozen:
                self._signal(card, signal.SIGCONT)
                self.frozen.discard(card.pid)
            self._say("you", f"SIGTERM {card.name}: it finishes its order, hands back the rest and leaves "
                             "the ring")

    def _say(self, kind: str, text: str) -> None:
        now = self.view.now if self.view else self.kitchen.clock()
        self.query_one(EventLog).add([(now, kind, text)])
        self.request_read()

    def on_said(self, message: Said) -> None:
        if not self._showing():
            return
        self.query_one(EventLog).add(message.entries)
        if message.toast:
            self.notify(message.toast, severity=message.severity)
        self.request_read()

    # -- the counter -------------------------------------------------------------------------------------

    def on_order_taker_submit(self, message: OrderTaker.Submit) -> None:
        self._take(message.recipe, message.customer, message.key, message.priority)

    @work(thread=True, group="writer", exit_on_error=False)
    def _take(self, recipe: str, customer: str | None, key: str | None, priority: int) -> None:
        try:
            self.post_message(Answered("answer", counter.take_order(self.kitchen, recipe, customer, key, priority)))
        finally:
            _close_thread_connection(self.kitchen)

    def on_order_taker_lookup(self, message: OrderTaker.Lookup) -> None:
        self._locate(message.number)

    @work(thread=True, group="writer", exit_on_error=False)
    def _locate(self, number: int) -> None:
        try:
            self.post_message(Answered("whereabouts", counter.locate(self.kitchen, number)))
        finally:
            _close_thread_connection(self.kitchen)

    def on_answered(self, message: Answered) -> None:
        if not self._showing():
            return
        setattr(self.query_one(OrderTaker), message.field, message.answer)
        if message.field == "answer":
            self.request_read()

    # -- the command palette ------------------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for title, action, help_text in COMMANDS:
            yield SystemCommand(title, help_text, lambda a=action: self.run_action(a))
        for card in self.cards:
            yield SystemCommand(f"oven: select {card.slot} {card.name}", f"Select {card.name} ({card.state})",
                                lambda s=card.slot: self.action_select(s))
        yield from super().get_system_commands(screen)


def _log_entry(e: EventRow) -> tuple[float, str, str]:
    """One event for the log pane: (at, kind, sentence)."""
    kind = e.kind.value if isinstance(e.kind, EventKind) else e.kind
    return (e.at, kind, words.event(e.kind, e.oven_name, e.order_id, e.data, e.legacy_detail))


def _close_thread_connection(k: Kitchen) -> None:
    """Worker threads are short-lived: close their connection instead of leaving it to the GC."""
    k.release_thread()


def create_app(kitchen: Kitchen, settings: Settings | None = None, **options) -> KitchenApp:
    """The one app factory, used by ``kitchen tui`` and by the tests (see KitchenApp for options)."""
    return KitchenApp(kitchen, settings, **options)
