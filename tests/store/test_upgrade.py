"""Upgrades: a database made by the first release opens with today's kitchen and is upgraded in place.

Every test starts from a private copy of ``fixtures/v1.sqlite`` or ``fixtures/v1_postgres.sql``, made by
the real previous release (``make_v1_fixtures.py``), and compares against what raw SQL reads from that copy
before today's code touches it. One test per schema change: v1 (the DDL today's code creates first must be
the release's, to the byte on SQLite) and v2 (typed events, refusal codes).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

import pytest

from kitchen import FrozenClock, Kitchen, Order, SchemaError
from kitchen.core import words
from kitchen.store import SCHEMA_VERSION, Store
from kitchen.store import schema as schema_module
from kitchen.store.ddl_v1 import create_v1
from tests.store.raw import PLACEHOLDER, Db
from tests.support.processes import ROOT, in_lockstep

V2_COLUMNS = {("events", "data"), ("refusals", "code"), ("refusals", "current_fence"), ("refusals", "order_state")}
LATER_COLUMNS = {("ovens", "menu"),  # v3: see test_upgrade_v3.py
                 ("orders", "traceback"), ("orders", "cancel_at"), ("tally", "cancelled")}  # v5: test_upgrade_v5.py
OLD_REASON_CODES = {  # the first release's refusal sentences, and the code the v2 migration derives
    "stale fence 1: order already done (fence 2)": "already_done",
    "stale fence 1: order is being re-cooked under fence 2": "recooking",
    "stale fence 1: order was taken back (queued)": "taken_back",
    "no such order": "no_such_order",
}
FOREIGN_REASON = "stale fence 3: a sentence no release wrote"  # keeps no code and is shown as it is


def plain(view: Any) -> Any:
    """A read's result as plain dicts and lists, whether it is a dict already or a typed view."""
    return dataclasses.asdict(view) if dataclasses.is_dataclass(view) else view


def sentence(event: Any) -> str:
    """An event as the faces show it: its stored sentence (v1 rows) or one made from its facts."""
    if isinstance(event, dict):
        return event["detail"]
    return words.event(event.kind, event.oven_name, event.order_id, event.data, event.legacy_detail)


def reason(row: Any) -> str:
    """A refusal's reason as the faces show it."""
    if isinstance(row, dict):
        return row["reason"]
    return words.refusal(row.code, row.fence, row.current_fence, row.order_state, row.legacy_reason)


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text, f"not a one-line message: {text!r}"
    return text


def after_fixture(db: Db) -> float:
    """A moment just after the fixture's story ended (oven-a's last heartbeat): oven-a is still alive."""
    return float(db.raw.scalar("SELECT max(heartbeat_at) FROM ovens")) + 1.0


def open_upgraded(db: Db) -> Kitchen:
    return Kitchen.open(db.url, clock=FrozenClock(after_fixture(db)), heartbeat_timeout=5.0)


def column_names(columns: dict[str, list[tuple]]) -> set[tuple[str, str]]:
    return {(table, c[0]) for table, cols in columns.items() for c in cols}


def assert_each_column_once(db: Db) -> None:
    for table, cols in db.raw.columns().items():
        names = [c[0] for c in cols]
        assert len(names) == len(set(names)), f"{table} has a column twice: {names}"


def tally(db: Db) -> dict[str, int]:
    names = ("submitted", "done", "burnt", "duplicates", "refused", "requeued", "retried")
    sums = db.raw.rows(f"SELECT {', '.join(f'sum({n})' for n in names)} FROM tally")[0]
    return dict(zip(names, (int(v) for v in sums)))


def test_the_fixture_is_what_the_first_release_made(old_db: Db) -> None:
    """Guard the fixture itself: version 1 with every kind of row the upgrade tests rely on."""
    raw = old_db.raw
    assert raw.meta() == {"schema_version": "1", "buckets": "16", "ring_generation": "3",
                          "created_at": "1700000000.0"}
    assert not column_names(raw.columns()) & V2_COLUMNS
    states = dict(raw.rows("SELECT state, count(*) FROM orders GROUP BY state"))
    assert states == {"queued": 11, "cooking": 1, "done": 4, "burnt": 1}
    assert raw.scalar("SELECT count(*) FROM orders WHERE run_at > ?", after_fixture(old_db) + 60) == 1  # delayed
    assert raw.scalar("SELECT count(*) FROM orders WHERE dedup_key IS NOT NULL") == 7
    assert raw.scalar("SELECT count(*) FROM orders WHERE result IS NOT NULL") == 4
    assert sorted(raw.rows("SELECT name, state FROM ovens")) == [("oven-a", "alive"), ("oven-b", "dead")]
    assert sorted(r[0] for r in raw.rows("SELECT reason FROM refusals")) == sorted(OLD_REASON_CODES)
    kinds = {r[0] for r in raw.rows("SELECT DISTINCT kind FROM events")}
    assert kinds == {"join", "moved", "dead", "requeue", "refused", "retry", "burnt", "released"}
    assert sorted(r[0] for r in raw.rows("SELECT oven_name FROM ledger")) == ["oven-a"] * 3 + ["oven-b"]
    assert tally(old_db) == {"submitted": 17, "done": 4, "burnt": 1, "duplicates": 1, "refused": 4,
                             "requeued": 3, "retried": 1}


def test_v1_ddl_is_exactly_the_first_releases(old_db: Db, make_db) -> None:
    """Schema change 1: the tables today's kitchen creates before migrating are the release's own."""
    fresh = make_db()
    store = Store(fresh.url)
    try:
        store.connect()
        store.write(lambda cur: create_v1(cur, store.dialect.v1_tables, store.dialect.compile, 16, 1.0))
    finally:
        store.close()
    old, new = old_db.raw, fresh.raw
    assert new.columns() == old.columns()
    assert new.indexes() == old.indexes()
    if old_db.backend == "sqlite":
        assert new.table_sql() == old.table_sql()  # byte for byte, as peewee wrote them
    else:
        strip = [(table.split(".")[-1], kind, definition) for table, kind, definition in new.constraints()]
        assert strip == [(table.split(".")[-1], kind, definition) for table, kind, definition in old.constraints()]
    assert new.meta().keys() == old.meta().keys() and new.meta()["schema_version"] == "1"
    assert new.scalar("SELECT count(*) FROM buckets") == new.scalar("SELECT count(*) FROM tally") == 16


def test_upgrade_keeps_every_row(old_db: Db) -> None:
    raw = old_db.raw
    v1_columns = raw.columns()
    before = raw.dump(v1_columns)
    with open_upgraded(old_db) as k:
        assert k.buckets == 16, "the database's own bucket count, not the setting's default"
    assert raw.meta()["schema_version"] == str(SCHEMA_VERSION)
    after = raw.dump(v1_columns)
    expected_meta = [(key, str(SCHEMA_VERSION) if key == "schema_version" else value)
                     for key, value in before.pop("kitchen_meta")]
    assert after.pop("kitchen_meta") == expected_meta
    for table in before:
        assert after[table] == before[table], f"{table} changed in the upgrade"
    with open_upgraded(old_db) as k:  # opening an upgraded database again changes nothing
        pass
    assert raw.dump(v1_columns) == {"kitchen_meta": expected_meta, **before}


def test_v2_typed_events_and_refusal_codes(old_db: Db) -> None:
    """Schema change 2: events.data, refusals.code/current_fence/order_state; old rows read as before."""
    raw = old_db.raw
    raw.execute("INSERT INTO refusals (order_id, oven_id, oven_name, fence, at, reason)"
                " VALUES (5, 1, 'oven-b', 3, 1700000009.5, ?)", FOREIGN_REASON)
    old_events = raw.rows("SELECT id, kind, oven_name, order_id, detail FROM events ORDER BY id")
    old_refusals = raw.rows("SELECT id, order_id, fence, reason FROM refusals ORDER BY id")
    v1_names = column_names(raw.columns())
    with open_upgraded(old_db) as k:
        assert column_names(raw.columns()) == v1_names | V2_COLUMNS | LATER_COLUMNS
        assert raw.rows("SELECT count(*) FROM events WHERE data IS NOT NULL") == [(0,)]
        codes = {r[0]: r[1:] for r in raw.rows("SELECT reason, code, current_fence, order_state FROM refusals")}
        assert codes == {"stale fence 1: order already done (fence 2)": ("already_done", 2, "done"),
                         "stale fence 1: order is being re-cooked under fence 2": ("recooking", 2, "cooking"),
                         "stale fence 1: order was taken back (queued)": ("taken_back", None, "queued"),
                         "no such order": ("no_such_order", None, None),
                         FOREIGN_REASON: (None, None, None)}

        shown = [(e.id, e.kind, e.oven_name, e.order_id, sentence(e)) for e in k.events(limit=1000)]
        assert shown == old_events, "old events must read as the sentences they were written as"
        refused = sorted((r.id, r.order_id, r.fence, reason(r)) for r in k.refusals(limit=100))
        assert refused == old_refusals, "old refusals must keep their reason"

        # New rows are typed and still read as sentences beside the old ones.
        oven = k.join("oven-new", host="upgrade-host", pid=7)
        (zombie_id,) = raw.rows("SELECT id FROM ovens WHERE name = 'oven-b'")[0]
        order_id, recipe, fence, bucket, attempt = raw.rows(
            "SELECT id, recipe, fence, bucket, attempt FROM orders WHERE dedup_key = 'ada-1'")[0]
        stale = Order(order_id, recipe, "{}", attempt, fence - 1, bucket)
        assert not k.attach(zombie_id, "oven-b").complete(stale, {"late": True})
        newest = k.refusals(limit=1)[0]
        assert (newest.order_id, newest.code) == (order_id, "already_done")
        assert reason(newest) == f"stale fence {fence - 1}: order already done (fence {fence})"
        events = k.events(after=old_events[-1][0], limit=100)
        assert [e.kind for e in events] == ["join", "moved", "refused"]
        assert sentence(events[0]) == "oven-new joined from upgrade-host pid 7"
        assert sentence(events[-1]) == "late completion refused: " + reason(newest)
        assert raw.scalar("SELECT count(*) FROM events WHERE data IS NOT NULL") == len(events)
        assert oven.alive()


def test_upgraded_schema_matches_a_fresh_one(old_db: Db, make_db) -> None:
    fresh = make_db()
    with open_upgraded(old_db), Kitchen.open(fresh.url, buckets=16):
        pass
    assert old_db.raw.columns() == fresh.raw.columns()
    assert old_db.raw.indexes() == fresh.raw.indexes()
    assert old_db.raw.meta()["schema_version"] == fresh.raw.meta()["schema_version"] == str(SCHEMA_VERSION)


def test_old_dedup_keys_still_deduplicate(old_db: Db) -> None:
    raw = old_db.raw
    keys = raw.rows("SELECT dedup_key, id, bucket FROM orders WHERE dedup_key IS NOT NULL ORDER BY id")
    orders_before, dups_before = raw.scalar("SELECT count(*) FROM orders"), tally(old_db)["duplicates"]
    with open_upgraded(old_db) as k:
        for key, number, bucket in keys:
            ticket = k.submit("margherita", {"again": True}, key=key)
            assert (ticket.number, ticket.bucket, ticket.duplicate) == (number, bucket, True), key
        fresh = k.submit("margherita", key="brand-new-key")
        assert not fresh.duplicate and fresh.number > max(n for _, n, _ in keys)
    assert raw.scalar("SELECT count(*) FROM orders") == orders_before + 1
    assert tally(old_db)["duplicates"] == dups_before + len(keys)


def test_the_kitchen_works_after_the_upgrade(old_db: Db) -> None:
    raw = old_db.raw
    counts = tally(old_db)
    results = dict(raw.rows("SELECT id, result FROM orders WHERE state = 'done'"))
    with open_upgraded(old_db) as k:
        status = plain(k.status())
        assert status["orders"] == {"queued": 11, "cooking": 1, "done": counts["done"], "burnt": counts["burnt"],
                                    "submitted": counts["submitted"], "cancelled": 0}
        assert status["ledger"] == {"completions": counts["done"], "duplicate_submissions": counts["duplicates"],
                                    "refused_completions": counts["refused"]}
        assert (status["requeued"], status["retried"]) == (counts["requeued"], counts["retried"])
        for number, result in results.items():
            assert k.ticket(number).result == json.loads(result)
        assert [o["name"] for o in status["ovens"] if o["state"] == "alive"] == ["oven-a"]

        oven = k.join("oven-new", host="upgrade-host", pid=7)
        order = oven.claim()
        assert order is not None, "the new oven's buckets hold queued orders from the old release"
        assert raw.scalar("SELECT state FROM orders WHERE id = ?", order.id) == "cooking"
        moved = plain(k.status())["orders"]
        assert moved == {**status["orders"], "queued": 10, "cooking": 2}
        assert oven.complete(order, {"upgraded": True})
        done = plain(k.status())["orders"]
        assert done == {**status["orders"], "queued": 10, "done": counts["done"] + 1}
        assert k.ticket(order.id).result == {"upgraded": True}
        assert k.ledger(limit=1)[0].order_id == order.id
    assert tally(old_db)["done"] == counts["done"] + 1
    assert raw.scalar("SELECT count(*) FROM ledger") == counts["done"] + 1


@pytest.mark.processes
def test_two_processes_opening_an_old_database_upgrade_it_once(old_db: Db) -> None:
    now = str(after_fixture(old_db))
    results = in_lockstep([[sys.executable, "-m", "tests.store.opener", old_db.url, now]] * 2, cwd=ROOT)
    assert [r.get("error") for r in results] == [None, None]
    assert [(r["version"], r["buckets"]) for r in results] == [(SCHEMA_VERSION, 16)] * 2
    steps = sorted(v for r in results for v in r["ran"])
    assert steps == [m.version for m in schema_module.MIGRATIONS], f"migration steps ran {steps}"
    assert_each_column_once(old_db)
    assert column_names(old_db.raw.columns()) >= V2_COLUMNS
    assert old_db.raw.meta()["schema_version"] == str(SCHEMA_VERSION)


def test_an_opener_who_saw_the_old_version_does_not_migrate_again(old_db: Db) -> None:
    """The version is read again under the schema lock: a loser of the race finds the work done."""
    late = Store(old_db.url)
    try:
        late.connect()
        assert schema_module._checked_meta(late, late.read(schema_module._meta))["schema_version"] == 1
        with open_upgraded(old_db):  # the winner upgrades in between
            pass
        late.write(schema_module._upgrade, late)  # the loser's upgrade, from its stale read: a no-op, no error
    finally:
        late.close()
    assert old_db.raw.meta()["schema_version"] == str(SCHEMA_VERSION)
    assert_each_column_once(old_db)


def test_a_newer_database_is_refused_in_one_line(old_db: Db) -> None:
    raw = old_db.raw
    newer = SCHEMA_VERSION + 1
    raw.execute("UPDATE kitchen_meta SET value = ? WHERE key = 'schema_version'", str(newer))
    columns = raw.columns()
    before = raw.dump(columns)
    with pytest.raises(SchemaError) as info:
        open_upgraded(old_db)
    message = one_line(info.value)
    assert f"schema version {newer}" in message and "upgrade" in message
    assert raw.columns() == columns and raw.dump(columns) == before, "a refused database is left as it was"


@pytest.mark.parametrize("tamper, words", [
    ("UPDATE kitchen_meta SET value = 'abc' WHERE key = 'schema_version'", "schema_version is 'abc'"),
    ("UPDATE kitchen_meta SET value = '-3' WHERE key = 'buckets'", "buckets is -3"),
    ("DELETE FROM kitchen_meta WHERE key = 'ring_generation'", "no ring_generation"),
], ids=["version-abc", "buckets-minus-3", "no-ring-generation"])
def test_a_tampered_kitchen_meta_is_refused_in_one_line(old_db: Db, tamper: str, words: str) -> None:
    raw = old_db.raw
    raw.execute(tamper)
    columns = raw.columns()
    before = raw.dump(columns)
    with pytest.raises(SchemaError) as info:
        open_upgraded(old_db)
    assert words in one_line(info.value)
    assert raw.columns() == columns and raw.dump(columns) == before, "nothing is migrated past a bad meta table"
    assert PLACEHOLDER not in str(info.value)
