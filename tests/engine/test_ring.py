"""The bucket ring: balance within 1.25 of average, and minimal movement on join, leave and death.

Properties are checked on the pure function (ring.rebalance) over random histories of joins and
departures, and through the database (join, leave, reap) where ownership lives with a generation.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kitchen import FrozenClock, Kitchen
from kitchen.core.ring import Member, bounds, moves, rebalance
from tests.engine.helpers import events, owners, rows, scalar

B = 64


def load(owner_map: dict[int, int | None]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for o in owner_map.values():
        counts[o] = counts.get(o, 0) + 1
    return counts


def assert_balanced(owner_map: dict[int, int | None], live: set[int], buckets: int = B) -> None:
    assert set(owner_map) == set(range(buckets))
    assert set(owner_map.values()) <= live, "a bucket is owned by a gone oven"
    counts = load(owner_map)
    assert None not in counts
    assert max(counts.values()) / (buckets / len(live)) <= 1.25, counts


@given(st.integers(1, 16))
def test_fresh_ring_is_balanced_for_1_to_16_ovens(n: int) -> None:
    members = [Member(i + 1, f"oven-{i + 1}") for i in range(n)]
    owner_map = rebalance({}, members, B)
    assert_balanced(owner_map, {m.id for m in members})
    assert len(load(owner_map)) == n, "every oven gets buckets"
    assert rebalance(owner_map, members, B) == owner_map, "rebalancing a balanced ring moves nothing"


# A history: each step either joins a new oven (True) or removes some live ones at once (their indexes).
steps = st.lists(st.one_of(st.just(True), st.sets(st.integers(0, 15), min_size=1, max_size=3)), min_size=1,
                 max_size=40)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 16), steps, st.sampled_from([8, 17, 64, 100]))
def test_minimal_movement_over_histories(start: int, history: list, buckets: int) -> None:
    next_id = start + 1
    members = [Member(i + 1, f"oven-{i + 1}") for i in range(start)]
    owner_map = rebalance({}, members, buckets)
    for step in history:
        if step is True:
            if len(members) == 16:
                continue
            newcomer = Member(next_id, f"oven-{next_id}")
            next_id += 1
            members = [*members, newcomer]
            new = rebalance(owner_map, members, buckets)
            moved = moves(owner_map, new)
            assert all(after == newcomer.id for _, after in moved.values()), (
                f"join moved buckets between old ovens: {moved}")
            assert len(moved) == load(new).get(newcomer.id, 0) >= bounds(buckets, len(members))[0]
        else:
            gone = {members[i % len(members)].id for i in step}
            if len(gone) == len(members):
                continue
            members = [m for m in members if m.id not in gone]
            new = rebalance(owner_map, members, buckets)
            moved = moves(owner_map, new)
            assert set(moved) == {b for b, o in owner_map.items() if o in gone}, (
                "a departure moved buckets of ovens that stayed")
        owner_map = new
        live = {m.id for m in members}
        assert set(owner_map.values()) <= live and None not in owner_map.values()
        assert max(load(owner_map).values()) <= bounds(buckets, len(live))[2]
        if buckets == B:
            assert_balanced(owner_map, live, buckets)


def test_ring_is_a_pure_function_of_owners_and_members() -> None:
    members = [Member(i, f"oven-{i}") for i in (3, 1, 2)]
    assert rebalance({}, members, B) == rebalance({}, list(reversed(members)), B)
    assert rebalance({}, [], B) == {b: None for b in range(B)}
    same_name = [Member(1, "oven"), Member(2, "oven")]  # a restarted oven reusing its name
    assert_balanced(rebalance({}, same_name, B), {1, 2})


# -- through the database ---------------------------------------------------------------------------------

def _check_db(k: Kitchen, live: set[int]) -> dict[int, int | None]:
    own = owners(k)
    assert_balanced(own, live)
    generations = {g for (g,) in rows(k, "SELECT generation FROM buckets")}
    assert max(generations) == int(scalar(k, "SELECT value FROM kitchen_meta WHERE key = 'ring_generation'"))
    return own


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(st.sampled_from(["join", "leave", "die"]), min_size=1, max_size=10))
def test_database_ring_moves_minimally(fresh_url, history: list[str]) -> None:
    clock = FrozenClock()
    with Kitchen.open(fresh_url(), clock=clock, heartbeat_timeout=5.0) as k:
        _database_history(k, clock, history)


def _database_history(k: Kitchen, clock: FrozenClock, history: list[str]) -> None:
    ovens = [k.join("oven-0")]
    before = _check_db(k, {ovens[0].id})
    for i, step in enumerate(history, start=1):
        generation = k.status().ring_generation
        if step == "join" or len(ovens) == 1:
            if len(ovens) == 16:
                continue
            new = k.join(f"oven-{i}")
            ovens.append(new)
            after = _check_db(k, {o.id for o in ovens})
            moved = moves(before, after)
            assert moved and all(dst == new.id for _, dst in moved.values())
        else:
            victim = ovens.pop(i % len(ovens))
            if step == "leave":
                victim.leave()
            else:
                clock.advance(6)
                for o in ovens:
                    o.heartbeat()
                report = k.reap()
                assert report.dead == [victim.name] and report.moved
            after = _check_db(k, {o.id for o in ovens})
            moved = moves(before, after)
            assert {b for b in moved} == {b for b, o in before.items() if o == victim.id}
        assert k.status().ring_generation == generation + 1
        before = after


def test_move_events_and_generation_are_recorded(kitchen: Kitchen, clock: FrozenClock) -> None:
    a = kitchen.join("oven-a")
    b = kitchen.join("oven-b")
    status = kitchen.status()
    assert status.ring_generation == 2
    moved_to_b = [x for x in status.buckets if x.oven == "oven-b"]
    assert moved_to_b and all(x.prev_oven == "oven-a" and x.generation == 2 for x in moved_to_b)
    details = [d for _, _, d in events(kitchen, "moved")]
    assert details[0].startswith("64 buckets nobody -> oven-a")
    assert details[1] == f"{len(moved_to_b)} buckets oven-a -> oven-b (generation 2)"
    assert {x.bucket for x in moved_to_b} == {bucket for bucket, o in owners(kitchen).items() if o == b.id}
    clock.advance(6)
    a.heartbeat()
    report = kitchen.reap()
    assert report.dead == ["oven-b"] and report.moved is not None and report.moved.generation == 3
    assert set(owners(kitchen).values()) == {a.id}
    assert len(events(kitchen, "dead")) == 1
