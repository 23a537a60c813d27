"""Create the schema on first use; refuse databases from a newer kitchen or from something else."""

from __future__ import annotations

from types import SimpleNamespace

from .db import Backend
from .errors import SchemaError
from .models import INDEXES, SCHEMA_VERSION


def ensure_schema(backend: Backend, models: SimpleNamespace, buckets: int, now: float) -> int:
    """Create tables if needed and return the database's fixed bucket count."""
    if backend.dialect == "postgresql":
        [(current,)] = backend.read(lambda cur: _rows(cur, "SELECT current_schema()"))
        if current is None:  # else CREATE TABLE fails with "no schema has been selected to create in"
            name = backend.target.schema or "on the search_path"
            raise SchemaError(f"{backend.label}: schema {name} does not exist; create it first")
    existing = set(backend.read(lambda cur: _tables(backend, cur)))
    if "kitchen_meta" not in existing:
        if backend.dialect == "sqlite" and existing - {"sqlite_sequence"}:
            raise SchemaError(f"{backend.label} already holds other tables; it is not a kitchen database")
        backend.write(_create, backend, models, buckets, now)
    meta = backend.read(lambda cur: dict(_rows(cur, "SELECT key, value FROM kitchen_meta")))
    version = int(meta.get("schema_version", "0"))
    if version > SCHEMA_VERSION:
        raise SchemaError(f"{backend.label} has schema version {version}, newer than this kitchen's "
                          f"{SCHEMA_VERSION}; upgrade kitchen-queue")
    if version < 1 or "buckets" not in meta:
        raise SchemaError(f"{backend.label} has an incomplete kitchen schema")
    return int(meta["buckets"])


def _rows(cur, sql: str) -> list:
    cur.execute(sql)
    return cur.fetchall()


def _tables(backend: Backend, cur) -> list[str]:
    if backend.dialect == "sqlite":
        return [r[0] for r in _rows(cur, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    return [r[0] for r in _rows(cur, "SELECT table_name FROM information_schema.tables "
                                     "WHERE table_schema = current_schema()")]


def _create(cur, backend: Backend, models: SimpleNamespace, buckets: int, now: float) -> None:
    if backend.dialect == "postgresql":
        cur.execute("SELECT pg_advisory_xact_lock(7355608)")
    if "kitchen_meta" in _tables(backend, cur):
        return
    for model in models.all:
        sql, params = model._schema._create_table(safe=True).query()
        cur.execute(sql, tuple(params or ()))
        for index in model._schema._create_indexes(safe=True):
            isql, iparams = index.query()
            cur.execute(isql, tuple(iparams or ()))
    for statement in INDEXES:
        cur.execute(statement)
    q = backend.sql
    for key, value in (("schema_version", SCHEMA_VERSION), ("buckets", buckets), ("ring_generation", 0),
                       ("created_at", now)):
        cur.execute(q("INSERT INTO kitchen_meta (key, value) VALUES (?, ?)"), (key, str(value)))
    for b in range(buckets):
        cur.execute(q("INSERT INTO buckets (bucket, generation) VALUES (?, 0)"), (b,))
        cur.execute(q("INSERT INTO tally (bucket, submitted, done, burnt, duplicates, refused, requeued, retried)"
                      " VALUES (?, 0, 0, 0, 0, 0, 0, 0)"), (b,))
