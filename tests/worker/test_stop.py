"""A stop that always works: a recipe that ignores "stop now" cannot keep its oven (or its order)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from kitchen import FrozenClock, Kitchen
from kitchen.core.hashing import bucket_for
from kitchen.ovens.recipes import Menu
from kitchen.ovens.slots import Slots
from kitchen.ovens.worker import EXIT_HARD_STOP, HARD_STOP, Worker
from tests.support.processes import wait_exited
from tests.support.shop import Shop
from tests.support.waiting import poll, wait_for


@pytest.fixture
def kitchen(tmp_path):
    k = Kitchen.open(str(tmp_path / "k.db"), clock=FrozenClock(), grace=2.0)
    yield k
    k.close()


@contextmanager
def stubborn_oven(kitchen: Kitchen) -> Iterator[tuple[Worker, list[int]]]:
    """A worker cooking (on a thread) a recipe that ignores every stop; exits are recorded, not taken."""
    release = threading.Event()
    menu = Menu()
    menu.register("stubborn", lambda ctx: release.wait(30))
    worker = Worker(kitchen, "oven-1", menu)
    exits: list[int] = []
    worker.exit_now = exits.append
    cooking = threading.Thread(target=worker.tick)
    cooking.start()
    try:
        wait_for(lambda: worker.cooking is not None, 10, "the recipe to start")
        yield worker, exits
    finally:
        release.set()
        cooking.join(10)


def test_a_recipe_ignoring_the_stop_is_handed_back_and_the_oven_exits(kitchen: Kitchen) -> None:
    t = kitchen.submit("stubborn")
    with stubborn_oven(kitchen) as (worker, exits):
        start = time.monotonic()
        worker.signals = 2
        worker.watch(start)
        assert worker.stop.is_set() and not exits, "stop now is asked first"
        worker.watch(start + HARD_STOP / 2)
        assert not exits, "the recipe gets HARD_STOP seconds to notice"
        worker.watch(start + HARD_STOP + 0.1)
        assert exits == [EXIT_HARD_STOP]
        info = kitchen.ticket(t.number)
        assert info.state == "queued" and info.attempts == 0, "handed back without using an attempt"
        assert kitchen.status().ovens[0].state == "left"


def test_grace_over_then_hard_stop(kitchen: Kitchen) -> None:
    kitchen.submit("stubborn")
    with stubborn_oven(kitchen) as (worker, exits):
        worker.signals = 1
        worker.watch(100.0)
        assert worker.draining and not worker.stop.is_set()
        worker.watch(100.0 + 2.5)  # grace (2 s) is over: stop now
        assert worker.stop.is_set() and not exits
        worker.watch(100.0 + 2.5 + HARD_STOP + 0.1)
        assert exits == [EXIT_HARD_STOP]


@pytest.mark.processes
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_two_signals_stop_an_oven_process_whose_recipe_never_returns(tmp_path, sig) -> None:
    shop = Shop(tmp_path)
    try:
        t = shop.kitchen.submit("stubborn")
        proc = shop.oven("oven-1")
        wait_for(lambda: shop.kitchen.ticket(t.number).state == "cooking", 20, "the order to be cooking")
        proc.send_signal(sig)
        if not poll(lambda: "oven-1 draining (" in shop.log("oven-1"), 10):
            raise AssertionError(f"the first signal was not handled within 10 s; the oven's log:\n"
                                 f"{shop.log('oven-1')[-4000:]}")
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == EXIT_HARD_STOP
        info = shop.kitchen.ticket(t.number)
        assert info.state == "queued" and info.attempts == 0
        assert shop.oven_row("oven-1").state == "left"
    finally:
        shop.close()


@pytest.mark.processes
def test_killing_the_supervisor_leaves_no_oven_even_with_stubborn_recipes(tmp_path) -> None:
    shop = Shop(tmp_path, grace=1)
    supervisor = shop.supervisor("--ovens", "2")
    try:
        wait_for(lambda: len([o for o in shop.status().ovens if o.state == "alive" and o.buckets]) == 2, 20,
                 "two ovens sharing the buckets")
        owners = {b.bucket: b.oven_id for b in shop.status().buckets}
        customers: dict[int, str] = {}  # one customer in each oven's buckets: each oven gets one stubborn order
        for i in range(1000):
            customers.setdefault(owners[bucket_for(f"c{i}", len(owners))], f"c{i}")
        tickets = [shop.kitchen.submit("stubborn", customer=c) for c in customers.values()]
        assert len(tickets) == 2
        wait_for(lambda: all(shop.kitchen.ticket(t.number).state == "cooking" for t in tickets), 20,
                 "both orders cooking")
        pids = [o.pid for o in shop.status().ovens if o.state == "alive"]
        assert len(pids) == 2
        supervisor.kill()
        supervisor.wait(10)
        wait_exited(pids, 1 + HARD_STOP + 10, "every oven to exit")
        assert all(shop.kitchen.ticket(t.number).state == "queued" for t in tickets)
    finally:
        shop.close()


@pytest.mark.processes
def test_no_password_on_an_oven_command_line(tmp_path, backend_url: str, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("a SQLite path has no password")
    url = backend_url.replace("postgresql://postgres@", "postgresql://postgres:sekret-word@")
    shop = Shop(tmp_path, url)
    try:
        proc = shop.oven("oven-1")
        wait_for(lambda: shop.alive("oven-1"), 20, "the oven to join")
        with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
            argv = f.read().decode()
        assert "sekret-word" not in argv and "postgresql://" not in argv
    finally:
        shop.close()


@pytest.mark.parametrize("slots", [1, 2])
def test_an_oven_sets_up_its_jobs_before_it_joins(kitchen: Kitchen, monkeypatch: pytest.MonkeyPatch, slots) -> None:
    """From its join on a new oven must beat within heartbeat_timeout: the slow set-up (APScheduler's time zone,
    trigger plugins and imports) comes first. It once came after, and a loaded machine's reapers declared every
    freshly started oven dead."""
    import kitchen.ovens.heart as heart_module

    seen: list[str] = []
    made = heart_module.make_scheduler

    def make_scheduler():
        scheduler = made()
        real_add = scheduler.add_job
        scheduler.add_job = lambda *a, **kw: (seen.append(f"job {kw.get('id')}"), real_add(*a, **kw))[1]
        return scheduler

    monkeypatch.setattr(heart_module, "make_scheduler", make_scheduler)
    worker = Worker(kitchen, "oven-1", Menu(), burst=True) if slots == 1 else Slots(kitchen, "oven-1", Menu(), slots,
                                                                                      burst=True)
    joined = worker.start
    monkeypatch.setattr(worker, "start", lambda: (seen.append("joined"), joined())[1])
    assert worker.run(install_signals=False) == 0
    assert seen.index("joined") > seen.index("job reaper") and seen[-1] == "joined", seen
