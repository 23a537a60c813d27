"""The guided tour without processes: its words load from tour.toml, every step of every scene is detected
from a seeded kitchen's own events (and pictured: one snapshot per step), and the keys move through it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kitchen import FrozenClock, Kitchen
from kitchen.cli import build_parser
from kitchen.core import words
from kitchen.core.config import Settings
from kitchen.core.events import EventKind, Flow, RingMove
from kitchen.core.hashing import bucket_for
from kitchen.tui import counter, scenes, tour_scenes
from kitchen.tui.app import COMMANDS, KitchenApp
from kitchen.tui.panes.events import EventLog
from kitchen.tui.panes.ring import RingPane
from kitchen.tui.panes.tour import TourPane
from kitchen.tui.runner import tour_settings
from kitchen.tui.tour import DETECTORS, TourStart, fill, load_scenes
from kitchen.tui.tour_actions import ACTIONS, SIGNALLED
from kitchen.tui.tour_scenes import TOUR_SCENES
from tests.support.waiting import wait_until
from tests.tui.helpers import settled

WIDE = (160, 48)
NARROW = (80, 24)


def test_nine_scenes_each_with_words_a_detector_and_an_action():
    tour = load_scenes()
    assert [s.id for s in tour] == ["async", "persistence", "assignment", "balance", "recovery", "door",
                                    "fence", "retries", "scaling"]
    for s in tour:
        assert s.title and s.problem and s.guarantee and s.steps
        for step in s.steps:
            assert step.detect in DETECTORS and (step.do in ACTIONS or step.do in SIGNALLED)
            assert "space" in step.todo
    with pytest.raises(ValueError, match="no detector 'nope'"):
        load_scenes('[[scene]]\nid="x"\ntitle="t"\nproblem="p"\nguarantee="g"\n'
                    '[[scene.step]]\ntodo="t"\ndo="rush"\ndetect="nope"\ndone="d"\n')


def test_fill_leaves_a_question_mark_for_a_missing_fact():
    assert fill("#{ticket} by {oven}", {"ticket": 4}) == "#4 by ?"


def test_every_tour_step_has_a_seeded_scene():
    steps = sum(len(s.steps) for s in load_scenes())
    assert len(TOUR_SCENES) == steps == 10


@pytest.mark.parametrize("name", sorted(TOUR_SCENES))
def test_tour_step_detected_and_pictured(name, snap_compare, tmp_path):
    """Each step, seeded on a frozen clock: the first refresh detects it from the events after the mark and
    the pane says what the queue did; the scene's panes are outlined."""
    scene = TOUR_SCENES[name](tmp_path)
    app = scene.app()

    async def detected(pilot):
        await settled(pilot)
        assert app.tour is not None and app.tour.step_done, f"{name}: not detected"
        card = app.query_one(TourPane).card
        assert card.done and "?" not in card.done  # every fact of the sentence was found
        assert card.progress.startswith(f"{name[0]} / 9")
        if name == "3-assignment":  # the ring points at the order's bucket
            assert app.query_one(RingPane).view.spot == app.tour.facts["bucket"]
            assert "so oven-3 took it" in card.done

    assert snap_compare(app, terminal_size=WIDE, run_before=detected)


@pytest.mark.parametrize("name", ["5-recovery", "9-scaling"])
def test_tour_step_narrow(name, snap_compare, tmp_path):
    """80x24: the tour's text wraps, the outcome replaces the problem, the ring is the compact grid."""
    app = TOUR_SCENES[name](tmp_path).app()
    assert snap_compare(app, terminal_size=NARROW, run_before=settled)


async def test_keys_move_through_the_tour(tmp_path):
    scene = scenes.empty(tmp_path)
    app = scene.app()
    async with app.run_test(size=WIDE) as pilot:
        await settled(pilot)
        assert app.tour is None and not app.query_one(TourPane).display
        await pilot.press("t")
        pane = app.query_one(TourPane)
        assert app.tour is not None and pane.display and pane.card.progress == "1 / 9"
        assert app.query_one("#taker").has_class("-watch")
        await pilot.press("right", "right")
        assert pane.card.progress == "3 / 9" and app.query_one("#ring").has_class("-watch")
        await pilot.press("left")
        assert pane.card.progress == "2 / 9"
        await pilot.press("full_stop")
        assert pane.card.progress == "2 / 9" and not app.tour.step_done
        for _ in range(8):
            await pilot.press("right")
        assert app.tour.over and "tour over" in pane.card.progress
        await pilot.press("escape")
        assert app.tour is None and not pane.display
    scene.kitchen.close()


async def test_space_does_the_step_and_the_refresh_detects_it(tmp_path):
    """Scene 6 by space alone: the tour sends the same key twice; the dedup ledger's count shows it."""
    scene = scenes.empty(tmp_path)
    app = scene.app(tour=TourStart(5))
    async with app.run_test(size=WIDE) as pilot:
        await settled(pilot)
        assert app.tour is not None and not app.tour.step_done
        await pilot.press("space")
        assert app.tour.acting
        await wait_until(pilot, lambda: app.tour.step_done, what="the duplicate detected")
        assert "same ticket" in app.query_one(TourPane).card.done
    scene.kitchen.close()


async def test_a_steal_of_an_order_queued_before_the_balance_step_does_not_finish_it(tmp_path):
    """The walk's flake: ovens still stealing an earlier rush finished scene 4 before its space, so that press
    went on to scene 5 and the calzone was never ordered. Only a steal of the step's own orders counts."""
    s = scenes.open_scene(tmp_path)
    for i in (1, 2):
        s.join(f"oven-{i}", 4100 + i)
        s.clock.advance(0.5)
    status = s.kitchen.status()
    owned = {o.name: set(o.buckets) for o in status.ovens}
    mine = [c for c in counter.CUSTOMERS if bucket_for(c, status.bucket_count) in owned["oven-1"]]
    theirs = next(c for c in counter.CUSTOMERS if bucket_for(c, status.bucket_count) in owned["oven-2"])
    s.kitchen.submit("calzone", {}, customer=mine[0])  # an earlier rush: oven-1 bakes the calzone ...
    backlog = s.kitchen.submit("margherita", {}, customer=mine[1]).number  # ... this waits behind it
    s.kitchen.submit("pepperoni", {}, customer=theirs)  # ... and oven-2 is busy with its own
    s.cook(1)
    tour_scenes.mark(s, 3)
    s.cook(3)  # oven-2 is done with its own and steals the earlier rush's margherita: after the mark
    assert any(e.kind == EventKind.STOLEN and e.order_id == backlog for e in s.kitchen.events(after=0))
    app = s.app()
    async with app.run_test(size=WIDE) as pilot:
        await settled(pilot)
        tour = app.tour
        assert tour is not None and tour.scene.id == "balance" and not tour.step_done
        await pilot.press("space")  # do it: the calzone and four quick pizzas
        assert tour.acting and tour.index == 3
        await wait_until(pilot, lambda: "tickets" in tour.notes, what="the balance action's tickets")
        for _ in range(30):  # the frozen clock, second by second, until an idle oven steals one of them
            s.cook(1)
            app.request_read()
            await settled(pilot)
            if tour.step_done:
                break
        assert tour.step_done and tour.facts is not None
        assert tour.facts["ticket"] in tour.notes["tickets"] and tour.facts["ticket"] != backlog
    s.kitchen.close()


def test_tour_keys_have_ids_and_palette_commands():
    tour_actions = {b.action for b in KitchenApp.BINDINGS if b.id and b.id.startswith("tour.")}
    assert tour_actions == {"tour_start", "tour_space", "tour_skip", "tour_back", "tour_repeat", "tour_leave"}
    assert tour_actions <= {c[1] for c in COMMANDS}
    assert "tour: start" in [c[0] for c in COMMANDS]


def test_tour_settings_are_quick_and_private(tmp_path):
    settings, ini = tour_settings(Settings(menu={"margherita": 6.0}), tmp_path)
    assert settings.database == str(tmp_path / "kitchen.db") and ini == str(tmp_path / "kitchen.ini")
    assert settings.heartbeat_timeout == 2.0 and settings.max_attempts == 3
    assert dict(settings.menu) == {"margherita": 6.0}


def test_move_reason_says_why_the_move_was_minimal():
    death = RingMove(5, (Flow("oven-2", ("oven-1", "oven-3"), 21),))
    assert words.move_reason(death, {"oven-1", "oven-3"}, 64).startswith("21 of 64 buckets moved: only oven-2's own")
    join = RingMove(6, (Flow("oven-1", ("oven-4",), 8), Flow("oven-3", ("oven-4",), 8)))
    text = words.move_reason(join, {"oven-1", "oven-3", "oven-4", "oven-2"}, 64)
    assert text.startswith("16 of 64 buckets moved, all to oven-4: its fair share of 64/4")


def test_reopening_says_what_it_found(tmp_path):
    """Persistence on screen: queued orders, and orders left cooking on an oven that died unseen — requeued."""
    clock = FrozenClock(1000.0)
    with Kitchen.open(str(tmp_path / "k.db"), clock=clock, heartbeat_timeout=5.0) as k:
        assert counter.reopened(k).endswith("a new order list, nothing queued yet")
        k.submit_many([{"recipe": "margherita", "customer": f"c{i}"} for i in range(12)])
        oven = k.join("oven-9")
        claimed = [oven.claim() for _ in range(3)]
        assert all(claimed)
    clock.advance(60)  # the screen was closed; oven-9 died with three orders in it
    with Kitchen.open(str(tmp_path / "k.db"), clock=clock, heartbeat_timeout=5.0) as k:
        text = counter.reopened(k)
        assert text.endswith(": 12 queued, 0 done, 3 were cooking on ovens that are gone (oven-9) — requeued")
        assert k.status().orders.queued == 12


async def test_the_screen_shows_what_reopening_found(tmp_path):
    scene = scenes.empty(tmp_path)
    app = scene.app(found="reopened data/kitchen.db: 12 queued, 0 done")
    async with app.run_test(size=WIDE) as pilot:
        await settled(pilot)
        assert "reopened data/kitchen.db: 12 queued, 0 done" in [t for _, _, t in app.query_one(EventLog).lines]
    scene.kitchen.close()


def test_the_tour_command_parses():
    assert build_parser().parse_args(["tour"]).command == "tour"


async def test_moved_buckets_flash_when_the_ring_changes_live(tmp_path):
    scene = scenes.killed(tmp_path)
    app = scene.app()
    async with app.run_test(size=WIDE) as pilot:
        await settled(pilot)
        ring = app.query_one(RingPane)
        assert not ring.dimmed and not ring.flashing  # the first picture does not flash
        beats: list[bool] = []
        ring.watch(ring, "dimmed", lambda value: beats.append(value), init=False)
        ring.view = replace(ring.view, generation=ring.view.generation + 1)
        assert ring.flashing
        await wait_until(pilot, lambda: not ring.flashing, timeout=20, what="the flash to end")
        assert beats == [True, False] * 4 and not ring.dimmed  # four off beats, and the marks stay on
    scene.kitchen.close()


@pytest.mark.parametrize("leftovers", [0, 3])
def test_the_balance_action_puts_its_orders_ahead_of_leftovers_it_could_not_wait_out(
        tmp_path, monkeypatch: pytest.MonkeyPatch, leftovers: int) -> None:
    """Orders left from earlier scenes, still queued when scene 4 runs (a loaded machine), would be stolen first
    (older) and the scene's own pizzas never: the action waits a while for them, then sends its own ahead."""
    import random

    import kitchen.tui.tour_actions as tour_actions

    monkeypatch.setattr(tour_actions, "OVENS_WAIT", 0.3)
    with Kitchen.open(str(tmp_path / "k.db"), clock=FrozenClock()) as k:
        k.join("oven-1")
        k.join("oven-2")
        for i in range(leftovers):
            k.submit("margherita", customer=f"left-{i}")
        notes: dict = {}
        lines = ACTIONS["balance"](k, None, k.status(), notes, random.Random(1))
        mine = [k.ticket(n) for n in notes["tickets"]]
        assert len(mine) == 5 and all(t.state == "queued" for t in mine)
        first = min(notes["tickets"])
        priorities = {p for (p,) in k.store.read(lambda cur: (cur.execute(
            "SELECT priority FROM orders WHERE id >= ?", (first,)), cur.fetchall())[1])}
        assert priorities == ({1} if leftovers else {0}), lines
        assert any("go ahead of them" in line for line in lines) == bool(leftovers)
