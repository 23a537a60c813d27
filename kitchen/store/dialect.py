"""The one seam between kitchen and a database engine: everything that differs lives behind ``Dialect``.

A dialect owns connection set-up, the text of each statement that differs from the shared SQL, how to
wake and wait for idle ovens, the clock that judges leases, how driver errors are classified (by code),
and bulk insert. Nothing outside ``kitchen.store`` asks which dialect it is talking to.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Any

import peewee

from kitchen.core.errors import BadOrder

from .gate import WriteGate
from .sql import NAMED
from .url import Target

if TYPE_CHECKING:
    from .sql import Statements
    from .store import Store


class Conflict(Exception):
    """A compare-and-set lost a race inside a transaction; the store retries the whole transaction."""


class ErrorKind(Enum):
    """What a driver error means for the caller: retry it, or tell a person one line."""

    BUSY = "busy"                   # lock contention, deadlock, serialization: retry the transaction
    DISCONNECTED = "disconnected"   # the connection broke: reconnect and retry
    READONLY = "readonly"
    FULL = "full"
    CORRUPT = "corrupt"
    IO = "io"
    OPEN = "open"                   # the file cannot be opened or created
    REFUSED = "refused"             # the server said no (role, password, database): retrying cannot help
    OTHER = "other"


class ChangeWaiter(ABC):
    """How an idle oven waits: returns when the queue may have changed, or after the timeout."""

    @abstractmethod
    def wait(self, timeout: float, interrupted: Callable[[], bool]) -> None: ...

    def arm(self) -> None:
        """Start watching now: a change committed after this returns wakes the next ``wait`` (call it before
        reading what you wait on, so a change between the read and the wait is not missed)."""

    def close(self) -> None:
        """Release whatever the waiter holds (a LISTEN connection)."""


class Dialect(ABC):
    """One database engine's side of the store."""

    name: str
    begin_write: str
    begin_read: str
    retry_floor: float  # seconds a busy or unreachable database is retried at least
    shares_database: bool  # may kitchen's tables live beside an application's? (a SQLite file must be ours)
    v1_tables: tuple[str, ...]  # the first release's DDL (ddl_v1.py); later versions are migrations
    id_column: str  # an auto-numbered primary key column's type, for tables added by migrations

    def __init__(self, target: Target, durability: str, busy_timeout: float) -> None:
        self.target = target
        self.durability = durability
        self.busy_timeout = busy_timeout
        # A cross-process gate every writer of this process takes before BEGIN (SQLite: see WriteGate); None
        # where the engine's own row locks hand writers over well.
        self.gate: WriteGate | None = None

    # -- connections ------------------------------------------------------------------------------------

    @abstractmethod
    def open_database(self) -> peewee.Database:
        """The peewee database object (connections are per thread)."""

    def after_connect(self, db: peewee.Database) -> None:
        """Set-up that needs a live connection (SQLite: WAL and the write gate)."""

    def after_fork(self) -> None:
        """Forget inherited handles (the write gate's file description)."""

    def close(self) -> None:
        """Release what ``after_connect`` opened beside the connections (the write gate's file)."""
        gate, self.gate = self.gate, None
        if gate is not None:
            gate.close()

    # -- SQL ------------------------------------------------------------------------------------------------

    def compile(self, text: str) -> str:
        """Shared SQL uses ``?`` and ``:name`` markers; each driver has its own."""
        return text

    @abstractmethod
    def statements(self) -> Statements:
        """Every statement compiled for this engine, with this engine's own text where it differs."""

    @abstractmethod
    def tables(self, cur: Any) -> set[str]:
        """Names of the tables kitchen can see (its schema only)."""

    def lock_schema(self, cur: Any) -> None:
        """Serialise schema creation and upgrades across processes inside a write transaction."""

    def check_target(self, store: Store) -> None:
        """Refuse a target that cannot hold tables (PostgreSQL: a missing schema)."""

    def settle_target(self, store: Store) -> Target | None:
        """Where a URL that names no place puts kitchen's tables (PostgreSQL: a schema of its own), decided on
        the first connection; None: the target stands as parsed."""
        return None

    @abstractmethod
    def bulk_insert(self, cur: Any, sql: str, rows: list[tuple]) -> list[int]:
        """Insert keyless orders in one round trip where possible; returns their ids in row order."""

    def enlist(self, conn: Any, body: Callable[[Any], Any]) -> Any:
        """Run ``body(cursor)`` on an application's own connection, inside its transaction (PostgreSQL only)."""
        raise BadOrder(f"submit(connection=...) needs a PostgreSQL kitchen; {self.target.label} is {self.name}"
                       " (submit without connection=); nothing was written")

    # -- retention ---------------------------------------------------------------------------------------------

    def try_purge_lock(self, cur: Any) -> bool:
        """One purger at a time, without waiting (PostgreSQL: an advisory lock; SQLite has one writer anyway)."""
        return True

    def reclaim(self, cur: Any, pages: int, keep: int) -> int:
        """Give up to ``pages`` free pages back to the file system, keeping ``keep`` for reuse; returns how
        many. Only SQLite holds on to them (PostgreSQL's autovacuum reuses dead rows' space)."""
        return 0

    # -- change notification, clock ---------------------------------------------------------------------------

    def notify(self, cur: Any) -> None:
        """Tell idle ovens the queue changed (delivered at commit). SQLite ovens watch data_version instead."""

    def notify_finished(self, cur: Any) -> None:
        """Tell those waiting for results that an order finished (delivered at commit); apart from ``notify``
        so a completion never wakes idle ovens."""

    @abstractmethod
    def waiter(self, store: Store, finished: bool = False) -> ChangeWaiter:
        """A waiter for queue changes, or (``finished``) for orders finishing."""

    def server_clock(self, store: Store) -> Callable[[], float] | None:
        """A clock shared by every host, if the engine has one (PostgreSQL's); None: the local clock."""
        return None

    def shared_clock(self, store: Store) -> Callable[[], float] | None:
        """The clock every process judges heartbeats, leases and retry times by (never a process's wall
        clock); None where the engine offers none (then the caller falls back to wall time)."""
        return None

    # -- errors --------------------------------------------------------------------------------------------------

    @abstractmethod
    def classify(self, exc: BaseException) -> ErrorKind: ...

    def error_code(self, exc: BaseException) -> str:
        """The engine's own code for an error (SQLSTATE, SQLite's result name), for counting retries."""
        inner = driver_error(exc)
        code = getattr(inner, "sqlstate", None) or getattr(inner, "sqlite_errorname", None)
        return str(code) if code else inner.__class__.__name__

    def explain(self, kind: ErrorKind, exc: BaseException) -> str | None:
        """A dialect-specific one-line message for ``kind``, or None for the store's generic one."""
        return None


def named_to_pyformat(text: str) -> str:
    """``?`` -> ``%s`` and ``:name`` -> ``%(name)s``: shared SQL in a driver's paramstyle."""
    return NAMED.sub(r"%(\1)s", text.replace("?", "%s"))


def driver_error(exc: BaseException) -> BaseException:
    """The driver's own exception behind a peewee wrapper (peewee 4 keeps the original as ``orig``; older ones
    passed it as the first argument)."""
    for _ in range(5):
        if not isinstance(exc, peewee.PeeweeException):
            break
        inner = getattr(exc, "orig", None)
        if not isinstance(inner, BaseException):
            inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        inner = inner or exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    return exc


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__
