"""The store's contract, one suite for both dialects: every test runs on a fresh SQLite file and a fresh
PostgreSQL schema, against ``Store`` itself (no Kitchen facade), and provokes real engine errors.

Stores here retry for 0.3 s instead of the production floor (1 s SQLite, 30 s PostgreSQL): the same
contract, shorter. Waits are bounded by deadlines; nothing sleeps and hopes.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import fields
from typing import Any

import peewee
import pytest

from kitchen.core.errors import DatabaseBusy, DatabaseError
from kitchen.store import Conflict, ErrorKind, Statements, Store, ensure_schema, sql
from tests.store.raw import TABLES, Db
from tests.support.postgres import PG_SERVER

PUT = "INSERT INTO kitchen_meta (key, value) VALUES (?, ?)"
RETRY_FOR = 0.3


def pg(store: Store) -> bool:
    return store.dialect.name == "postgresql"


def one_line(exc: BaseException) -> str:
    assert str(exc).strip() and "\n" not in str(exc), f"not one line: {exc}"
    return str(exc)


@pytest.fixture
def open_store(make_db: Callable[..., Db]) -> Iterator[Callable[..., Store]]:
    """``open_store()``: a store on a new database (``.db_under_test``); ``open_store(url)``: on that one."""
    opened: list[Store] = []

    def make(url: str | None = None, schema: bool = True) -> Store:
        db = None if url else make_db()
        store = Store(url or db.url, busy_timeout=0.1)
        store.db_under_test = db  # type: ignore[attr-defined]
        store.connect()
        opened.append(store)
        if schema:  # with the full retry window: PostgreSQL's schema lock is one per database, shared by all tests
            ensure_schema(store, 4, time.time())
        store.retry_for = RETRY_FOR
        store.retried.clear()  # count only what the test does
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., Store]) -> Store:
    return open_store()


def put(store: Store, key: str, notify: bool = False) -> None:
    def fn(cur: Any) -> None:
        cur.execute(store.dialect.compile(PUT), (key, "v"))
        if notify:
            store.dialect.notify(cur)

    store.write(fn)


def keys(store: Store, prefix: str) -> set[str]:
    def fn(cur: Any) -> set[str]:
        cur.execute(store.dialect.compile("SELECT key FROM kitchen_meta WHERE key LIKE ?"), (prefix + "%",))
        return {r[0] for r in cur.fetchall()}

    return store.read(fn)


def keeping(fn: Callable[[Any], Any], caught: list[BaseException]) -> Callable[[Any], Any]:
    """``fn``, keeping the driver's own exception before the store translates it."""
    def run(cur: Any) -> Any:
        try:
            return fn(cur)
        except Exception as exc:
            caught.append(exc)
            raise

    return run


def test_write_commits_and_read_sees_it(store: Store) -> None:
    put(store, "k1")
    assert keys(store, "k1") == {"k1"}
    assert store.db_under_test.raw.rows("SELECT key FROM kitchen_meta WHERE key = 'k1'") == [("k1",)]  # on disk


def test_an_exception_rolls_back_everything_fn_wrote(store: Store) -> None:
    def fn(cur: Any) -> None:
        cur.execute(store.dialect.compile(PUT), ("a", "1"))
        cur.execute(store.dialect.compile(PUT), ("b", "2"))
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        store.write(fn)
    put(store, "c")  # the connection was left clean: the next transaction commits on its own
    assert store.db_under_test.raw.rows("SELECT key FROM kitchen_meta WHERE key IN ('a', 'b', 'c')") == [("c",)]


def test_a_conflict_retries_the_whole_transaction_then_gives_up(store: Store) -> None:
    runs: list[int] = []

    def fn(cur: Any, tag: str, lose: int) -> int:
        runs.append(1)
        cur.execute(store.dialect.compile(PUT), (f"{tag}{len(runs)}", "x"))
        if len(runs) <= lose:
            raise Conflict("lost a race")
        return len(runs)

    assert store.write(fn, "try", 2) == 3
    assert keys(store, "try") == {"try3"}, "the attempts that lost were rolled back"
    assert store.retried == {"conflict": 2}
    start = time.monotonic()
    with pytest.raises(DatabaseBusy) as info:
        store.write(fn, "never", 10**9)
    assert RETRY_FOR <= time.monotonic() - start < RETRY_FOR + 2.0 and len(runs) > 5
    assert store.label in one_line(info.value) and "nothing was written" in str(info.value)
    assert keys(store, "never") == set()


# Dummy values: None (the server infers its type) except where only the callers' types say what a parameter is
# (``CASE ... THEN :now ELSE NULL END`` alone does not): times are floats, errors text, as the protocol sends.
TYPED = {"now": 1.0, "run_at": 1.0, "lease_until": 1.0, "stale": 1.0, "error": "e"}
MARKERS = re.compile(r"%\((\w+)\)s|(?<![:\w]):([a-z_]\w*)")


def test_every_statement_compiles_on_this_engine(store: Store) -> None:
    def explain(cur: Any, sql: str) -> None:  # parsed, bound and planned, not run
        names = [a or b for a, b in MARKERS.findall(sql)]
        params = {n: TYPED.get(n) for n in names} if names else (None,) * (sql.count("%s") + sql.count("?"))
        cur.execute("EXPLAIN " + sql, params)
        cur.fetchall()

    bad, not_offered = {}, set()
    for field in fields(Statements):
        if field.name == "args":  # binders, not text: see test_hot_statements_bind_what_they_name
            continue
        sql = getattr(store.st, field.name)
        if not sql:  # a one-statement form this dialect does not offer (sql.py: COMPLETE_ONE and its kin)
            not_offered.add(field.name)
            continue
        try:
            store.read(explain, sql)
        except DatabaseError as exc:
            bad[field.name] = str(exc)
    assert bad == {}
    assert not_offered <= {"complete_ledger", "complete_one", "tally_lock", "tally_done_many"}
    assert not not_offered or store.dialect.name == "sqlite", "PostgreSQL offers every statement"


def test_hot_statements_bind_what_they_name(store: Store) -> None:
    """SQLite gets the oven loop's statements by position (sql.positional), PostgreSQL by name; either way a
    binder hands the driver exactly the values the statement's text names, in its order."""
    params = {"oven": 7, "lease_until": 2.5, "now": 1.5, "limit": 3, "menu": '["noop"]', "result": None, "id": 9,
              "fence": 4, "name": "oven-7"}
    for name in ("claim", "claim_menu", "steal", "steal_menu", "complete", "ledger"):
        text, bound = getattr(store.st, name), getattr(store.st.args, name)(params)
        if store.dialect.name == "sqlite":
            source = getattr(sql, name.upper())
            assert ":" not in text and text.count("?") == len(bound) > 0, name
            assert list(bound) == [params[n] for n in sql.NAMED.findall(source)], name
        else:
            assert bound is params, name


def test_compile_turns_markers_into_the_drivers_paramstyle(store: Store) -> None:
    compile_sql, st = store.dialect.compile, store.st

    def fn(cur: Any) -> tuple:
        cur.execute(compile_sql("SELECT CAST(? AS INTEGER) - CAST(? AS INTEGER)"), (7, 2))
        positional = cur.fetchone()[0]
        cur.execute(compile_sql("SELECT CAST(:x AS INTEGER) - CAST(:y AS INTEGER), CAST(:x AS INTEGER)"),
                    {"y": 2, "x": 7})
        named = tuple(cur.fetchone())
        cur.execute(st.join, {"name": "o1", "host": "h", "pid": 1, "now": 5.0})  # :now twice
        cur.execute(st.oven_state, (cur.fetchone()[0],))
        return positional, named, cur.fetchone()[0]

    assert store.write(fn) == (5, (5, 7), "alive")


def test_bulk_insert_returns_ids_in_row_order(store: Store) -> None:
    def insert(cur: Any, tag: str, n: int) -> list[int]:
        rows = [(f"{tag}{i}", f"c{i}", "{}", i % 3, i % 4, 1.0, 1.0) for i in range(n)]
        return store.dialect.bulk_insert(cur, store.st.insert_plain, rows)

    def stored(cur: Any) -> dict[int, tuple]:
        cur.execute("SELECT id, recipe, customer FROM orders")
        return {r[0]: (r[1], r[2]) for r in cur.fetchall()}

    first = store.write(insert, "a", 5)
    # A hole at the top: SQLite hands that id out again, PostgreSQL's sequence does not.
    store.write(lambda cur: cur.execute(store.dialect.compile("DELETE FROM orders WHERE id = ?"), (first[-1],)))
    ids = store.write(insert, "b", 40)
    table = store.read(stored)
    assert [table[i] for i in ids] == [(f"b{i}", f"c{i}") for i in range(40)]
    assert len(set(ids)) == 40 and set(table) == set(first[:-1]) | set(ids)


def test_unique_violation_is_other_and_not_retried(store: Store) -> None:
    caught: list[BaseException] = []
    with pytest.raises(DatabaseError) as info:
        store.write(keeping(lambda cur: cur.execute(store.dialect.compile(PUT), ("buckets", "9")), caught))
    assert not isinstance(info.value, DatabaseBusy) and store.label in one_line(info.value)
    assert len(caught) == 1 and not store.retried
    for exc in (caught[0], peewee.IntegrityError(caught[0], *caught[0].args)):  # as the driver, as peewee wraps it
        assert store.dialect.classify(exc) is ErrorKind.OTHER
        assert store.dialect.error_code(exc) == ("23505" if pg(store) else "SQLITE_CONSTRAINT_PRIMARYKEY")


def test_a_lock_held_longer_than_busy_timeout_is_busy(store: Store) -> None:
    db = store.db_under_test
    if pg(store):
        import psycopg

        holder: Any = psycopg.connect(PG_SERVER, options=f"-c search_path={db.raw.location}")
        holder.execute("LOCK TABLE kitchen_meta IN ACCESS EXCLUSIVE MODE")
    else:
        holder = sqlite3.connect(db.url, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
    watchdog = threading.Timer(5.0, holder.rollback)  # an unbounded wait fails the test instead of hanging it
    watchdog.start()
    try:
        start = time.monotonic()
        with pytest.raises(DatabaseBusy) as info:
            put(store, "blocked")
        assert time.monotonic() - start < RETRY_FOR + 2.0
    finally:
        watchdog.cancel()
        holder.rollback()
        holder.close()
    assert "locked" in one_line(info.value)
    assert store.retried["55P03" if pg(store) else "SQLITE_BUSY"] >= 1
    put(store, "after")  # the lock is gone: the same store writes again
    assert keys(store, "after") == {"after"} and keys(store, "blocked") == set()


def test_writing_in_a_read_only_transaction_is_readonly(store: Store) -> None:
    caught: list[BaseException] = []

    def write(cur: Any) -> None:  # PostgreSQL reads are READ ONLY; SQLite is made so for this transaction
        if not pg(store):
            cur.execute("PRAGMA query_only = ON")
        try:
            cur.execute(store.dialect.compile(PUT), ("ro", "x"))
        finally:
            if not pg(store):
                cur.execute("PRAGMA query_only = OFF")

    with pytest.raises(DatabaseError) as info:
        store.read(keeping(write, caught))
    assert "read-only" in one_line(info.value)
    assert store.dialect.classify(caught[0]) is ErrorKind.READONLY
    assert store.dialect.error_code(caught[0]) == ("25006" if pg(store) else "SQLITE_READONLY")
    assert keys(store, "ro") == set()


def test_a_missing_database_is_one_line(store: Store, tmp_path: Any) -> None:
    if pg(store):
        url = f"{PG_SERVER.rsplit('/', 1)[0]}/kt_missing_{uuid.uuid4().hex}"
        start = time.monotonic()
        with pytest.raises(DatabaseError) as info:
            Store(url).connect()
        assert time.monotonic() - start < 0.9, "refused at once, not retried like an unreachable server"
        assert "does not exist" in one_line(info.value)
        with pytest.raises(peewee.OperationalError) as raw:  # 3D000, though libpq's failure carries no SQLSTATE
            Store(url).db.connection()
        assert store.dialect.classify(raw.value) is ErrorKind.REFUSED
        return
    with pytest.raises(DatabaseError) as info:
        Store(str(tmp_path / "missing" / "k.db"))
    assert "does not exist" in one_line(info.value)
    (tmp_path / "gone").mkdir()
    gone = Store(str(tmp_path / "gone" / "k.db"))
    shutil.rmtree(tmp_path / "gone")  # removed between open and connect: SQLITE_CANTOPEN
    with pytest.raises(DatabaseError) as info:
        gone.connect()
    assert "cannot open" in one_line(info.value)
    with pytest.raises(peewee.OperationalError) as raw:
        gone.db.connection()
    assert gone.dialect.classify(raw.value) is ErrorKind.OPEN
    assert gone.dialect.error_code(raw.value) == "SQLITE_CANTOPEN"


def test_a_terminated_connection_is_reconnected(store: Store) -> None:
    if not pg(store):
        pytest.skip("PostgreSQL only: a SQLite file has no server to drop the connection")
    import psycopg

    def backend(cur: Any) -> int:
        cur.execute("SELECT pg_backend_pid()")
        return int(cur.fetchone()[0])

    def terminate(pid: int) -> None:
        with psycopg.connect(PG_SERVER, autocommit=True) as admin:  # returns once it is gone (at most 5 s)
            assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone()[0]

    terminate(first := store.read(backend))
    second = store.read(backend)
    assert second != first and sum(store.retried.values()) == 1
    terminate(second)
    with pytest.raises(psycopg.Error) as raw:
        store.connection().execute("SELECT 1")
    assert store.dialect.classify(raw.value) is ErrorKind.DISCONNECTED
    assert store.dialect.error_code(raw.value) == "57P01"
    assert store.read(backend) not in (first, second)  # the store reconnects, even after a closed connection


def test_a_waiter_wakes_soon_after_another_store_commits_a_notify(store: Store, open_store: Callable) -> None:
    other, waiter = open_store(store.db_under_test.url, schema=False), store.waiter()
    thread = threading.Thread(target=waiter.wait, args=(10.0, lambda: False), daemon=True)
    thread.start()
    deadline, n = time.monotonic() + 2.0, 0
    while thread.is_alive() and time.monotonic() < deadline:  # commit until it wakes: no hoping it listens yet
        put(other, f"poke{n}", notify=True)
        n += 1
        thread.join(0.05)
    try:
        assert not thread.is_alive(), "the waiter slept through 2 s of committed notifies"
        start = time.monotonic()
        waiter.wait(10.0, lambda: True)
        assert time.monotonic() - start < 1.0, "an interrupted wait returns at once"
    finally:
        thread.join(11.0)
        waiter.close()


def test_a_waiter_returns_at_its_timeout_when_nothing_happens_here(store: Store, open_store: Callable) -> None:
    elsewhere, waiter, stop = open_store(), store.waiter(), threading.Event()  # another kitchen's database

    def busy_elsewhere() -> None:
        n = 0
        while not stop.wait(0.02):  # its commits and notifies are not ours
            put(elsewhere, f"e{n}", notify=True)
            n += 1

    thread = threading.Thread(target=busy_elsewhere, daemon=True)
    thread.start()
    try:
        start = time.monotonic()
        waiter.wait(0.3, lambda: False)
        took = time.monotonic() - start
    finally:
        stop.set()
        thread.join(5.0)
        waiter.close()
    assert 0.25 <= took < 2.0


def test_server_clock_is_postgresqls_and_none_on_sqlite(store: Store) -> None:
    clock = store.dialect.server_clock(store)
    assert (clock is not None) is pg(store)
    if clock is not None:
        first, now, second = clock(), time.time(), clock()
        assert abs(first - now) < 2.0 and first <= second


LATER_TABLES = {"dedup_tombstones", "tally_inbox"}  # v6 (retention), v7 (transactional enqueue)


def test_tables_lists_kitchens_own_tables_only(store: Store, open_store: Callable) -> None:
    assert store.read(store.dialect.tables) == set(TABLES) | LATER_TABLES
    if not pg(store):
        return
    neighbour = open_store(schema=False)  # a schema beside ours, in the same database, with a table of a same name
    neighbour.db_under_test.raw.execute("CREATE TABLE orders (id INTEGER)")
    neighbour.db_under_test.raw.execute("CREATE TABLE stranger (id INTEGER)")
    assert store.read(store.dialect.tables) == set(TABLES) | LATER_TABLES
    assert neighbour.read(neighbour.dialect.tables) == {"orders", "stranger"}
