"""Retention: finished orders, ledger rows, refusals and events leave after their keep time, in bounded
batches; counters stay history; dedup keys keep their window through a tombstone. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kitchen import ConfigError, FrozenClock, Kitchen
from kitchen.core.config import parse_duration
from kitchen.protocol.retention import BATCH, KEEP_FREE_PAGES
from tests.engine.helpers import rows, scalar

HOUR = 3600.0


def cook_all(k: Kitchen, oven_name: str = "oven-1") -> list[int]:
    oven = k.join(oven_name)
    done = []
    while (order := oven.claim()) is not None:
        assert oven.complete(order, {"id": order.id})
        done.append(order.id)
    oven.leave()
    return done


def counts(k: Kitchen) -> dict[str, int]:
    return {t: scalar(k, f"SELECT count(*) FROM {t}") for t in ("orders", "ledger", "refusals", "dedup_tombstones")}


def test_done_orders_past_keep_done_go_with_their_ledger_rows_and_counters_stay(
        open_kitchen: Callable[..., Kitchen], clock: FrozenClock) -> None:
    k = open_kitchen(keep_done="1h")
    k.submit_many([{"recipe": "margherita"}] * 30)
    old = cook_all(k)
    clock.advance(HOUR + 1)
    k.submit_many([{"recipe": "marinara"}] * 5)
    young = cook_all(k, "oven-2")
    k.submit("calzone")  # still queued: never purged
    before = k.status()
    assert k.purge(dry_run=True).done == 30 and counts(k)["orders"] == 36, "a dry run writes nothing"
    report = k.purge()
    assert (report.done, report.ledger, report.burnt) == (30, 30, 0)
    assert {r[0] for r in rows(k, "SELECT id FROM orders")} == set(young) | {max(young) + 1}
    assert sorted(r[0] for r in rows(k, "SELECT order_id FROM ledger")) == sorted(young), "one row per kept order"
    after = k.status()
    assert after.orders == before.orders and after.ledger == before.ledger, "done/burnt totals are history"
    assert after.orders.done == 35 and after.orders.queued == 1
    assert not k.purge(), "nothing more to do"
    assert k.ticket(young[0]).result == {"id": young[0]}
    assert old[0] not in {r[0] for r in rows(k, "SELECT id FROM orders")}


def test_burnt_orders_keep_longer_and_take_their_events_and_refusals(
        open_kitchen: Callable[..., Kitchen], clock: FrozenClock) -> None:
    k = open_kitchen(keep_done="1h", keep_burnt="1d", keep_events="30d", max_attempts=1)
    burnt_ticket, done_ticket = k.submit("margherita"), k.submit("marinara")
    oven = k.join("oven-1")
    first, second = oven.claim(), oven.claim()
    assert {first.id, second.id} == {burnt_ticket.number, done_ticket.number}
    bad = first if first.id == burnt_ticket.number else second
    good = second if bad is first else first
    oven.fail(bad, error="too cold")
    assert oven.complete(good) and not oven.complete(good), "a late second completion is refused"
    k.submit("calzone")  # the newest order, which is never purged
    assert scalar(k, "SELECT count(*) FROM events WHERE order_id = ?", bad.id) >= 1
    clock.advance(2 * HOUR)
    assert k.purge().done == 1 and k.ticket(bad.id).state == "burnt", "burnt orders keep for keep_burnt"
    assert scalar(k, "SELECT count(*) FROM refusals WHERE order_id = ?", good.id) == 0
    clock.advance(86400)
    report = k.purge()
    assert report.burnt == 1 and report.events >= 1
    assert scalar(k, "SELECT count(*) FROM events WHERE order_id = ?", bad.id) == 0
    assert k.status().orders.burnt == 1, "the burnt total is history"


def test_batches_are_bounded_and_ticket_numbers_are_never_reused(
        open_kitchen: Callable[..., Kitchen], clock: FrozenClock) -> None:
    k = open_kitchen(keep_done="1m")
    k.submit_many([{"recipe": "margherita"}] * (BATCH + 20))
    cooked = cook_all(k)
    clock.advance(120)
    one = k.purge(batches=1)
    assert one.done == BATCH and one.more, "one batch takes at most BATCH orders"
    rest = k.purge()
    assert rest.done == 19 and not rest.more, "the newest order stays"
    assert rows(k, "SELECT id FROM orders") == [(max(cooked),)]
    assert k.submit("marinara").number == max(cooked) + 1


def test_a_key_dedups_through_its_window_after_its_order_is_purged(
        open_kitchen: Callable[..., Kitchen], clock: FrozenClock) -> None:
    k = open_kitchen(keep_done="1h", dedup_window="3h")
    first = k.submit("margherita", key="ada-1")
    cook_all(k)
    k.submit("marinara")
    clock.advance(HOUR + 1)
    report = k.purge()
    assert (report.done, report.tombstones) == (1, 1)
    assert counts(k)["dedup_tombstones"] == 1
    again = k.submit("margherita", key="ada-1")
    assert (again.number, again.bucket, again.duplicate) == (first.number, first.bucket, True)
    assert k.status().ledger.duplicate_submissions == 1
    clock.advance(2 * HOUR)  # the window (3 h after it finished) has closed
    fresh = k.submit("margherita", key="ada-1")
    assert not fresh.duplicate and fresh.number > first.number
    assert counts(k)["dedup_tombstones"] == 0, "the stale tombstone went with the new order"


def test_expired_tombstones_are_purged(open_kitchen: Callable[..., Kitchen], clock: FrozenClock) -> None:
    k = open_kitchen(keep_done="1h", dedup_window="2h")
    k.submit_many([{"recipe": "margherita", "key": f"k-{i}"} for i in range(10)])
    cook_all(k)
    k.submit("marinara")
    clock.advance(HOUR + 1)
    assert k.purge().tombstones == 10
    clock.advance(HOUR)
    assert k.purge().expired_keys == 10 and counts(k)["dedup_tombstones"] == 0


def test_a_key_past_its_window_is_free_while_its_order_is_still_kept(
        open_kitchen: Callable[..., Kitchen], clock: FrozenClock) -> None:
    k = open_kitchen(keep_done="7d", dedup_window="10m")
    first = k.submit("margherita", key="bob-1")
    cook_all(k)
    waiting = k.submit("marinara", key="bob-2")
    clock.advance(300)
    assert k.submit("margherita", key="bob-1").duplicate, "inside the window"
    clock.advance(301)
    reused = k.submit("margherita", key="bob-1")
    assert not reused.duplicate and reused.number != first.number
    assert k.ticket(first.number).key is None and k.ticket(first.number).state == "done", "kept, key freed"
    again = k.submit("marinara", key="bob-2")
    assert again.duplicate and again.number == waiting.number, "an unfinished order's key always dedups"


def test_events_past_keep_events_go_in_bounded_windows(
        open_kitchen: Callable[..., Kitchen], clock: FrozenClock) -> None:
    k = open_kitchen(keep_events="1h")
    for i in range(5):
        k.join(f"oven-{i}").leave()
    before = scalar(k, "SELECT count(*) FROM events")
    assert before >= 10
    clock.advance(HOUR + 1)
    k.join("late")
    report = k.purge()
    assert report.events == before
    assert scalar(k, "SELECT count(*) FROM events") >= 1, "the newer events stay"


def test_sqlite_gives_freed_pages_back(open_kitchen: Callable[..., Kitchen], clock: FrozenClock,
                                       backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("PostgreSQL's autovacuum reuses the space; only a SQLite file shrinks")
    k = open_kitchen(keep_done="1m")
    assert scalar(k, "PRAGMA auto_vacuum") == 2, "a new file is made in incremental mode"
    k.submit_many([{"recipe": "margherita", "payload": {"pad": "x" * 2000}}] * 3000)
    cook_all(k)
    pages = scalar(k, "PRAGMA page_count")
    clock.advance(120)
    report = k.purge()
    assert report.done == 2999 and report.reclaimed_pages > 0
    assert scalar(k, "PRAGMA freelist_count") <= KEEP_FREE_PAGES
    assert scalar(k, "PRAGMA page_count") < pages / 2


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("5m", 300), ("12h", 43200), ("7d", 604800),
                                           ("2.5", 2.5), (" 1 D ", 86400), ("forever", float("inf"))])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "7 days", "-1d", "0", "1w", "soon"])
def test_bad_durations_name_the_setting(text: str) -> None:
    with pytest.raises(ConfigError, match="keep_done"):
        parse_duration(text, "keep_done")


def test_forever_keeps_everything(open_kitchen: Callable[..., Kitchen], clock: FrozenClock) -> None:
    k = open_kitchen(keep_done="forever", keep_events="forever")
    k.submit_many([{"recipe": "margherita"}] * 3)
    cook_all(k)
    k.submit("marinara")
    clock.advance(10 * 365 * 86400)
    assert not k.purge() and counts(k)["orders"] == 4


def test_the_reaper_job_purges_one_bounded_batch_per_pass(
        open_kitchen: Callable[..., Kitchen], clock: FrozenClock) -> None:
    from kitchen.ovens.jobs import purge_once

    k = open_kitchen(keep_done="1m")
    k.submit_many([{"recipe": "margherita"}] * (BATCH + 10))
    cook_all(k)
    assert not purge_once(k), "nothing old enough: no batch"
    clock.advance(61)
    first = purge_once(k)
    assert first is not None and first.done == BATCH and first.more
    second = purge_once(k)
    assert second is not None and second.done == 9 and not second.more
    assert k.status().orders.done == BATCH + 10


def test_kitchen_ini_lists_every_setting_with_its_default() -> None:
    from dataclasses import fields
    from pathlib import Path

    from kitchen.core.config import Settings, read_ini

    ini = read_ini(Path(__file__).resolve().parents[2] / "kitchen.ini")
    defaults = Settings()
    assert set(ini) == {f.name for f in fields(Settings)}
    resolved = Settings().with_overrides(**ini)
    assert resolved == defaults, "each line's value is the default"


def test_one_purger_at_a_time_on_postgresql(open_kitchen: Callable[..., Kitchen], clock: FrozenClock,
                                           backend: str, backend_url: str) -> None:
    """Another process's batch holds this kitchen's purge lock: a reaper skips its turn, writes nothing."""
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time anyway")
    import psycopg

    from kitchen.store.postgres import PURGE_LOCK

    k = open_kitchen(keep_done="1m")
    k.submit_many([{"recipe": "margherita"}] * 5)
    cook_all(k)
    clock.advance(120)
    base, schema = backend_url.split("?schema=")
    with psycopg.connect(base) as other:
        other.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (PURGE_LOCK, schema))
        skipped = k.purge(batches=1)
        assert not skipped and skipped.more and counts(k)["orders"] == 5
    assert k.purge().done == 4
