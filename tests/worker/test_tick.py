"""The oven loop driven one tick at a time, in-process, with a frozen clock: no threads, no sleeps."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kitchen import FrozenClock, Kitchen
from kitchen.ovens.recipes import Menu, build_menu
from kitchen.ovens.worker import Worker


@pytest.fixture
def kitchen(tmp_path):
    k = Kitchen.open(str(tmp_path / "k.db"), clock=FrozenClock(), max_attempts=3, backoff_base=1, backoff_max=4)
    yield k
    k.close()


def menu_with(**recipes) -> Menu:
    m = build_menu({"margherita": 0.0}, base=Menu())
    for name, fn in recipes.items():
        m.register(name, fn)
    return m


def test_tick_cooks_one_order_and_records_one_ledger_row(kitchen):
    t = kitchen.submit("margherita", {"slices": 6}, customer="ada")
    w = Worker(kitchen, "oven-1", menu_with())
    assert w.tick() == "cooked"
    info = kitchen.ticket(t.number)
    assert info.state == "done" and info.oven == "oven-1"
    assert info.result == {"baked_seconds": 0.0, "slices": 6}
    assert kitchen.status().ledger.completions == 1
    assert w.tick() == "idle"


def test_group_commit_completes_and_claims_next_in_one_tick(kitchen):
    tickets = kitchen.submit_many([{"recipe": "margherita", "customer": f"c{i}"} for i in range(5)])
    w = Worker(kitchen, "oven-1", menu_with(), prefetch=2)
    assert w.tick() == "cooked"
    assert len(w.in_hand) == 2, "the completion transaction also claimed the next batch"
    while w.tick() == "cooked":
        pass
    assert all(kitchen.ticket(t.number).state == "done" for t in tickets)
    assert kitchen.status().ledger.completions == 5


def test_failure_retries_with_backoff_then_burns(kitchen):
    def boom(ctx):
        raise RuntimeError("oven on fire")

    t = kitchen.submit("boom")
    w = Worker(kitchen, "oven-1", menu_with(boom=boom))
    for attempt in range(1, 4):
        assert w.tick() == "cooked"
        info = kitchen.ticket(t.number)
        assert info.attempts == attempt and "oven on fire" in info.error
        if attempt < 3:
            assert info.state == "queued"
            assert w.tick() == "idle", "backoff: not ready yet"
            kitchen.clock.advance(10)
    assert kitchen.ticket(t.number).state == "burnt"
    assert kitchen.status().orders.burnt == 1


def test_unknown_recipe_waits_unclaimed_and_is_reported(kitchen):
    t = kitchen.submit("os_system")
    w = Worker(kitchen, "oven-1", menu_with())
    assert w.tick() == "idle", "an oven claims only what is on its menu"
    info = kitchen.ticket(t.number)
    assert (info.state, info.attempts, info.error) == ("queued", 0, None)
    assert kitchen.status().no_oven_can_cook == {"os_system": 1}
    assert w.queue_empty(), "a burst oven does not wait for an order no oven can cook"


def test_an_order_off_the_menu_is_handed_back_never_burnt(kitchen):
    """Defensive: a handle joined without the worker's menu claims anything; the worker hands it back uncooked."""
    t = kitchen.submit("os_system")
    w = Worker(kitchen, "oven-1", menu_with())
    w.oven = kitchen.join("oven-1")  # menu None: claims any recipe (and claims it again after each hand-back)
    for _ in range(3):
        assert w.tick() == "cooked"
    info = kitchen.ticket(t.number)
    assert info.state != "burnt" and info.error is None
    assert info.attempts <= 1, "a hand-back counts no attempt"
    assert kitchen.status().orders.burnt == 0


def test_zombie_completion_is_refused_and_oven_rejoins(kitchen):
    clock = kitchen.clock
    t = kitchen.submit("margherita", customer="ada")
    zombie = Worker(kitchen, "oven-1", menu_with())
    zombie.start()
    survivor = kitchen.join("oven-2")
    order = zombie.oven.claim()
    clock.advance(kitchen.settings.heartbeat_timeout + 1)
    survivor.heartbeat()
    report = kitchen.reap()
    assert report.dead == ["oven-1"] and report.requeued == [t.number]
    assert zombie.oven.complete(order, {}) is False
    zombie.beat()
    assert zombie.lost
    zombie.tick()
    assert not zombie.lost and zombie.oven.alive(), "rejoined as a new incarnation"
    assert kitchen.status().ledger.refused_completions == 1


def test_draining_finishes_in_hand_then_exits(kitchen):
    kitchen.submit_many([{"recipe": "margherita", "customer": f"c{i}"} for i in range(3)])
    w = Worker(kitchen, "oven-1", menu_with())
    w.start()
    w.drain("test")
    assert w.tick() == "exit"
    w.shutdown()
    assert kitchen.status().orders.queued == 3
    assert not w.oven.alive()


@pytest.mark.processes
def test_kitchen_run_never_imports_textual(tmp_path):
    code = ("import sys; from kitchen.cli import main; "
            f"rc = main(['--db', {str(tmp_path / 'k.db')!r}, 'run', '--burst', '--log-level', 'error']); "
            "assert rc == 0, rc; assert 'textual' not in sys.modules, 'textual imported'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_a_failed_group_commit_keeps_finished_orders_and_commits_them_next_tick(kitchen, monkeypatch):
    from kitchen.core.errors import DatabaseBusy

    t = kitchen.submit("margherita", customer="ada")
    w = Worker(kitchen, "oven-1", menu_with())
    w.start()
    real = w.oven.complete_many
    calls = []

    def flaky(finished, claim=0):
        calls.append(len(finished))
        if len(calls) == 1:
            raise DatabaseBusy("database stayed locked")
        return real(finished, claim=claim)

    monkeypatch.setattr(w.oven, "complete_many", flaky)
    with pytest.raises(DatabaseBusy):
        w.tick()
    assert [o.id for o, _ in w.pending] == [t.number], "the finished order is still held"
    assert kitchen.ticket(t.number).state == "cooking"
    w.tick()
    assert kitchen.ticket(t.number).state == "done" and not w.pending
    assert calls == [1, 1], "committed on the next tick, not cooked again"
