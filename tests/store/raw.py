"""Raw SQL that bypasses kitchen, and where the first release's databases are.

``Raw`` reads and tampers with a database without going through kitchen, so what the store tests compare
against is what is on disk, not what today's code thinks is there. ``Db`` is one test database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kitchen.store import schema
from tests.support.postgres import PG_SERVER

FIXTURES = Path(__file__).with_name("fixtures")
SQLITE_V1 = FIXTURES / "v1.sqlite"
POSTGRES_V1 = FIXTURES / "v1_postgres.sql"
PLACEHOLDER = "__KITCHEN_SCHEMA__"
TABLES = ("kitchen_meta", "orders", "ovens", "buckets", "ledger", "refusals", "events", "tally")


class Raw:
    """Plain driver connections to one kitchen database (``?`` placeholders on both backends)."""

    def __init__(self, backend: str, location: str) -> None:
        self.backend = backend
        self.location = location  # a file path, or a PostgreSQL schema name

    def _connect(self) -> Any:
        if self.backend == "sqlite":
            return sqlite3.connect(self.location, timeout=10)
        import psycopg

        return psycopg.connect(PG_SERVER, autocommit=True, options=f"-c search_path={self.location}")

    def _sql(self, text: str) -> str:
        return text if self.backend == "sqlite" else text.replace("?", "%s")

    def rows(self, sql: str, *params: Any) -> list[tuple]:
        conn = self._connect()
        try:
            return [tuple(r) for r in conn.execute(self._sql(sql), params).fetchall()]
        finally:
            conn.close()

    def scalar(self, sql: str, *params: Any) -> Any:
        return self.rows(sql, *params)[0][0]

    def execute(self, sql: str, *params: Any) -> None:
        conn = self._connect()
        try:
            conn.execute(self._sql(sql), params)
            if self.backend == "sqlite":
                conn.commit()
        finally:
            conn.close()

    def meta(self) -> dict[str, str]:
        return dict(self.rows("SELECT key, value FROM kitchen_meta"))

    def columns(self) -> dict[str, list[tuple]]:
        """table -> [(column, type, not null, default)] in table order."""
        out: dict[str, list[tuple]] = {}
        for table in TABLES:
            if self.backend == "sqlite":
                out[table] = [(r[1], r[2], bool(r[3]), r[4]) for r in self.rows(f"PRAGMA table_info({table})")]
            else:
                out[table] = [(name, kind, nullable == "NO", (default or "").replace(self.location, PLACEHOLDER))
                              for name, kind, nullable, default in self.rows(
                                  "SELECT column_name, data_type, is_nullable, column_default"
                                  " FROM information_schema.columns WHERE table_schema = ? AND table_name = ?"
                                  " ORDER BY ordinal_position", self.location, table)]
        return out

    def indexes(self) -> dict[str, str]:
        """index name -> its definition (the schema's name replaced by a placeholder)."""
        if self.backend == "sqlite":
            return dict(self.rows("SELECT name, coalesce(sql, 'auto:' || tbl_name) FROM sqlite_master"
                                  " WHERE type = 'index'"))
        return {name: definition.replace(f"{self.location}.", f"{PLACEHOLDER}.") for name, definition in
                self.rows("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = ?", self.location)}

    def table_sql(self) -> dict[str, str]:
        """SQLite only: each table's CREATE statement exactly as stored."""
        return dict(self.rows("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))

    def constraints(self) -> list[tuple]:
        """PostgreSQL only: (table, type, definition) of every constraint."""
        return sorted(self.rows(
            "SELECT c.conrelid::regclass::text, c.contype::text, pg_get_constraintdef(c.oid) FROM pg_constraint c"
            " JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = ?", self.location))

    def dump(self, columns: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
        """Every row of every table, only the given columns, in primary-key order."""
        out = {}
        for table, cols in columns.items():
            names = ", ".join(c[0] for c in cols)
            out[table] = self.rows(f"SELECT {names} FROM {table} ORDER BY 1")
        return out


@dataclass
class Db:
    backend: str
    url: str
    raw: Raw


@contextmanager
def kitchen_at_version(monkeypatch: pytest.MonkeyPatch, version: int) -> Iterator[None]:
    """Inside: kitchen opens and upgrades databases only as far as ``version`` (an earlier release's
    migrations, run by the very same functions)."""
    with monkeypatch.context() as m:
        m.setattr(schema, "MIGRATIONS", tuple(step for step in schema.MIGRATIONS if step.version <= version))
        m.setattr(schema, "SCHEMA_VERSION", version)
        yield
