"""PostgreSQL: row locks with SKIP LOCKED, LISTEN/NOTIFY wake-ups, the server's clock, SQLSTATE codes.

Errors are classified by SQLSTATE. libpq's own connection failures carry no SQLSTATE: only those fall back
to psycopg's exception class and the server's FATAL text.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import peewee

from kitchen.core.clock import ServerClock, pause
from kitchen.core.errors import DatabaseError, SchemaError

from .ddl_v1 import POSTGRES_TABLES
from .dialect import ChangeWaiter, Dialect, ErrorKind, driver_error, first_line, named_to_pyformat
from .sql import COMPLETE, Statements, claim_text
from .url import Target

if TYPE_CHECKING:
    from .store import Store

CHANNEL = "kitchen_orders"
DEFAULT_SCHEMA = "kitchen"  # a URL naming no schema: kitchen's tables go here, away from the application's
FINISHED_CHANNEL = "kitchen_finished"  # orders done, burnt or cancelled: for Ticket.result, never for ovens
SCHEMA_LOCK = 7355608  # pg_advisory_xact_lock key: one process creates or upgrades the schema at a time
PURGE_LOCK = 7355609  # with the schema's hash: one purge batch per kitchen at a time (others skip their turn)
log = logging.getLogger("kitchen.store")

_SKIP_LOCKED = " FOR UPDATE SKIP LOCKED"
_ON_MENU = " AND (o.recipe || '') = ANY(ARRAY(SELECT json_array_elements_text(CAST(:menu AS json))))"

# A completion in one round trip (see COMPLETE_LEDGER in sql.py): the fenced UPDATE feeds the ledger INSERT in
# one statement, so the ledger row exists exactly when the completion was accepted (one row back).
_FINISHED = "fin AS (" + COMPLETE + " RETURNING id, bucket)"
_LEDGER_OF_FINISHED = ("led AS (INSERT INTO ledger (order_id, oven_id, oven_name, fence, at)"
                       " SELECT id, :oven, :name, :fence, :now FROM fin ON CONFLICT (order_id) DO NOTHING)")
_COMPLETE_LEDGER = f"WITH {_FINISHED}, {_LEDGER_OF_FINISHED} SELECT id FROM fin"
# A lone completion also counts itself on its oven row (OVEN_COOKED of one), its bucket's tally and sends the
# finished-notification (only if accepted). LOCK ORDER holds inside the statement: the order row is updated FROM the
# oven CTE, so its row lock is taken only once the oven row's UPDATE has run; its tally row comes after it.
_COMPLETE_ONE = (
    "WITH ov AS (UPDATE ovens SET cooked = cooked + 1, heartbeat_at = CASE WHEN state = 'alive'"
    " THEN GREATEST(heartbeat_at, :now) ELSE heartbeat_at END WHERE id = :oven RETURNING id),"
    " fin AS (UPDATE orders SET state = 'done', finished_at = :now, result = :result, lease_until = NULL,"
    " progress = 100, error = NULL, traceback = NULL FROM ov WHERE orders.id = :id AND orders.state = 'cooking'"
    " AND orders.oven_id = ov.id AND orders.fence = :fence RETURNING orders.id, orders.bucket),"
    f" {_LEDGER_OF_FINISHED},"
    " tal AS (UPDATE tally SET done = tally.done + 1 FROM fin WHERE tally.bucket = fin.bucket)"
    f" SELECT id, pg_notify('{FINISHED_CHANNEL}', current_schema()) FROM fin")

# Where PostgreSQL's SQL differs from the shared text in sql.py, the whole statement is written here.
POSTGRES_TEXT = {
    # GREATEST: PostgreSQL has no two-argument max()
    "oven_cooked": ("UPDATE ovens SET cooked = cooked + ?, heartbeat_at = CASE WHEN state = 'alive'"
                    " THEN GREATEST(heartbeat_at, ?) ELSE heartbeat_at END WHERE id = ?"),
    # Claims skip rows another claim holds (SKIP LOCKED) instead of waiting. The menu is a scalar test on an
    # expression (``|| ''``), never an index condition, so the planner keeps walking orders_ready in order.
    "claim": claim_text(own=True, on_menu=None, lock=_SKIP_LOCKED),
    "claim_menu": claim_text(own=True, on_menu=_ON_MENU, lock=_SKIP_LOCKED),
    "steal": claim_text(own=False, on_menu=None, lock=_SKIP_LOCKED),
    "steal_menu": claim_text(own=False, on_menu=_ON_MENU, lock=_SKIP_LOCKED),
    "complete_ledger": _COMPLETE_LEDGER,
    "complete_one": _COMPLETE_ONE,
    "tally_lock": "SELECT bucket FROM tally WHERE bucket = ANY(CAST(? AS bigint[])) ORDER BY bucket FOR UPDATE",
    "tally_done_many": ("UPDATE tally SET done = tally.done + v.n FROM unnest(CAST(? AS bigint[]),"
                        " CAST(? AS bigint[])) AS v(bucket, n) WHERE tally.bucket = v.bucket"),
    "ring_generation": "SELECT value FROM kitchen_meta WHERE key = 'ring_generation' FOR UPDATE",
    "move_bucket": (
        "UPDATE buckets SET oven_id = :after, prev_oven_id = :before, generation = :generation, moved_at = :now"
        " WHERE bucket = :bucket AND oven_id IS NOT DISTINCT FROM :before"),
}

_DENIED = re.compile(r"permission denied for (database|schema) \"?([\w$]+)\"?")
_BUSY = {"40P01", "40001", "55P03", "55006"}          # deadlock, serialization, lock not available, in use
_REFUSED = {"28000", "28P01", "3D000", "42501"}       # no such role / bad password / no database / no privilege
_DISCONNECTED = {"57P01", "57P02", "57P03", "53300"}  # terminated, crash shutdown, starting up, too many clients


class PostgresDialect(Dialect):
    name = "postgresql"
    begin_write = "BEGIN"
    begin_read = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
    retry_floor = 30.0  # a server restart takes seconds: established ovens ride it out
    shares_database = True
    v1_tables = POSTGRES_TABLES
    id_column = "BIGSERIAL PRIMARY KEY"

    def open_database(self) -> peewee.Database:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise DatabaseError("PostgreSQL needs the driver: pip install 'kitchen-queue[postgres]'") from None
        # Bitmap scans off for kitchen's own connections: on a table the planner has no statistics for yet
        # (a new kitchen, before autovacuum's first ANALYZE) it picks a bitmap scan + sort of every queued
        # order for the claim; with them off it walks orders_ready in order and stops at the first match.
        # Every kitchen query is an indexed lookup or an ordered index walk, so nothing else needs them.
        # lock_timeout = busy_timeout: a lock held longer than that (a LOCK TABLE, a long transaction) fails the
        # attempt with 55P03, which is retried and then reported as DatabaseBusy, never waited on forever.
        options = f"-c enable_bitmapscan=off -c lock_timeout={max(1, round(self.busy_timeout * 1000))}"
        params: dict[str, Any] = {"connect_timeout": 5, "options": connection_options(self.target, options)}
        return peewee.PostgresqlDatabase(self.target.location, prefer_psycopg3=True, **params)

    def compile(self, text: str) -> str:
        return named_to_pyformat(text)

    def statements(self) -> Statements:
        return Statements.build(self.compile, POSTGRES_TEXT)

    def tables(self, cur: Any) -> set[str]:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
        return {r[0] for r in cur.fetchall()}

    def try_purge_lock(self, cur: Any) -> bool:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s, hashtext(current_schema()))", (PURGE_LOCK,))
        return bool(cur.fetchone()[0])

    def lock_schema(self, cur: Any) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))

    def check_target(self, store: Store) -> None:
        def current(cur: Any) -> Any:
            cur.execute("SELECT current_schema()")
            return cur.fetchone()[0]

        if store.read(current) is None:  # else CREATE TABLE fails with "no schema has been selected to create in"
            name = self.target.schema or "on the search_path"
            raise SchemaError(f"{store.label}: schema {name} does not exist; create it first")

    def target_role(self) -> str:
        """The role the URL connects as (libpq's default: the OS user)."""
        from urllib.parse import urlparse

        return urlparse(self.target.location).username or os.environ.get("PGUSER") or getpass.getuser()

    def settle_target(self, store: Store) -> Target | None:
        """No schema in the URL: kitchen's own schema ``kitchen``, created if missing — unless this database
        already holds a kitchen in the connection's default schema (made before kitchen had a schema of its
        own) and none in ``kitchen``: that one is kept where it is, so an upgrade never strands its orders."""
        if self.target.schema is not None:
            return None

        def look(cur: Any) -> tuple[bool, bool, str | None]:
            cur.execute("SELECT to_regclass(%s) IS NOT NULL, current_schema() IS NOT NULL AND to_regclass("
                        "quote_ident(current_schema()) || '.kitchen_meta') IS NOT NULL, current_schema()",
                        (f"{DEFAULT_SCHEMA}.kitchen_meta",))
            ours, legacy, current = cur.fetchone()
            return bool(ours), bool(legacy), current

        ours, legacy, current = store.read(look)
        if legacy and not ours and current:
            return replace(self.target, schema=current)

        def create(cur: Any) -> None:
            cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (DEFAULT_SCHEMA,))
            if cur.fetchone() is None:
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {DEFAULT_SCHEMA}")

        from .store import RERUN  # store.py imports this module

        store.write(create, settle=RERUN)
        return replace(self.target, schema=DEFAULT_SCHEMA)

    def bulk_insert(self, cur: Any, sql: str, rows: list[tuple]) -> list[int]:
        """psycopg pipelines executemany; ``returning=True`` keeps each row's id, in row order."""
        cur.executemany(sql + " RETURNING id", rows, returning=True)
        ids: list[int] = []
        while True:
            ids.append(int(cur.fetchone()[0]))
            if not cur.nextset():
                return ids

    def enlist(self, conn: Any, body: Callable[[Any], Any]) -> Any:
        from .enlisted import run_enlisted

        return run_enlisted(conn, self.target.schema or DEFAULT_SCHEMA, self.target.label, body)

    def notify(self, cur: Any) -> None:
        cur.execute(f"SELECT pg_notify('{CHANNEL}', current_schema())")  # see ListenWaiter: ours only

    def notify_finished(self, cur: Any) -> None:
        cur.execute(f"SELECT pg_notify('{FINISHED_CHANNEL}', current_schema())")

    def waiter(self, store: Store, finished: bool = False) -> ChangeWaiter:
        return ListenWaiter(self.target, FINISHED_CHANNEL if finished else CHANNEL)

    def server_clock(self, store: Store) -> Callable[[], float]:
        """Reads the server's time on a connection of its own: a clock read inside a transaction body must
        never open (and commit) a transaction on that body's connection."""
        return ClockReader(self.target)

    def shared_clock(self, store: Store) -> Callable[[], float]:
        clock = ServerClock(self.server_clock(store))
        clock.measure()  # now, outside any transaction, so the first reading is the server's
        return clock

    def classify(self, exc: BaseException) -> ErrorKind:
        exc = driver_error(exc)
        state = getattr(exc, "sqlstate", None)
        if state:
            if state in _BUSY:
                return ErrorKind.BUSY
            if state in _REFUSED:
                return ErrorKind.REFUSED
            if state in _DISCONNECTED or state.startswith("08"):
                return ErrorKind.DISCONNECTED
            if state == "25006":
                return ErrorKind.READONLY
            if state in ("53100", "53200"):
                return ErrorKind.FULL
            if state.startswith("XX"):
                return ErrorKind.CORRUPT
            return ErrorKind.OTHER
        try:
            import psycopg
        except ImportError:
            return ErrorKind.OTHER
        if isinstance(exc, psycopg.OperationalError):
            text = str(exc).lower()
            if "fatal" in text and ("does not exist" in text or "authentication failed" in text):
                return ErrorKind.REFUSED
            return ErrorKind.DISCONNECTED
        if isinstance(exc, psycopg.InterfaceError):  # "the connection is closed"
            return ErrorKind.DISCONNECTED
        return ErrorKind.OTHER

    def explain(self, kind: ErrorKind, exc: BaseException) -> str | None:
        exc = driver_error(exc)
        denied = _DENIED.search(str(exc)) if getattr(exc, "sqlstate", None) == "42501" else None
        if denied is not None:  # name the grant that would let this role make kitchen's schema or tables
            what, name = denied.group(1), denied.group(2)
            role = self.target_role()
            if what == "database":
                return (f"{self.target.label}: role {role} may not create kitchen's schema {DEFAULT_SCHEMA!r} "
                        f"(GRANT CREATE ON DATABASE {name} TO {role}, or create the schema for it and "
                        f"GRANT USAGE, CREATE ON SCHEMA {DEFAULT_SCHEMA} TO {role})")
            if what == "schema":
                return f"{self.target.label}: role {role} may not create tables in schema {name} " \
                       f"(GRANT USAGE, CREATE ON SCHEMA {name} TO {role})"
        if kind is ErrorKind.REFUSED:
            return f"cannot open database {self.target.label}: {first_line(driver_error(exc))}"
        return None


def connection_options(target: Target, ours: str = "") -> str:
    """The URL's own libpq options, then kitchen's (later ``-c`` wins), then the search path kitchen's
    unqualified table names need: its schema alone."""
    parts = [target.options, ours]
    if target.schema:
        parts.append(f"-c search_path={target.schema}")
    return " ".join(p for p in parts if p)


class ClockReader:
    """``SELECT clock_timestamp()`` on a private autocommit connection, reopened when it breaks."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self._conn: Any = None
        self._lock = threading.Lock()

    def __call__(self) -> float:
        import psycopg

        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = psycopg.connect(self._target.location, autocommit=True, connect_timeout=5,
                                                     options=connection_options(self._target) or None)
                    row = self._conn.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()
                    return float(row[0])
                except psycopg.Error:
                    self._conn = None
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass


class ListenWaiter(ChangeWaiter):
    """LISTEN on the channel every submit, requeue and bucket move NOTIFYs at commit, so ovens on other
    machines wake at once; if the listening connection drops, poll until it is back. The channel is shared by
    the whole database, so each NOTIFY names its kitchen's schema and only our schema's wake us (an empty
    payload, from a kitchen before schema payloads, wakes every one as it always did)."""

    def __init__(self, target: Any, channel: str = CHANNEL) -> None:
        self._target = target
        self._channel = channel
        self._listener: Any = None
        self._schema = ""

    def arm(self) -> None:
        self._listen()

    def wait(self, timeout: float, interrupted: Callable[[], bool]) -> None:
        deadline = time.monotonic() + timeout
        while not interrupted() and time.monotonic() < deadline:
            conn = self._listen()
            if conn is None:
                pause(min(0.05, max(0.0, deadline - time.monotonic())))
                continue
            try:
                for note in conn.notifies(timeout=min(0.05, max(0.001, deadline - time.monotonic())), stop_after=1):
                    if note.payload in ("", self._schema):
                        return
            except Exception as exc:
                log.warning("LISTEN connection lost (%s); polling until it is back", first_line(exc))
                self.close()

    def _listen(self) -> Any:
        if self._listener is None:
            import psycopg

            try:
                self._listener = psycopg.connect(self._target.location, autocommit=True, connect_timeout=5,
                                                 options=connection_options(self._target))
                self._listener.execute(f"LISTEN {self._channel}")
                self._schema = self._listener.execute("SELECT current_schema()").fetchone()[0] or ""
            except Exception:
                self._listener = None
        return self._listener

    def close(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            except Exception:
                pass
            self._listener = None
