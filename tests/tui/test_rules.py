"""The screen's rules without a screen: oven states, which incarnation gets a pane, ring highlights, the
counter's sentences, and which ovens may be signalled."""

from __future__ import annotations

import os

import pytest

from kitchen import FrozenClock, Kitchen
from kitchen.core.views import OvenView
from kitchen.tui import counter, present
from kitchen.tui.launcher import HOST, refusal
from kitchen.tui.panes.ring import ring_view
from tests.tui.fakes import FakeLauncher


def oven(name, id, state="alive", age=0.0, pid=100, died_at=None, cooking=()):
    return OvenView(id=id, name=name, host=HOST, pid=pid, state=state, heartbeat_age=age,
                    buckets=[1, 2] if state == "alive" else [], current_order=cooking[0] if cooking else None,
                    current_recipe="margherita" if cooking else None, progress=40 if cooking else None,
                    cooking=list(cooking), cooked=3, joined_at=0.0, died_at=died_at)


@pytest.mark.parametrize("db_state, age, cooking, frozen, shown", [
    ("alive", 0.4, False, False, "idle"),
    ("alive", 0.4, True, False, "cooking"),
    ("alive", 2.5, True, False, "suspect"),
    ("alive", 9.0, False, True, "frozen"),
    ("dead", 9.0, False, True, "dead"),
    ("left", 0.0, False, False, "stopped"),
])
def test_display_state(db_state, age, cooking, frozen, shown):
    limit = present.suspect_after(timeout=5.0, interval=1.0)
    assert limit == 2.5
    assert present.display_state(db_state, age, limit, cooking, frozen) == shown


def test_one_card_per_name_alive_incarnation_first_and_old_ovens_hidden():
    rows = [oven("oven-10", 1), oven("oven-2", 2, "dead", died_at=50.0), oven("oven-2", 5, pid=7),
            oven("oven-1", 3, "left", died_at=10.0), oven("oven-3", 4, "dead", died_at=60.0)]
    cards, hidden = present.cards(rows, timeout=5.0, interval=1.0, since=40.0, frozen={7}, ours={7})
    assert [(c.slot, c.name, c.oven_id, c.state) for c in cards] == [
        (1, "oven-2", 5, "frozen"), (2, "oven-3", 4, "dead"), (3, "oven-10", 1, "idle")]
    assert cards[0].ours and not cards[1].ours and hidden == 0
    many, hidden = present.cards([oven(f"oven-{i}", i) for i in range(1, 13)], timeout=5.0, interval=1.0)
    assert len(many) == 9 and hidden == 3 and many[-1].name == "oven-9"


def test_next_oven_name_and_bar():
    assert present.next_oven_name(["oven-1", "oven-3"]) == "oven-2"
    assert present.next_oven_name([]) == "oven-1"
    assert present.bar(0.5, 4) == "██  " and present.bar(1.0, 3, "·") == "███" and present.bar(0, 2, "·") == "··"


def test_ring_highlights_only_the_latest_recent_move(tmp_path):
    clock = FrozenClock(1000.0)
    with Kitchen.open(str(tmp_path / "k.db"), clock=clock, buckets=16, heartbeat_timeout=5.0) as k:
        k.join("oven-1"), k.join("oven-2")
        clock.advance(1)
        k.join("oven-3")
        status = k.status()
        view = ring_view(status, {"oven-1": 0, "oven-2": 1, "oven-3": 2}, k.last_event("moved"))
        moved = [bucket for bucket, owner, just in view.buckets if just]
        assert moved and all(owner == "oven-3" for bucket, owner, just in view.buckets if just)
        clock.advance(60)
        assert not any(just for _, _, just in ring_view(k.status(), {}, None).buckets)


def test_counter_sentences(tmp_path):
    with Kitchen.open(str(tmp_path / "k.db"), clock=FrozenClock(), heartbeat_timeout=5.0) as k:
        first = counter.take_order(k, "margherita", "ada", "ada-1", 0)
        assert first.tone == "ok" and first.text.startswith("Ticket #1 for ada: margherita, bucket ")
        again = counter.take_order(k, "margherita", "ada", "ada-1", 0)
        assert again.tone == "dup" and "that is ticket #1" in again.text
        assert counter.take_order(k, "Bad Name", None, None, 0).tone == "error"
        assert "in the queue" in counter.locate(k, 1).text
        o = k.join("oven-1")
        order = o.claim()
        o.heartbeat(progress=40, order=order)
        assert counter.locate(k, 1).text == "#1 margherita for ada: cooking in oven-1 (40%, attempt 1, fence 1)."
        o.complete(order, {"pizza": "ok"})
        assert "done by oven-1" in counter.locate(k, 1).text
        assert counter.locate(k, 99).tone == "error"
        import random

        assert len(counter.rush(k, random.Random(1), ["margherita", "marinara"])) == 10


def test_only_our_own_or_same_host_ovens_may_be_signalled(tmp_path):
    with Kitchen.open(str(tmp_path / "k.db"), clock=FrozenClock(), heartbeat_timeout=5.0) as k:
        launcher = FakeLauncher(k)
        pid = launcher.start("oven-1")
        assert refusal(launcher, name="oven-1", host=HOST, pid=pid, db_state="alive") is None
        far = refusal(launcher, name="x", host="elsewhere", pid=pid + 1, db_state="alive")
        assert far.startswith("x runs on host elsewhere")
        gone = refusal(launcher, name="y", host=HOST, pid=pid + 1, db_state="dead")
        assert gone == "y is dead and not a process of this TUI: nothing to signal"
        # this test process is alive on this host but is no oven: refused
        assert "not a running kitchen oven" in refusal(launcher, name="z", host=HOST, pid=os.getpid(),
                                                       db_state="alive")


def test_cancelled_orders_are_counted_and_described_and_a_burnt_one_shows_its_error(tmp_path):
    from kitchen.tui.panes.queue import STATE_MARK, STYLES, queue_view

    with Kitchen.open(str(tmp_path / "k.db"), clock=FrozenClock(), heartbeat_timeout=5.0) as k:
        a, b = k.submit("margherita"), k.submit("margherita")
        assert [name for name, _ in queue_view(k.status(), [], []).counts] == ["queued", "cooking", "done", "burnt"]
        assert k.cancel(a.number)
        view = queue_view(k.status(), [], k.recent_orders())
        assert dict(view.counts) == {"queued": 1, "cooking": 0, "done": 0, "burnt": 0, "cancelled": 1}
        assert "cancelled" in STATE_MARK and "queue--cancelled" in STYLES
        assert view.recent[-1][3] == "cancelled"
        assert counter.locate(k, a.number).text == "#1 margherita: cancelled after 0 attempts; it will not cook."
        o = k.join("oven-1")
        o.fail(o.claim(), "GiveUp: card refused", retry=False)
        burnt = counter.locate(k, b.number)
        assert burnt.tone == "error" and "burnt after 1 attempts: GiveUp: card refused" in burnt.text
