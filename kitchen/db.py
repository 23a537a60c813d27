"""Opening a database from a URL, short transactions with bounded retry, and one-line error messages.

Hot-path statements run on the driver's own cursor inside ``write``/``read``: sqlite3 keeps compiled
statements in its per-connection cache and psycopg prepares repeated ones on the server, so constant
SQL strings are prepared once per connection, not rebuilt per call.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar
from urllib.parse import parse_qs, unquote, urlparse

import peewee

from .gate import WriteGate
from .errors import DatabaseBusy, DatabaseError, KitchenError

T = TypeVar("T")
OPEN_RECONNECT = 1.0  # seconds an unreachable server is retried at open time (see Backend.connect)


def _driver_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [sqlite3.Error, peewee.PeeweeException]
    try:
        import psycopg

        errors.append(psycopg.Error)
    except ImportError:
        pass
    return tuple(errors)


DRIVER_ERRORS = _driver_errors()


class Conflict(Exception):
    """A compare-and-set lost a race inside a transaction; the whole transaction is retried."""


@dataclass(frozen=True)
class Target:
    """Where the database lives: a parsed URL."""

    dialect: str
    location: str
    label: str
    schema: str | None = None


def parse_url(url: str) -> Target:
    """Accept a path, sqlite:///path, or postgresql://...; anything else is refused by name."""
    if not url or not url.strip():
        raise DatabaseError("database URL is empty")
    if "://" not in url:
        if url == ":memory:":
            raise DatabaseError("an in-memory database cannot be shared by ovens; give a file path")
        return Target("sqlite", url, url)
    parts = urlparse(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc:
            path = parts.netloc + path
        elif path.startswith("/") and not url.startswith("sqlite:////"):
            path = path[1:]
        if not path:
            raise DatabaseError(f"sqlite URL has no path: {url}")
        return Target("sqlite", path, path)
    if scheme in ("postgresql", "postgres"):
        query = parse_qs(parts.query)
        schema = query.pop("schema", [None])[0]
        clean = parts._replace(scheme="postgresql", query="&".join(f"{k}={v[0]}" for k, v in query.items()))
        label = f"postgresql://{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"
        return Target("postgresql", clean.geturl(), label, schema)
    raise DatabaseError(f"unknown database URL scheme {scheme!r}: use a file path, sqlite:///path or postgresql://")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def _classify(exc: BaseException) -> str:
    msg = str(exc).lower()
    if "locked" in msg or "database is busy" in msg or "deadlock detected" in msg or "could not serialize" in msg:
        return "busy"
    if "readonly" in msg or "read-only" in msg:
        return "readonly"
    if "disk is full" in msg or "disk full" in msg or "no space" in msg:
        return "full"
    if "not a database" in msg or "malformed" in msg:
        return "corrupt"
    if "disk i/o error" in msg:
        return "io"
    if "unable to open" in msg:
        return "open"
    if "fatal" in msg and ("does not exist" in msg or "authentication failed" in msg):
        return "refused"  # the server answered no (wrong database, role or password): retrying cannot help
    if ("server closed" in msg or "connection" in msg and ("closed" in msg or "refused" in msg or "lost" in msg
                                                          or "failed" in msg or "terminat" in msg)
            or "terminating connection" in msg or "the connection is lost" in msg):
        return "disconnected"
    return "other"


class Backend:
    """One database, its dialect, and transactions that retry what is safe to retry."""

    def __init__(self, url: str, durability: str = "normal", busy_timeout: float = 5.0) -> None:
        self.target = parse_url(url)
        self.dialect = self.target.dialect
        self.busy_timeout = busy_timeout
        self.retry_for = max(busy_timeout, 1.0)
        self._gate: WriteGate | None = None
        if self.dialect == "sqlite":
            self.db = self._open_sqlite(durability)  # the write gate comes in connect(), once the file is ours
            self._begin_write, self._begin_read = "BEGIN IMMEDIATE", "BEGIN"
        else:
            self.db = self._open_postgres()
            self._begin_write, self._begin_read = "BEGIN", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
            self.retry_for = max(busy_timeout, 30.0)

    @property
    def label(self) -> str:
        return self.target.label

    def _open_sqlite(self, durability: str) -> peewee.SqliteDatabase:
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
        pragmas = {  # journal_mode is set once, in connect(): only on a database that is ours
            "synchronous": 2 if durability == "full" else 1,
            "busy_timeout": int(self.busy_timeout * 1000),
            "temp_store": "memory",
            "cache_size": -16000,
            "mmap_size": 1 << 30,
        }
        return peewee.SqliteDatabase(str(path), pragmas=pragmas, timeout=self.busy_timeout)

    def _open_postgres(self) -> peewee.PostgresqlDatabase:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise DatabaseError("PostgreSQL needs the driver: pip install 'kitchen-queue[postgres]'") from None
        params: dict[str, Any] = {"connect_timeout": 5}
        if self.target.schema:
            params["options"] = f"-c search_path={self.target.schema}"
        return peewee.PostgresqlDatabase(self.target.location, prefer_psycopg3=True, **params)

    def connect(self) -> None:
        """Open this thread's connection now, so a bad path or server is reported at open time.

        An unreachable server is retried only briefly here: one that refuses the very first connection is
        down or misnamed, and a person (or a supervisor restarting an oven) should hear so in a second, not
        after the long reconnect window that protects established connections across a server restart.
        """
        self._retrying(lambda: self.db.connection(), unreachable_for=OPEN_RECONNECT)
        if self.dialect == "sqlite":
            self._retrying(self._use_wal)

    def _use_wal(self) -> None:
        """Switch the file to WAL (it stays WAL for every later connection) and open the write gate, but only
        when it is empty or already a kitchen: another program's database (or a file that is none) is refused
        by the schema check unchanged, with no <db>-lock left beside it."""
        conn = self.db.connection()
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables or "kitchen_meta" in tables:
            conn.execute("PRAGMA journal_mode = wal")
            if self._gate is None:
                self._gate = WriteGate(self.target.location)

    def close(self) -> None:
        try:
            self.db.close()
        except Exception:
            self.db.dispose()

    def after_fork(self) -> None:
        """Forget connections (and the write gate's file) inherited from a parent; never reuse them in a child."""
        self.db.dispose()
        if self._gate is not None:
            self._gate.forget()
            self._gate = WriteGate(self.target.location)

    def sql(self, text: str) -> str:
        """Compile a statement written for SQLite (``?``) into this dialect, once, at load time."""
        if self.dialect == "sqlite":
            return text.replace("{skip_locked}", "").replace("{for_update}", "")
        return (text.replace("{skip_locked}", " FOR UPDATE SKIP LOCKED").replace("{for_update}", " FOR UPDATE")
                .replace(" IS ?", " IS NOT DISTINCT FROM ?").replace("?", "%s"))

    def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(cursor, *args)`` in one write transaction; retried whole on lock contention."""
        if self._gate is None:
            return self._retrying(lambda: self._tx(self._begin_write, fn, args))
        return self._retrying(lambda: self._gated(fn, args))

    def _gated(self, fn: Callable[..., T], args: tuple) -> T:
        if not self._gate.acquire(self.retry_for):
            raise Conflict("another writer held the write gate too long")
        try:
            return self._tx(self._begin_write, fn, args)
        finally:
            self._gate.release()

    def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(cursor, *args)`` in one consistent read snapshot."""
        return self._retrying(lambda: self._tx(self._begin_read, fn, args))

    def _tx(self, begin: str, fn: Callable[..., T], args: tuple) -> T:
        cur = self.db.connection().cursor()
        cur.execute(begin)
        try:
            result = fn(cur, *args)
        except BaseException:
            try:
                cur.execute("ROLLBACK")
            except Exception:
                pass
            raise
        cur.execute("COMMIT")
        return result

    def _retrying(self, attempt: Callable[[], T], unreachable_for: float | None = None) -> T:
        start = time.monotonic()
        deadline = start + self.retry_for
        delay = 0.002
        while True:
            try:
                return attempt()
            except (KitchenError, Conflict) as exc:
                if not isinstance(exc, Conflict):
                    raise
                kind = "busy"
                error: BaseException = exc
            except DRIVER_ERRORS as exc:
                kind, error = _classify(exc), exc
                if kind == "disconnected":
                    self.db.dispose()
                elif self.dialect == "sqlite" and kind == "busy":
                    self._reset_sqlite()
                if kind not in ("busy", "disconnected"):
                    raise self.translate(exc) from None
            now = time.monotonic()
            if now >= deadline or (kind == "disconnected" and unreachable_for is not None
                                   and now - start >= unreachable_for):
                raise self.translate(error) from None
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.25 if kind == "busy" else 2.0)

    def _reset_sqlite(self) -> None:
        conn = self.db.connection()
        if not conn.in_transaction:
            return
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def translate(self, exc: BaseException) -> KitchenError:
        """One line a person can act on, naming the database."""
        if isinstance(exc, KitchenError):
            return exc
        kind = _classify(exc)
        where = self.label
        if isinstance(exc, Conflict) or kind == "busy":
            return DatabaseBusy(f"database {where} stayed locked by another process for over {self.retry_for:g}s;"
                                " nothing was written")
        messages = {
            "readonly": f"database {where} is read-only; nothing was written",
            "full": f"disk full while writing {where}; the transaction was rolled back, nothing was written",
            "corrupt": f"{where} is not a kitchen database or is corrupt ({_first_line(exc)})",
            "io": self._io_error(exc),
            "open": self._cannot_open(),
            "disconnected": f"cannot reach database {where}: {_first_line(exc)}",
            "refused": f"cannot open database {where}: {_first_line(exc)}",
        }
        return DatabaseError(messages.get(kind, f"database error on {where}: {_first_line(exc)}"))

    def _io_error(self, exc: BaseException) -> str:
        """SQLite reports a disk that is already full when it opens (no room for <db>-shm) as an I/O error."""
        where = self.label
        if self.dialect == "sqlite":
            try:
                fs = os.statvfs(Path(self.target.location).resolve().parent)
                if fs.f_bavail * fs.f_frsize < 1 << 20:
                    return f"disk full: no room beside {where} for its -wal and -shm files; nothing was written"
            except OSError:
                pass
        return f"I/O error on database {where} ({_first_line(exc)}): check the disk and the file system"

    def _cannot_open(self) -> str:
        """SQLite in WAL mode must create <db>-wal and <db>-shm beside the file: say so when it cannot."""
        where = self.label
        if self.dialect == "sqlite":
            folder = Path(self.target.location).parent
            if folder.is_dir() and not os.access(folder, os.W_OK):
                return (f"cannot open database {where}: directory {folder} is read-only (SQLite needs to create"
                        f" {Path(where).name}-wal and -shm beside it); nothing was written")
        return f"cannot open database {where} (missing directory or no permission)"
