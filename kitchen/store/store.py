"""The store: short transactions with bounded retry over one dialect, and one-line errors.

Transaction bodies are plain functions ``fn(cursor, *args)`` (they live in ``kitchen.protocol``); the
store runs them in ``write`` (one writer at a time) or ``read`` (one consistent snapshot) and retries what
is safe to retry: lock contention, a lost compare-and-set, a dropped connection.

Hot-path statements run on the driver's own cursor: sqlite3 keeps compiled statements in its
per-connection cache and psycopg prepares repeated ones on the server, so constant SQL strings are
prepared once per connection, not rebuilt per call.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar, cast

import peewee

from kitchen.core.clock import Deadline
from kitchen.core.errors import DatabaseBusy, DatabaseError, KitchenError

from .dialect import ChangeWaiter, Conflict, Dialect, ErrorKind, first_line
from .postgres import PostgresDialect
from .sql import Statements
from .sqlite import SqliteDialect
from .url import Target, parse_url

T = TypeVar("T")
OPEN_RECONNECT = 1.0  # seconds an unreachable server is retried at open time (see Store.connect)


def _driver_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [sqlite3.Error, peewee.PeeweeException]
    try:
        import psycopg

        errors.append(psycopg.Error)
    except ImportError:
        pass
    return tuple(errors)


DRIVER_ERRORS = _driver_errors()
# What a transaction may raise that retrying can cure (see _retrying): a lost race, a locked or dropped database.
RETRYABLE: tuple[type[BaseException], ...] = (Conflict, *DRIVER_ERRORS)
Settle = Callable[[Any, Any], bool]


def RERUN(cur: Any, value: Any) -> bool:
    """Settles a body that is safe to run twice (a heartbeat, a reaper pass): say it did not commit."""
    return False


def _rollback(cur: Any) -> None:
    try:
        cur.execute("ROLLBACK")
    except Exception:
        pass


class CommitUnknown(Exception):
    """The connection broke while COMMIT was in flight; ``value`` is what the transaction body returned."""

    def __init__(self, value: Any) -> None:
        super().__init__("commit outcome unknown")
        self.value = value


STOPPED_SLACK = 0.5  # seconds an attempt may overrun retry_for before its excess counts as this process stopped

DIALECTS: dict[str, type[Dialect]] = {"sqlite": SqliteDialect, "postgresql": PostgresDialect}


class Store:
    """One database through one dialect: transactions, retry, and the compiled statements."""

    def __init__(self, url: str, durability: str = "normal", busy_timeout: float = 5.0) -> None:
        self.target: Target = parse_url(url)
        self.dialect: Dialect = DIALECTS[self.target.dialect](self.target, durability, busy_timeout)
        self.retry_for = max(busy_timeout, self.dialect.retry_floor)
        self.db = self.dialect.open_database()
        self.st: Statements = self.dialect.statements()
        self._begin_write = self.dialect.begin_write
        self._begin_read = self.dialect.begin_read
        self.slow_write = 1.0  # seconds; the kitchen sets its heartbeat interval here
        self._stalled_at = float("-inf")
        self.retried: Counter[str] = Counter()  # retried errors by engine code (40P01: deadlock), this process

    @property
    def label(self) -> str:
        """The database's name for messages: never a password."""
        return self.target.label

    def connect(self) -> None:
        """Open this thread's connection now, so a bad path or server is reported at open time.

        An unreachable server is retried only briefly here: one that refuses the very first connection is
        down or misnamed, and a person (or a supervisor restarting an oven) should hear so in a second, not
        after the long reconnect window that protects established connections across a server restart.
        """
        self._retrying(self.db.connection, unreachable_for=OPEN_RECONNECT)
        self._retrying(self.dialect.after_connect, self.db)
        settled = self.dialect.settle_target(self)
        if settled is not None and settled != self.target:  # reconnect with the search path it settled on
            self.close()
            self.target = self.dialect.target = settled
            self.db = self.dialect.open_database()
            self._retrying(self.db.connection, unreachable_for=OPEN_RECONNECT)
            self._retrying(self.dialect.after_connect, self.db)

    def connection(self) -> Any:
        """This thread's driver connection (for a dialect's waiter)."""
        return self.db.connection()

    def close(self) -> None:
        """Close the calling thread's connection (other threads keep theirs, and the write gate stays)."""
        try:
            self.db.close()
        except Exception:
            self.db.dispose()

    def shut(self) -> None:
        """The store's end: this thread's connection and what the dialect keeps for the whole process (the
        write gate's lock file). Not for one thread's close: every thread's writes go through the gate."""
        self.close()
        self.dialect.close()

    def after_fork(self) -> None:
        """Forget connections (and the write gate's file) inherited from a parent; never reuse them in a child."""
        self.db.dispose()
        self.dialect.after_fork()

    def waiter(self, finished: bool = False) -> ChangeWaiter:
        return self.dialect.waiter(self, finished)

    # -- transactions ------------------------------------------------------------------------------------

    def write(self, fn: Callable[..., T], *args: Any, settle: Settle | None = None, urgent: bool = False) -> T:
        """Run ``fn(cursor, *args)`` in one write transaction; retried whole on lock contention.

        If the connection breaks while COMMIT is in flight, the transaction may or may not have committed:
        it is never blindly run again. ``settle(cursor, value)`` (``value``: what ``fn`` returned) is asked
        in a fresh read whether it committed — then ``value`` is returned — or not — then ``fn`` runs again.
        ``RERUN`` settles bodies that are safe to run twice; without ``settle`` the write fails with one line.

        A write that waits longer than ``slow_write`` seconds, or fails for a locked or unreachable
        database, marks this process as stalled (``stalled_recently``): heartbeats were not writable then.
        ``urgent`` (a heartbeat): it takes the write gate before this process's other writers.

        The first attempt runs here, not through ``_retrying``: most writes take the gate at once and commit.
        """
        started = tried = time.monotonic()  # tried: when the current round of attempts began
        try:
            while True:
                try:
                    try:
                        return self._write_tx(fn, args, urgent)
                    except KitchenError:
                        raise
                    except RETRYABLE as first:
                        return self._retrying(self._write_tx, fn, args, urgent, failed=(first, tried))
                except CommitUnknown as unknown:
                    self.retried["commit-unknown"] += 1
                    self.db.dispose()
                    if settle is None:
                        raise DatabaseError(f"the connection to {self.label} broke while committing; whether the"
                                            " change was saved is unknown") from None
                    if self.read(settle, unknown.value):
                        return cast(T, unknown.value)
                    tried = time.monotonic()
        except DatabaseError:
            self._stalled_at = time.monotonic()
            raise
        finally:
            if time.monotonic() - started > self.slow_write:
                self._stalled_at = time.monotonic()

    def enlist(self, conn: Any, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(cursor, *args)`` on an application's own open connection, inside its transaction: it
        commits or rolls back with the application's work. Never retried whole and never committed here (the
        application owns that transaction); a wrong connection or a failure is one KitchenError line."""
        try:
            return cast(T, self.dialect.enlist(conn, lambda cur: fn(cur, *args)))
        except KitchenError:
            raise
        except DRIVER_ERRORS as exc:
            raise self.translate(exc) from None

    def stalled_recently(self, window: float) -> bool:
        """Did a write of this process stall (see ``write``) less than ``window`` seconds ago?"""
        return time.monotonic() - self._stalled_at < window

    def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(cursor, *args)`` in one consistent read snapshot."""
        return self._retrying(self._read_tx, fn, args)

    def _write_tx(self, fn: Callable[..., T], args: tuple, urgent: bool) -> T:
        """One attempt: the write gate (if the dialect has one), then one transaction."""
        gate = self.dialect.gate
        if gate is not None and not gate.acquire(self.retry_for, urgent):
            raise Conflict("another writer held the write gate too long")
        try:
            cur = self.db.connection().cursor()
            cur.execute(self._begin_write)
            try:
                result = fn(cur, *args)
            except BaseException:
                _rollback(cur)
                raise
            try:
                cur.execute("COMMIT")
            except DRIVER_ERRORS as exc:
                if self.dialect.classify(exc) is ErrorKind.DISCONNECTED:
                    raise CommitUnknown(result) from exc
                raise
            return result
        finally:
            if gate is not None:
                gate.release()

    def _read_tx(self, fn: Callable[..., T], args: tuple) -> T:
        """One attempt; a read's lost COMMIT changed nothing: it is retried like any dropped connection."""
        cur = self.db.connection().cursor()
        cur.execute(self._begin_read)
        try:
            result = fn(cur, *args)
        except BaseException:
            _rollback(cur)
            raise
        cur.execute("COMMIT")
        return result

    def _retrying(self, attempt: Callable[..., T], *args: Any, unreachable_for: float | None = None,
                  failed: tuple[BaseException, float] | None = None) -> T:
        """``attempt(*args)`` until it succeeds or its error is not worth retrying. ``failed``: the error of a
        first attempt the caller already made, and when that attempt started."""
        error, start = failed if failed is not None else (None, time.monotonic())
        deadline: Deadline | None = None  # made at the first failure: a stop of this process is not the lock's doing
        delay = 0.002
        while True:
            if error is None:
                if deadline is not None:  # an attempt may wait on a lock as long as retry_for: that is not a stop
                    deadline.allow(self.retry_for)
                try:
                    return attempt(*args)
                except KitchenError:
                    raise
                except RETRYABLE as exc:
                    error = exc
            if isinstance(error, Conflict):
                kind, code = ErrorKind.BUSY, "conflict"
            else:
                kind, code = self.dialect.classify(error), self.dialect.error_code(error)
                if kind is ErrorKind.DISCONNECTED:
                    self.db.dispose()
                elif kind is ErrorKind.BUSY and isinstance(self.dialect, SqliteDialect):
                    SqliteDialect.reset(self.db.connection())
                if kind not in (ErrorKind.BUSY, ErrorKind.DISCONNECTED):
                    raise self.translate(error) from None
            now = time.monotonic()
            if deadline is None:
                # No lock wait inside an attempt outlasts retry_for (the gate's and the engines' own timeouts end
                # sooner): an attempt that took longer was stopped or starved, which is not the lock's doing.
                spent = now - start
                stopped = spent > self.retry_for + STOPPED_SLACK
                deadline = Deadline(self.retry_for if stopped else self.retry_for - spent)
            if deadline.expired() or (kind is ErrorKind.DISCONNECTED and unreachable_for is not None
                                   and now - start >= unreachable_for):
                raise self.translate(error) from None
            self.retried[code] += 1  # only what is retried: an error raised at once or at the deadline is not
            deadline.pause(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.25 if kind is ErrorKind.BUSY else 2.0)
            error = None

    def translate(self, exc: BaseException) -> KitchenError:
        """One line a person can act on, naming the database."""
        if isinstance(exc, KitchenError):
            return exc
        where = self.label
        kind = ErrorKind.BUSY if isinstance(exc, Conflict) else self.dialect.classify(exc)
        if kind is ErrorKind.BUSY:
            return DatabaseBusy(f"database {where} stayed locked by another process for over {self.retry_for:g}s;"
                                " nothing was written")
        special = self.dialect.explain(kind, exc)
        if special:
            return DatabaseError(special)
        messages = {
            ErrorKind.READONLY: f"database {where} is read-only; nothing was written",
            ErrorKind.FULL: f"disk full while writing {where}; the transaction was rolled back, nothing was written",
            ErrorKind.CORRUPT: f"{where} is not a kitchen database or is corrupt ({first_line(exc)})",
            ErrorKind.IO: f"I/O error on database {where} ({first_line(exc)}): check the disk and the file system",
            ErrorKind.OPEN: f"cannot open database {where} (missing directory or no permission)",
            ErrorKind.DISCONNECTED: f"cannot reach database {where}: {first_line(exc)}",
            ErrorKind.REFUSED: f"cannot open database {where}: {first_line(exc)}",
        }
        return DatabaseError(messages.get(kind, f"database error on {where}: {first_line(exc)}"))
