"""Every action through the keyboard, with fake ovens (joined through the real engine, signals recorded)."""

from __future__ import annotations

import pytest

from kitchen import FrozenClock, Kitchen
from kitchen.tui import create_app
from kitchen.tui.app import KitchenApp
from kitchen.tui.panes.events import EventLog
from kitchen.tui.panes.ovens import OvenBoard, OvenPane
from kitchen.tui.panes.taker import OrderTaker
from tests.support.waiting import wait_until
from tests.tui.fakes import FakeLauncher
from tests.tui.helpers import settled


@pytest.fixture
def shop(tmp_path):
    clock = FrozenClock(1_767_258_000.0)
    k = Kitchen.open(str(tmp_path / "k.db"), clock=clock, heartbeat_timeout=5.0)
    launcher = FakeLauncher(k)
    for _ in range(3):
        launcher.start(f"oven-{len(launcher.names) + 1}")
    yield k, clock, launcher
    k.close()


def make_app(shop) -> KitchenApp:
    k, _, launcher = shop
    return create_app(k, live=False, launcher=launcher, seed=1)


def log_text(app: KitchenApp) -> str:
    return "\n".join(text for _, _, text in app.query_one(EventLog).lines)


def card(app: KitchenApp, name: str):
    return next(c for c in app.cards if c.name == name)


async def refreshed(pilot, condition, what):
    """Ask for a refresh until ``condition`` holds (live refresh is paused in these tests)."""
    app = pilot.app

    def check() -> bool:
        if condition():
            return True
        app.request_read()
        return False

    await wait_until(pilot, check, what=what)


async def test_n_focuses_the_order_taker_and_enter_takes_the_order(shop):
    k, _, _ = shop
    app = make_app(shop)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot)
        await pilot.press("n")
        assert app.focused is app.query_one("#customer")
        await pilot.press(*"ada", "tab", *"ada-1", "enter")
        taker = app.query_one(OrderTaker)
        await wait_until(pilot, lambda: taker.answer.tone == "ok", what="a ticket")
        assert "Ticket #1 for ada" in taker.answer.text and "Come back later" in taker.answer.text
        assert k.ticket(1).key == "ada-1"
        await pilot.click("#take")  # the same key again: absorbed, the first ticket comes back
        await wait_until(pilot, lambda: taker.answer.tone == "dup", what="the duplicate answer")
        assert "ticket #1" in taker.answer.text and k.status().ledger.duplicate_submissions == 1
        app.query_one("#lookup").focus()
        await pilot.press("1", "enter")
        await wait_until(pilot, lambda: taker.whereabouts.tone == "ok", what="the lookup")
        assert taker.whereabouts.text.startswith("#1 margherita for ada: in the queue")
        await pilot.press("escape")
        assert app.focused is None


async def test_bad_priority_and_unknown_ticket_are_answered_not_raised(shop):
    app = make_app(shop)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot)
        taker = app.query_one(OrderTaker)
        app.query_one("#priority").value = "500"
        await pilot.click("#take")
        await wait_until(pilot, lambda: taker.answer.tone == "error", what="the refusal")
        assert "priority must be between -100 and 100" in taker.answer.text
        app.query_one("#lookup").focus()
        await pilot.press(*"77", "enter")
        await wait_until(pilot, lambda: taker.whereabouts.tone == "error", what="the lookup")
        assert "no order with ticket 77" in taker.whereabouts.text


async def test_r_is_rush_hour(shop):
    k, _, _ = shop
    app = make_app(shop)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: "rush hour: 10 orders" in log_text(app), what="the rush")
        assert k.status().orders.submitted == 10
        await refreshed(pilot, lambda: app.view.status.orders.queued == 10, "the queue to show 10")


async def test_a_adds_an_oven_with_the_next_free_name(shop):
    _, _, launcher = shop
    app = make_app(shop)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: "oven-4" in launcher.ovens, what="oven-4 to start")
        await refreshed(pilot, lambda: len(app.query(OvenPane)) == 4, "a fourth pane")
        assert [c.name for c in app.cards] == ["oven-1", "oven-2", "oven-3", "oven-4"]
        assert "started oven-4" in log_text(app)


async def test_digits_select_an_oven(shop):
    app = make_app(shop)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot)
        await pilot.press("2")
        assert app.query_one(OvenBoard).selected == 2
        panes = list(app.query(OvenPane))
        assert [p.has_class("-selected") for p in panes] == [False, True, False]
        await pilot.press("9")  # no ninth oven: selection stays
        assert app.selected == 2


async def test_k_kills_the_selected_oven_and_the_screen_shows_the_recovery(shop):
    k, clock, launcher = shop
    app = make_app(shop)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot)
        generation = app.view.status.ring_generation
        await pilot.press("2", "k")
        assert launcher.signals == [("oven-2", "SIGKILL")]
        assert "SIGKILL oven-2" in log_text(app)
        clock.advance(6)  # the killed oven stays silent; the others beat
        for name in ("oven-1", "oven-3"):
            launcher.ovens[name].heartbeat()
        assert k.reap().dead == ["oven-2"]
        await refreshed(pilot, lambda: card(app, "oven-2").state == "dead", "oven-2 shown dead")
        assert app.view.status.ring_generation == generation + 1
        assert "oven-2 (pid 9002) ended by SIGKILL" in log_text(app)
        assert "declared dead" in log_text(app) and "buckets oven-2 -> oven-1, oven-3" in log_text(app)
        await pilot.press("k")  # a dead oven has nothing left to kill
        assert launcher.signals == [("oven-2", "SIGKILL")]


async def test_f_freezes_and_thaws(shop):
    _, _, launcher = shop
    app = make_app(shop)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot)
        await pilot.press("3", "f")
        assert launcher.signals == [("oven-3", "SIGSTOP")]
        await refreshed(pilot, lambda: card(app, "oven-3").state == "frozen", "oven-3 frozen")
        await pilot.press("f")
        assert launcher.signals[-1] == ("oven-3", "SIGCONT")
        await refreshed(pilot, lambda: card(app, "oven-3").state == "idle", "oven-3 thawed")


async def test_s_stops_gracefully(shop):
    _, _, launcher = shop
    app = make_app(shop)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot)
        await pilot.press("1", "s")
        assert launcher.signals == [("oven-1", "SIGTERM")]
        launcher.ovens["oven-1"].leave()  # what a real oven does on SIGTERM
        await refreshed(pilot, lambda: card(app, "oven-1").state == "stopped", "oven-1 stopped")


async def test_ovens_of_another_host_are_refused(shop):
    k, _, launcher = shop
    k.join("oven-far", host="elsewhere", pid=4242)
    app = make_app(shop)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot)
        slot = card(app, "oven-far").slot
        await pilot.press(str(slot), "k", "f", "s")
        assert launcher.signals == []
        assert "oven-far runs on host elsewhere: signal it there" in log_text(app)


async def test_q_quits(shop):
    app = make_app(shop)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot)
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, what="the app to exit")


def test_every_binding_has_an_id_and_every_action_a_palette_command():
    assert all(b.id for b in KitchenApp.BINDINGS)
    shown = {b.action for b in KitchenApp.BINDINGS if b.show}
    from kitchen.tui.app import COMMANDS

    titles = [c[0] for c in COMMANDS]
    assert {"order: new", "order: rush", "oven: add", "oven: kill", "oven: freeze / thaw", "oven: stop",
            "app: quit"} <= set(titles)
    assert shown - {c[1] for c in COMMANDS} == {"select(1)"}


async def test_palette_lists_the_kitchen_commands(shop):
    app = make_app(shop)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert titles[:7] == ["order: new", "order: rush", "oven: add", "oven: kill", "oven: freeze / thaw",
                              "oven: stop", "app: quit"]
        assert "oven: select 2 oven-2" in titles
