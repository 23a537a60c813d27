"""SQLite: one file, WAL, a cross-process write gate, and ``PRAGMA data_version`` to notice commits.

Errors are classified by SQLite's result code (``sqlite3.Error.sqlite_errorcode``), never by message text.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import peewee

from kitchen.core.clock import BootClock, boot_identity, pause
from kitchen.core.errors import DatabaseError

from .ddl_v1 import SQLITE_TABLES
from .dialect import ChangeWaiter, Conflict, Dialect, ErrorKind, driver_error, first_line
from .gate import WriteGate
from .sql import Statements

if TYPE_CHECKING:
    from .store import Store

# Primary result codes (https://sqlite.org/rescode.html); the extended code's low byte is the primary one.
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY, SQLITE_IOERR = 5, 6, 8, 10
SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB = 11, 13, 14, 26
_BY_CODE = {
    SQLITE_BUSY: ErrorKind.BUSY, SQLITE_LOCKED: ErrorKind.BUSY, SQLITE_READONLY: ErrorKind.READONLY,
    SQLITE_IOERR: ErrorKind.IO, SQLITE_CORRUPT: ErrorKind.CORRUPT, SQLITE_FULL: ErrorKind.FULL,
    SQLITE_CANTOPEN: ErrorKind.OPEN, SQLITE_NOTADB: ErrorKind.CORRUPT,
}
WAIT_STEP = 0.004  # seconds between data_version looks: microseconds each, far below 2% of a core idle


class SqliteDialect(Dialect):
    name = "sqlite"
    begin_write = "BEGIN IMMEDIATE"
    begin_read = "BEGIN"
    retry_floor = 1.0
    shares_database = False
    v1_tables = SQLITE_TABLES
    id_column = "INTEGER PRIMARY KEY"

    def open_database(self) -> peewee.Database:
        path = Path(self.target.location)
        if path.is_dir():
            raise DatabaseError(f"cannot open database {path}: it is a directory")
        if not path.parent.is_dir():
            raise DatabaseError(f"cannot open database {path}: directory {path.parent} does not exist")
        if not path.exists():
            try:
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            except OSError as exc:
                raise DatabaseError(f"cannot create database {path}: {exc.strerror}") from None
        pragmas = {  # journal_mode is set once, in after_connect(): only on a database that is ours
            "synchronous": 2 if self.durability == "full" else 1,
            "busy_timeout": int(self.busy_timeout * 1000),
            "temp_store": "memory",
            "cache_size": -16000,
            "mmap_size": 1 << 30,
        }
        return peewee.SqliteDatabase(str(path), pragmas=pragmas, timeout=self.busy_timeout)

    def after_connect(self, db: peewee.Database) -> None:
        """Switch the file to WAL (it stays WAL for every later connection) and open the write gate, but only
        when it is empty or already a kitchen: another program's database (or a file that is none) is refused
        by the schema check unchanged, with no <db>-lock left beside it. A new file is made in incremental
        auto_vacuum mode, so purged pages can be given back to the file system a few at a time."""
        conn = db.connection()
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables or "kitchen_meta" in tables:
            if not tables:  # only a new file can take it (before WAL and the first table): see reclaim()
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("PRAGMA journal_mode = wal")
            if self.gate is None:
                self.gate = WriteGate(self.target.location)

    def after_fork(self) -> None:
        if self.gate is not None:
            self.gate.forget()
            self.gate = WriteGate(self.target.location)

    def reclaim(self, cur: Any, pages: int, keep: int) -> int:
        """``PRAGMA incremental_vacuum`` one page per step (Python's driver steps such a pragma only once), in
        the caller's short write transaction: ~10 µs a page. A file made before incremental auto_vacuum (mode
        0) cannot switch without a full VACUUM, which would block every oven: there free pages are reused and
        the file stops growing instead of shrinking."""
        conn = cur.connection
        if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            return 0
        free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        steps = max(0, min(pages, free - keep))
        step = conn.cursor()
        try:
            for _ in range(steps):
                step.execute("PRAGMA incremental_vacuum(1)")
        finally:
            step.close()
        return steps

    def statements(self) -> Statements:
        return Statements.build(lambda text: text, {}, bind_by_position=True)

    def tables(self, cur: Any) -> set[str]:
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {r[0] for r in cur.fetchall()}

    def bulk_insert(self, cur: Any, sql: str, rows: list[tuple]) -> list[int]:
        """Under our write lock new rowids are max(id)+1, +2, ...: checked, not assumed (else the caller's
        transaction is retried)."""
        cur.execute("SELECT max(id) FROM orders")
        first = (cur.fetchone()[0] or 0) + 1
        cur.executemany(sql, rows)
        cur.execute("SELECT max(id) FROM orders")
        if cur.fetchone()[0] != first + len(rows) - 1:
            raise Conflict("order ids were not contiguous")
        return list(range(first, first + len(rows)))

    def shared_clock(self, store: Store) -> Callable[[], float] | None:
        """Every process on this machine reads CLOCK_BOOTTIME plus one offset per boot, agreed through
        kitchen_meta (the first process of a boot writes it; the others read it): one clock for all that a
        wall-clock step cannot move. Rows of earlier boots are dropped."""
        identity = boot_identity()
        if identity is None:
            return None
        boot_id, offset = identity
        key = f"boot:{boot_id}"

        def agreed(cur: Any) -> float | None:
            cur.execute("SELECT value FROM kitchen_meta WHERE key = ?", (key,))
            row = cur.fetchone()
            return float(row[0]) if row else None

        def first(cur: Any) -> float | None:
            cur.execute("INSERT INTO kitchen_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                        (key, repr(offset)))
            cur.execute("DELETE FROM kitchen_meta WHERE key LIKE 'boot:%' AND key <> ?", (key,))
            return agreed(cur)

        found = store.read(agreed)
        if found is None:
            found = store.write(first)
        return BootClock(found if found is not None else offset)

    def waiter(self, store: Store, finished: bool = False) -> ChangeWaiter:
        return DataVersionWaiter(store)  # any commit by another connection: finishing orders included

    def classify(self, exc: BaseException) -> ErrorKind:
        exc = driver_error(exc)
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None:
            return _BY_CODE.get(code & 0xFF, ErrorKind.OTHER)
        if isinstance(exc, peewee.OperationalError) and "unable to open" in str(exc):
            return ErrorKind.OPEN  # peewee's own wrapper of a failed connect carries no code
        return ErrorKind.OTHER

    def explain(self, kind: ErrorKind, exc: BaseException) -> str | None:
        where = self.target.label
        if kind is ErrorKind.IO:
            # SQLite reports a disk that is already full when it opens (no room for <db>-shm) as an I/O error.
            try:
                fs = os.statvfs(Path(self.target.location).resolve().parent)
                if fs.f_bavail * fs.f_frsize < 1 << 20:
                    return f"disk full: no room beside {where} for its -wal and -shm files; nothing was written"
            except OSError:
                pass
            return None
        if kind is ErrorKind.OPEN:
            folder = Path(self.target.location).parent
            if folder.is_dir() and not os.access(folder, os.W_OK):
                return (f"cannot open database {where}: directory {folder} is read-only (SQLite needs to create"
                        f" {Path(where).name}-wal and -shm beside it); nothing was written")
        if kind is ErrorKind.CORRUPT:
            return f"{where} is not a kitchen database or is corrupt ({first_line(exc)})"
        return None

    @staticmethod
    def reset(conn: sqlite3.Connection) -> None:
        """After a busy error, leave any half-open transaction so the retry starts clean."""
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass


class DataVersionWaiter(ChangeWaiter):
    """Polls ``PRAGMA data_version``: it changes when another connection commits."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._armed: int | None = None

    def arm(self) -> None:
        self._armed = self._version()

    def _version(self) -> int:
        try:
            return int(self._store.connection().execute("PRAGMA data_version").fetchone()[0])
        except Exception:
            return -1

    def wait(self, timeout: float, interrupted: Callable[[], bool]) -> None:
        deadline = time.monotonic() + timeout
        start, self._armed = (self._armed if self._armed is not None else self._version()), None
        if start == -1:
            pause(WAIT_STEP)
            return
        while not interrupted() and time.monotonic() < deadline:
            pause(WAIT_STEP)
            if self._version() != start:
                return
