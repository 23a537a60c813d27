"""Transactional enqueue: ``submit(..., connection=conn)`` writes the order inside the application's own
PostgreSQL transaction. It commits with the application's work (and only then wakes ovens), leaves nothing
behind on a rollback, and never holds a row an oven waits for while that transaction stays open."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kitchen import BadOrder, DatabaseError, Kitchen, KitchenError, recipe
from tests.engine.helpers import rows, scalar
from tests.support.postgres import PG_SERVER

DEADLINE = 10.0


@recipe(name="tx_soup")
def tx_soup(bowls: int = 1) -> dict:
    return {"bowls": bowls}


@pytest.fixture
def pg(backend: str, kitchen: Kitchen) -> Kitchen:
    if backend != "postgresql":
        pytest.skip("transactional enqueue needs PostgreSQL (SQLite's refusal is tested below)")
    return kitchen


@pytest.fixture
def app() -> Iterator[Callable[..., Any]]:
    """The application's own psycopg connections (to the kitchen's database), closed afterwards."""
    import psycopg

    opened: list[Any] = []

    def connect(**options: Any) -> Any:
        conn = psycopg.connect(PG_SERVER, **options)
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()


def inbox(k: Kitchen) -> int:
    return int(scalar(k, "SELECT count(*) FROM tally_inbox"))


def our_notes(listener: Any, schema: str, timeout: float) -> list[str]:
    """Wake-ups for this kitchen's schema that arrive within ``timeout`` (other tests share the channel)."""
    deadline = time.monotonic() + timeout
    found: list[str] = []
    while not found and time.monotonic() < deadline:
        for note in listener.notifies(timeout=max(0.01, deadline - time.monotonic()), stop_after=1):
            if note.payload == schema:
                found.append(note.payload)
    return found


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # handed to the test's thread
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def joined(thread: threading.Thread, out: dict[str, Any], what: str) -> Any:
    thread.join(DEADLINE)
    assert not thread.is_alive(), f"{what} did not finish within {DEADLINE:g} s"
    if "error" in out:
        raise out["error"]
    return out.get("value")


def test_a_committed_order_is_visible_after_the_commit_and_cooked(pg: Kitchen, app: Callable[..., Any]) -> None:
    conn = app()
    conn.execute("CREATE TEMP TABLE orders (id INTEGER)")  # the application's own table of kitchen's name
    path = conn.execute("SHOW search_path").fetchone()[0]
    t = pg.submit("noop", {"n": 1}, connection=conn)
    conn.execute("INSERT INTO orders VALUES (7)")  # the application goes on with its own work
    assert conn.execute("SHOW search_path").fetchone()[0] == path, "the application's search path is its own"
    assert scalar(pg, "SELECT count(*) FROM orders") == 0, "nothing is visible before the application commits"
    assert pg.status().orders.submitted == 0
    conn.commit()
    assert conn.execute("SELECT id FROM orders").fetchall() == [(7,)], "the application's table holds its row only"
    assert pg.ticket(t.number).state == "queued" and not t.duplicate
    assert pg.status().orders.queued == 1 and pg.status().orders.submitted == 1
    oven = pg.join("oven-1")
    order = oven.claim()
    assert order is not None and order.id == t.number and order.payload == {"n": 1}
    assert oven.complete(order, result={"ok": True})
    assert t.result(timeout=DEADLINE) == {"ok": True}
    assert pg.status().orders.done == 1


def test_a_rollback_leaves_no_order_no_count_no_event_and_wakes_no_oven(pg: Kitchen, app: Callable[..., Any]) -> None:
    listener = app(autocommit=True)
    listener.execute("LISTEN kitchen_orders")
    schema = pg.store.target.schema
    events_before = scalar(pg, "SELECT count(*) FROM events")
    conn = app()
    pg.submit("noop", connection=conn)
    pg.submit("noop", key="rolled-back", connection=conn)
    assert our_notes(listener, schema, 0.2) == [], "no wake-up before the commit"
    conn.rollback()
    assert our_notes(listener, schema, 0.2) == [], "no wake-up for a rollback"
    assert scalar(pg, "SELECT count(*) FROM orders") == 0 and inbox(pg) == 0
    assert scalar(pg, "SELECT count(*) FROM events") == events_before
    snap = pg.status()
    assert (snap.orders.submitted, snap.orders.queued, snap.ledger.duplicate_submissions) == (0, 0, 0)
    pg.submit("noop", connection=conn)
    conn.commit()
    assert our_notes(listener, schema, DEADLINE) == [schema], "the commit wakes the ovens"
    assert pg.status().orders.queued == 1


def test_an_open_application_transaction_stalls_no_oven_in_its_bucket(pg: Kitchen, app: Callable[..., Any],
                                                                        open_kitchen: Callable[..., Kitchen]) -> None:
    patient = open_kitchen(busy_timeout=60)  # a lock wait would hang here, not fail fast
    conn = app()
    held = pg.submit("noop", customer="ada", connection=conn)  # the application's transaction stays open
    mine = patient.submit("noop", customer="bob")
    oven = patient.join("oven-1")

    def cook_the_bucket() -> int:
        for _ in range(2):  # kitchen's own submits update the same bucket's tally row
            assert patient.submit("noop", customer="ada").bucket == held.bucket
        done = 0
        while (order := oven.claim()) is not None:
            assert oven.complete(order, result=None)
            done += 1
        return done

    thread, out = in_thread(cook_the_bucket)
    try:
        assert joined(thread, out, "cooking beside the open application transaction") == 3
    finally:
        if thread.is_alive():
            conn.rollback()
    assert mine.number != held.number
    snap = pg.status().orders
    assert (snap.submitted, snap.done, snap.queued) == (3, 3, 0), "the open transaction's order is not counted"
    conn.commit()
    snap = pg.status().orders
    assert (snap.submitted, snap.done, snap.queued) == (4, 3, 1)
    assert inbox(pg) == 1
    assert pg.fold_inbox() == 1 and inbox(pg) == 0
    assert pg.status().orders == snap, "folding changes no count"
    tally = scalar(pg, "SELECT submitted FROM tally WHERE bucket = ?", held.bucket)
    assert tally == 3 + (mine.bucket == held.bucket), "ada's two of kitchen's and one folded from the inbox"


def test_the_reaper_folds_the_inbox_and_counts_stay_exact(pg: Kitchen, app: Callable[..., Any]) -> None:
    conn = app()
    pg.submit_many([{"recipe": "noop", "customer": f"c{i}"} for i in range(5)], connection=conn)
    pg.submit("noop", key="k", connection=conn)
    again = pg.submit("noop", key="k", connection=conn)
    assert again.duplicate, "the same key twice in one transaction is one order"
    conn.commit()
    oven = pg.join("oven-1")
    def own_waiting(cur: Any) -> int:
        cur.execute(pg.store.st.own_waiting, {"oven": oven.id})
        return int(cur.fetchone()[0])

    assert pg.store.read(own_waiting) == 6, "an oven's own-bucket count includes the inbox"
    before = pg.status()
    assert (before.orders.submitted, before.orders.queued, before.ledger.duplicate_submissions) == (6, 6, 1)
    pg.reap()
    assert inbox(pg) == 0
    after = pg.status()
    assert after.orders == before.orders and after.ledger == before.ledger
    assert scalar(pg, "SELECT sum(submitted), sum(duplicates) FROM tally") == 6
    assert rows(pg, "SELECT sum(duplicates) FROM tally") == [(1,)]


def test_a_key_committed_before_is_a_duplicate(pg: Kitchen, app: Callable[..., Any]) -> None:
    first = pg.submit("noop", key="order-42")
    conn = app()
    again = pg.submit("noop", key="order-42", connection=conn)
    conn.commit()
    assert again.duplicate and again.number == first.number
    assert pg.status().ledger.duplicate_submissions == 1 and pg.status().orders.submitted == 1


@pytest.mark.parametrize("ending", ["commit", "rollback"])
def test_a_key_in_an_open_transaction_holds_the_second_submit_until_it_ends(
        pg: Kitchen, app: Callable[..., Any], ending: str) -> None:
    first_conn, second_conn = app(), app()
    first = pg.submit("noop", key="shared", connection=first_conn)
    second_pid = second_conn.info.backend_pid
    thread, out = in_thread(lambda: pg.submit("noop", key="shared", connection=second_conn))
    watcher = app(autocommit=True)
    deadline = time.monotonic() + DEADLINE
    while watcher.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                          (second_pid,)).fetchone() != ("Lock",):
        assert thread.is_alive(), "the second submit did not wait for the first transaction"
        assert time.monotonic() < deadline, "the second submit never waited on the first one's key"
        time.sleep(0.01)
    getattr(first_conn, ending)()
    second = joined(thread, out, "the second submit after the first transaction ended")
    second_conn.commit()
    if ending == "commit":
        assert second.duplicate and second.number == first.number
        assert pg.status().orders.submitted == 1
    else:
        assert not second.duplicate and second.number != first.number
        assert pg.ticket(second.number).state == "queued" and pg.status().orders.submitted == 1


def test_typed_submit_and_an_autocommit_connection(pg: Kitchen, app: Callable[..., Any]) -> None:
    conn = app(autocommit=True)
    t = tx_soup.submit(pg, bowls=3, connection=conn)  # outside a transaction block: committed at once
    assert pg.ticket(t.number).payload == {"bowls": 3}
    with conn.transaction():
        u = tx_soup.submit(pg, bowls=4, connection=conn)
        assert scalar(pg, "SELECT count(*) FROM orders WHERE id = ?", u.number) == 0
    assert pg.ticket(u.number).state == "queued" and pg.status().orders.submitted == 2
    with pytest.raises(BadOrder):
        tx_soup.submit(pg, spoons=1, connection=conn)


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert text and "\n" not in text and isinstance(exc.value, KitchenError)
    return text


def test_a_wrong_connection_is_one_line(pg: Kitchen, app: Callable[..., Any], tmp_path: Any) -> None:
    with pytest.raises(BadOrder) as wrong:
        pg.submit("noop", connection=sqlite3.connect(tmp_path / "app.db"))
    assert "psycopg" in one_line(wrong) and "sqlite3.Connection" in one_line(wrong)
    with pytest.raises(BadOrder):
        pg.submit("noop", connection=object())
    import psycopg

    failed = app()
    with pytest.raises(psycopg.errors.DivisionByZero):
        failed.execute("SELECT 1/0")
    with pytest.raises(DatabaseError) as aborted:
        pg.submit("noop", connection=failed)
    assert "roll it back" in one_line(aborted)
    closed = app()
    closed.close()
    with pytest.raises(DatabaseError):
        pg.submit("noop", connection=closed)
    elsewhere = app(dbname="postgres")  # a database without this kitchen: kitchen's part is rolled back
    elsewhere.execute("SELECT 1")
    with pytest.raises(DatabaseError) as missing:
        pg.submit("noop", connection=elsewhere)
    assert "no kitchen" in one_line(missing)
    assert elsewhere.execute("SELECT 2").fetchone() == (2,), "the application's transaction goes on"
    assert scalar(pg, "SELECT count(*) FROM orders") == 0


def test_sqlite_refuses_a_connection(backend: str, kitchen: Kitchen, tmp_path: Any) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite's refusal")
    with pytest.raises(BadOrder) as refused:
        kitchen.submit("noop", connection=sqlite3.connect(tmp_path / "app.db"))
    assert "PostgreSQL" in one_line(refused)
    assert kitchen.status().orders.submitted == 0
