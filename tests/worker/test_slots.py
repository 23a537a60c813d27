"""Concurrency inside an oven, in one process: N slots cook at once under one incarnation and one heartbeat;
lanes hold across slots; a cancel reaches only its slot; a lost incarnation is rejoined once, not per slot."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from typing import Any

import pytest

from kitchen import FrozenClock, Kitchen
from kitchen.core.config import Settings
from kitchen.core.errors import ConfigError
from kitchen.ovens.recipes import Cooking, Menu
from kitchen.ovens.slots import Doorbell, Slots, check_concurrency
from tests.support.waiting import wait_for

SLOW_BEATS = {"heartbeat_interval": 30.0, "heartbeat_timeout": 60.0, "lease": 120.0}  # beats driven by the test


@pytest.fixture
def kitchen(backend_url: str) -> Iterator[Kitchen]:
    k = Kitchen.open(backend_url, clock=FrozenClock(), poll_interval=0.05, **SLOW_BEATS)
    yield k
    k.close()


@contextmanager
def running(slots: Slots) -> Iterator[threading.Thread]:
    """``slots.run()`` on a thread (no signal handlers); stopped and joined at the end."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            slots.run(install_signals=False)
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        slots.stop.set()
        thread.join(30)
        assert not thread.is_alive(), "the oven did not stop"
        assert not failed, failed


def test_n_slots_cook_n_orders_at_once_under_one_incarnation(kitchen: Kitchen) -> None:
    together = threading.Barrier(4, timeout=20)  # each recipe returns only once all four are cooking
    menu = Menu()
    menu.register("meet", lambda ctx: together.wait())
    tickets = kitchen.submit_many([{"recipe": "meet"} for _ in range(8)])
    slots = Slots(kitchen, "oven-1", menu, 4, burst=True)
    with running(slots) as thread:
        thread.join(30)
        assert not thread.is_alive(), "burst did not end once every slot was idle and nothing was ready"
    assert slots.cooked() == 8
    assert sorted(r.order_id for r in kitchen.ledger(100)) == sorted(t.number for t in tickets)
    ovens = [o for o in kitchen.status().ovens if o.name == "oven-1"]
    assert len(ovens) == 1 and ovens[0].state == "left" and ovens[0].cooked == 8, "one incarnation for 4 slots"


def test_a_lane_never_cooks_on_two_slots_at_once_and_keeps_ticket_order(kitchen: Kitchen) -> None:
    lock = threading.Lock()
    active: dict[str, int] = {}
    most: dict[str, int] = {}
    started: list[int] = []

    def lane(ctx: Cooking) -> None:
        who = ctx.order.customer or "-"
        with lock:
            active[who] = active.get(who, 0) + 1
            most[who] = max(most.get(who, 0), active[who])
            started.append(ctx.order.id)
        try:
            ctx.wait(0.01)  # long enough for three idle slots to try the lane's next order meanwhile
        finally:
            with lock:
                active[who] -= 1

    menu = Menu()
    menu.register("lane", lane)
    ada = kitchen.submit_many([{"recipe": "lane", "customer": "ada"} for _ in range(8)])
    kitchen.submit_many([{"recipe": "lane"} for _ in range(8)])
    slots = Slots(kitchen, "oven-1", menu, 4, burst=True)
    with running(slots) as thread:
        thread.join(60)
    assert slots.cooked() == 16
    assert most["ada"] == 1, "two of ada's orders cooked at once"
    assert [n for n in started if n in {t.number for t in ada}] == [t.number for t in ada], "not in ticket order"
    rows = sorted((kitchen.ticket(t.number) for t in ada), key=lambda r: r.ticket)
    for before, after in pairwise(rows):
        assert after.started_at >= before.finished_at, f"#{after.ticket} started before #{before.ticket} finished"


def test_one_heartbeat_carries_every_slots_progress_and_a_cancel_reaches_only_its_slot(kitchen: Kitchen) -> None:
    release = threading.Event()

    def hold(ctx: Cooking, percent: int) -> dict[str, Any]:
        ctx.progress(percent)
        while not release.is_set():
            ctx.wait(0.02)  # raises Cancelled once the heartbeat heard this order's cancel
        return {"percent": percent}

    menu = Menu()
    menu.register("hold", hold)
    tickets = kitchen.submit_many([{"recipe": "hold", "payload": {"percent": p}} for p in (10, 20, 30)])
    slots = Slots(kitchen, "oven-1", menu, 3)
    with running(slots):
        wait_for(lambda: all(s.cooking is not None and s.cooking.progress_value for s in slots.slots),
                 what="three slots cooking, each with its progress")
        slots.beat()
        assert {kitchen.ticket(t.number).progress for t in tickets} == {10, 20, 30}
        oven = next(o for o in kitchen.status().ovens if o.name == "oven-1")
        assert sorted(oven.cooking) == sorted(t.number for t in tickets)
        assert kitchen.cancel(tickets[1].number)
        slots.beat()
        wait_for(lambda: kitchen.ticket(tickets[1].number).state == "cancelled", what="the cancelled order ends")
        assert [kitchen.ticket(t.number).state for t in (tickets[0], tickets[2])] == ["cooking", "cooking"]
        release.set()
        wait_for(lambda: kitchen.status().orders.done == 2, what="the other two done")


def test_a_lost_incarnation_is_rejoined_once_for_all_slots(kitchen: Kitchen) -> None:
    menu = Menu()
    menu.register("noop", lambda ctx: None)
    slots = Slots(kitchen, "oven-1", menu, 3)
    with running(slots):
        wait_for(lambda: slots.oven is not None, what="joined")
        first = slots.oven
        assert first is not None
        kitchen.clock.advance(61.0)  # type: ignore[attr-defined]
        assert "oven-1" in kitchen.reap().dead
        slots.beat()  # refused: every slot learns it is lost
        wait_for(lambda: slots.oven is not first and all(s.oven is slots.oven and not s.lost for s in slots.slots),
                 what="every slot on the new incarnation")
        slots.beat()
        kitchen.submit_many([{"recipe": "noop"} for _ in range(6)])
        wait_for(lambda: kitchen.status().orders.done == 6, what="the new incarnation cooking")
    names = [o for o in kitchen.status().ovens if o.name == "oven-1"]
    assert len(names) == 2, f"one rejoin for three slots, not one each: {[(o.id, o.state) for o in names]}"


def test_a_hard_stop_leaves_once_and_no_slot_rejoins_before_the_exit(kitchen: Kitchen) -> None:
    """One slot's recipe overran: the oven leaves (handing back the rest) and exits. Its leave makes the other
    slots' claims fail as if it were dead; none of them may join a new incarnation in the moment before the exit
    (CI once saw that orphan declared dead a second later, a false death)."""
    menu = Menu()
    menu.register("noop", lambda ctx: None)
    slots = Slots(kitchen, "oven-1", menu, 3)
    exits: list[int] = []
    slots.exit_now = exits.append  # type: ignore[assignment]
    with running(slots):
        wait_for(lambda: slots.oven is not None, what="joined")
        slots.hard_stop(3)
        assert exits == [3] and slots.stop.is_set()
        for slot in slots.slots:  # as each slot would find on its next claim
            slot.lost = True
            assert slot.tick() == "exit"
    ovens = [(o.id, o.state) for o in kitchen.status().ovens if o.name == "oven-1"]
    assert len(ovens) == 1, f"one incarnation, left; no new one: {ovens}"


@pytest.mark.parametrize("value", [0, 257, -1, True, 2.5])
def test_concurrency_outside_1_to_256_is_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="concurrency must be a whole number from 1 to 256"):
        check_concurrency(value)
    if not isinstance(value, bool | float):
        with pytest.raises(ConfigError, match="concurrency must be between 1 and 256"):
            Settings(concurrency=value).validated()


def test_the_doorbell_wakes_one_slot_per_change_and_hands_the_watch_over() -> None:
    changes = threading.Semaphore(0)  # each release: the database changed once
    watched: list[str] = []

    class Inner:
        def wait(self, timeout: float, interrupted: Any) -> None:
            watched.append(threading.current_thread().name)
            changes.acquire(timeout=timeout)

        def close(self) -> None:
            pass

    bell = Doorbell(Inner())  # type: ignore[arg-type]
    woke: list[str] = []
    threads = [threading.Thread(target=lambda: (bell.wait(30, lambda: False), woke.append("x")), name=f"slot-{i}")
               for i in range(3)]
    for t in threads:
        t.start()
    wait_for(lambda: len(watched) == 1, what="one slot watching")
    changes.release()
    wait_for(lambda: len(woke) == 1 and len(watched) == 2, what="one slot woken, another watching")
    assert len(woke) == 1, "a change wakes one slot, not all three"
    changes.release()
    changes.release()
    for t in threads:
        t.join(10)
    assert len(woke) == 3 and len(set(watched)) == 3
