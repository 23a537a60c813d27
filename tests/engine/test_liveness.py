"""Liveness: heartbeats renew leases, silent ovens are reaped, leases expire, redelivery is bounded."""

from __future__ import annotations

import pytest

from kitchen import BadOrder, FrozenClock, Kitchen, OvenLost
from kitchen.ovens.jobs import Pacer
from kitchen.protocol import reaper
from tests.engine.helpers import events, execute, in_children, in_threads, owners, rows, scalar


def test_a_reaper_never_declares_its_own_oven_dead(kitchen: Kitchen, clock: FrozenClock) -> None:
    """A process whose reaper runs is alive, even if its heartbeat thread lags: only another process judges it."""
    mine, other = kitchen.join("oven-1"), kitchen.join("oven-2")
    clock.advance(6.0)
    report = kitchen.reap(spare=mine.id)
    assert report.dead == ["oven-2"] and mine.alive() and not other.alive()
    assert not kitchen.reap(spare=mine.id), "nothing else to judge: not even a write"
    assert kitchen.reap().dead == ["oven-1"], "another process's reaper still judges it"


def test_a_completion_proves_its_oven_alive_as_a_heartbeat_does(kitchen: Kitchen, clock: FrozenClock) -> None:
    """An oven whose loop keeps the write lock busy may starve its own heartbeat thread: its completions count."""
    oven = kitchen.join("oven-1")
    kitchen.submit_many([{"recipe": "margherita"} for _ in range(3)])
    first, second = oven.claim_many(2)
    clock.advance(4.0)
    assert oven.complete(first) is True
    clock.advance(4.0)  # 8 s since its last heartbeat, 4 s since its completion (timeout 5 s)
    assert not kitchen.reap().dead and oven.alive()
    clock.advance(1.5)
    assert kitchen.reap().dead == ["oven-1"], "silent for longer than the timeout since its completion"
    last = scalar(kitchen, "SELECT heartbeat_at FROM ovens WHERE id = ?", oven.id)
    clock.advance(1.0)
    assert oven.complete(second) is False
    assert scalar(kitchen, "SELECT heartbeat_at FROM ovens WHERE id = ?", oven.id) == last, \
        "a zombie's refused completion leaves its last heartbeat as history"


def test_a_new_reaper_judges_no_one_until_the_others_had_a_turn_to_beat(kitchen: Kitchen, clock: FrozenClock) -> None:
    """A process that just started (slowly, on a loaded machine) first gives every oven two intervals."""
    pacer = Pacer(kitchen)
    assert pacer.judge() is False
    clock.advance(kitchen.settings.heartbeat_interval)
    assert pacer.judge() is False
    clock.advance(kitchen.settings.heartbeat_interval)
    assert pacer.judge() is True


def test_lease_expiry_requeues_without_killing_the_oven(open_kitchen, clock: FrozenClock) -> None:
    k = open_kitchen(lease=2.0)
    oven = k.join("oven-1")
    ticket = k.submit("margherita")
    order = oven.claim()
    assert k.ticket(order.id).state == "cooking"
    clock.advance(1.5)
    assert not k.reap(), "nothing to do before the lease runs out"
    clock.advance(1.0)
    report = k.reap()
    assert report.requeued == [ticket.number] and report.dead == []
    assert oven.alive() and k.ticket(ticket.number).state == "queued"
    assert [d for _, _, d in events(k, "requeue")] == [f"order {ticket.number} back in the queue: lease expired"]
    assert oven.complete(order) is False
    again = oven.claim()
    assert again.attempt == 2 and again.fence > order.fence
    assert oven.complete(again) is True


def test_heartbeat_renews_the_lease_and_records_progress(open_kitchen, clock: FrozenClock) -> None:
    k = open_kitchen(lease=2.0)
    oven = k.join("oven-1")
    k.submit("margherita")
    order = oven.claim()
    for _ in range(5):
        clock.advance(1.5)
        oven.heartbeat(progress=40, order=order)
        assert not k.reap()
    assert k.ticket(order.id).progress == 40
    assert k.status().ovens[0].progress == 40
    assert oven.complete(order) is True


@pytest.mark.parametrize("progress", [True, -1, 101, 50.5, "40"])
def test_heartbeat_refuses_bad_progress(kitchen: Kitchen, progress) -> None:
    oven = kitchen.join("oven-1")
    kitchen.submit("margherita")
    order = oven.claim()
    with pytest.raises(BadOrder, match="progress must be a whole number from 0 to 100"):
        oven.heartbeat(progress=progress, order=order)
    assert kitchen.ticket(order.id).progress == 0


def test_silent_oven_is_reaped_and_its_heartbeat_raises(kitchen: Kitchen, clock: FrozenClock) -> None:
    oven = kitchen.join("oven-1")
    tickets = kitchen.submit_many([{"recipe": "margherita"} for _ in range(3)])
    taken = oven.claim_many(2)
    clock.advance(4.9)
    assert not kitchen.reap()
    clock.advance(0.2)
    report = kitchen.reap()
    assert report.dead == ["oven-1"] and sorted(report.requeued) == sorted(o.id for o in taken)
    assert not oven.alive()
    with pytest.raises(OvenLost, match=r"oven-1 .* declared dead"):
        oven.heartbeat()
    assert oven.claim() is None
    assert all(kitchen.ticket(t.number).state == "queued" for t in tickets)
    assert set(owners(kitchen).values()) == {None}, "no live oven: buckets are unowned"
    assert not kitchen.reap(), "a second pass finds nothing"
    reborn = kitchen.join("oven-1")  # a new incarnation, same name
    assert reborn.id != oven.id and set(owners(kitchen).values()) == {reborn.id}
    with pytest.raises(OvenLost):
        oven.heartbeat()
    assert len(reborn.claim_many(10)) == 3


def test_heartbeat_keeps_an_oven_alive(kitchen: Kitchen, clock: FrozenClock) -> None:
    oven = kitchen.join("oven-1")
    for _ in range(10):
        clock.advance(4)
        oven.heartbeat()
        assert not kitchen.reap()
    assert oven.alive()


def test_redelivery_is_bounded_when_the_oven_dies_every_time(open_kitchen, clock: FrozenClock) -> None:
    k = open_kitchen(max_attempts=3)
    ticket = k.submit("calzone")
    for attempt in range(1, 4):
        oven = k.join(f"oven-{attempt}")
        order = oven.claim()
        assert (order.id, order.attempt) == (ticket.number, attempt)
        clock.advance(6)
        report = k.reap()
        assert report.dead == [oven.name]
        if attempt < 3:
            assert report.requeued == [ticket.number] and report.burnt == []
        else:
            assert report.burnt == [ticket.number] and report.requeued == []
    info = k.ticket(ticket.number)
    assert info.state == "burnt" and "last allowed attempt" in info.error
    assert k.join("survivor").claim() is None
    assert k.status().orders.burnt == 1 and k.status().requeued == 2
    assert len(events(k, "burnt")) == 1


def test_expired_lease_on_last_attempt_burns(open_kitchen, clock: FrozenClock) -> None:
    k = open_kitchen(max_attempts=1, lease=1.0, heartbeat_interval=0.5)
    oven = k.join("oven-1")
    k.submit("margherita")
    order = oven.claim()
    clock.advance(2)  # the oven is still alive (heartbeat_timeout 5) but its lease ran out
    report = k.reap()
    assert report.burnt == [order.id] and report.dead == []
    assert k.ticket(order.id).state == "burnt" and k.status().orders.burnt == 1
    assert oven.complete(order) is False


def _dead_oven_with_orders(k: Kitchen, clock: FrozenClock, n: int, survivor: bool = False):
    doomed = k.join("doomed")
    k.submit_many([{"recipe": "margherita", "customer": f"c{i}"} for i in range(n)])
    taken = [o.id for o in doomed.claim_many(n)]
    assert len(taken) == n
    other = k.join("survivor") if survivor else None
    clock.advance(6)
    if other:
        other.heartbeat()
    return taken, doomed.name, other


def _check_reaped_once(k: Kitchen, reports: list[dict], taken: list[int], name: str) -> None:
    requeued = [i for r in reports for i in r["requeued"]]
    assert sorted(requeued) == sorted(taken), "each order requeued exactly once"
    assert [r["dead"] for r in reports if r["dead"]] == [[name]]
    assert len(events(k, "dead")) == 1
    assert scalar(k, "SELECT count(*) FROM events WHERE kind = 'requeue'") == len(taken)
    assert k.status().requeued == len(taken)
    assert k.status().orders.queued == len(taken)


def test_concurrent_reapers_in_threads(kitchen: Kitchen, clock: FrozenClock) -> None:
    taken, name, _ = _dead_oven_with_orders(kitchen, clock, 40)
    reports = in_threads(4, lambda i: kitchen.reap().__dict__)
    _check_reaped_once(kitchen, reports, taken, name)


@pytest.mark.processes
def test_concurrent_reapers_in_processes(kitchen: Kitchen, clock: FrozenClock, backend_url: str) -> None:
    taken, name, survivor = _dead_oven_with_orders(kitchen, clock, 40, survivor=True)
    reports = in_children("reap", [{"url": backend_url, "now": clock()}] * 3)
    _check_reaped_once(kitchen, reports, taken, name)
    assert set(owners(kitchen).values()) == {survivor.id}
    assert len([r for r in reports if r["moved"]]) == 1


def test_leave_hands_over_buckets_and_releases_orders(kitchen: Kitchen, clock: FrozenClock) -> None:
    a = kitchen.join("oven-a")
    kitchen.submit_many([{"recipe": "margherita", "customer": f"c{i}"} for i in range(20)])
    taken = a.claim_many(5)
    b = kitchen.join("oven-b")
    mine_before = {bucket for bucket, o in owners(kitchen).items() if o == a.id}
    generation = kitchen.status().ring_generation
    a.leave()
    assert set(owners(kitchen).values()) == {b.id}
    assert kitchen.status().ring_generation == generation + 1
    moved = [x for x in kitchen.status().buckets if x.generation == generation + 1]
    assert {x.bucket for x in moved} == mine_before
    for order in taken:
        info = kitchen.ticket(order.id)
        assert info.state == "queued" and info.attempts == 0, "leaving does not consume an attempt"
    assert len(events(kitchen, "leave")) == 1
    assert a.complete(taken[0]) is False
    with pytest.raises(OvenLost):
        a.heartbeat()
    a.leave()  # twice is harmless
    got = b.claim_many(100)
    assert len(got) == 20 and all(o.attempt == 1 for o in got)
    clock.advance(60)
    b.heartbeat()
    assert not kitchen.reap().dead, "a departed oven is never declared dead"


def test_release_gives_one_order_back_without_an_attempt(kitchen: Kitchen) -> None:
    oven = kitchen.join("oven-1")
    kitchen.submit_many([{"recipe": "margherita"}, {"recipe": "marinara"}])
    first, second = oven.claim_many(2)
    assert oven.release(first) == 1
    assert oven.release(first) == 0, "a stale release changes nothing"
    assert kitchen.ticket(first.id).attempts == 0
    assert oven.complete(first) is False
    assert oven.release() == 1 and kitchen.ticket(second.id).state == "queued"
    assert rows(kitchen, "SELECT count(*) FROM events WHERE kind = 'released'") == [(2,)]


def test_orders_stranded_on_a_gone_oven_are_requeued(kitchen: Kitchen, clock: FrozenClock) -> None:
    """A claim that commits just after its oven was declared dead (or left) must not wait for its lease."""
    gone = kitchen.join("gone")
    survivor = kitchen.join("survivor")
    kitchen.submit_many([{"recipe": "margherita", "customer": f"c{i}"} for i in range(20)])
    stranded = gone.claim()
    execute(kitchen, "UPDATE ovens SET state = 'dead', died_at = ? WHERE id = ?", clock(), gone.id)  # its death won
    report = kitchen.reap()
    assert report.requeued == [stranded.id] and report.dead == []
    info = kitchen.ticket(stranded.id)
    assert info.state == "queued" and info.attempts == 1
    assert gone.complete(stranded) is False
    assert not kitchen.reap()
    assert survivor.claim_many(100)


def test_a_claim_racing_the_reaper_is_not_stranded(backend: str, kitchen: Kitchen, clock: FrozenClock) -> None:
    """PostgreSQL lets a claim commit while the reaper's transaction (which already requeued) is still open."""
    if backend == "sqlite":
        pytest.skip("SQLite serialises writers: the claim cannot commit inside the reaper's transaction")
    import threading

    doomed = kitchen.join("doomed")
    kitchen.submit("margherita")
    clock.advance(6)
    claimed, go = threading.Event(), threading.Event()
    box: list = []

    def reaper_until_the_claim_commits(cur, now, cutoff):
        report = reaper.reap(cur, kitchen._ctx, now, cutoff)
        go.set()
        assert claimed.wait(10), "the claim never committed"
        return report

    def claimer() -> None:
        assert go.wait(10)
        box.append(doomed.claim())  # the oven still looks alive to this transaction
        claimed.set()

    thread = threading.Thread(target=claimer)
    thread.start()
    first = kitchen.store.write(reaper_until_the_claim_commits, clock(), clock() - 5.0)
    thread.join(10)
    assert first.dead == ["doomed"] and box and box[0] is not None
    second = kitchen.reap()
    assert second.requeued == [box[0].id]
    assert kitchen.ticket(box[0].id).state == "queued"
