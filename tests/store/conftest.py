"""Fixtures for the store tests: copies of the first release's databases, and raw SQL that bypasses kitchen.

``old_db()`` gives a private copy of the version-1 fixture made by the real previous release (see
``make_v1_fixtures.py``): a copied SQLite file, or the PostgreSQL dump loaded into a new uuid-named schema
(dropped after the test). ``Db.raw`` (tests/store/raw.py) reads and tampers with it without kitchen.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.store.raw import PLACEHOLDER, POSTGRES_V1, SQLITE_V1, Db, Raw
from tests.support.postgres import PG_SERVER, require_pg


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        require_pg()
    return request.param


@pytest.fixture
def make_db(store_backend: str, tmp_path: Path) -> Iterator[Callable[..., Db]]:
    """``make_db()``: a new empty database; ``make_db(v1=True)``: a private copy of the first release's fixture."""
    schemas: list[str] = []

    def make(v1: bool = False) -> Db:
        name = f"kt_{uuid.uuid4().hex}"
        if store_backend == "sqlite":
            path = tmp_path / f"{name}.db"
            if v1:
                shutil.copyfile(SQLITE_V1, path)
            return Db("sqlite", str(path), Raw("sqlite", str(path)))
        import psycopg

        schemas.append(name)
        with psycopg.connect(PG_SERVER, autocommit=True) as conn:
            if v1:
                conn.execute(POSTGRES_V1.read_text(encoding="utf-8").replace(PLACEHOLDER, name))
            else:
                conn.execute(f'CREATE SCHEMA "{name}"')
        return Db("postgresql", f"{PG_SERVER}?schema={name}", Raw("postgresql", name))

    yield make
    if schemas:
        import psycopg

        with psycopg.connect(PG_SERVER, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '20s'")
            for name in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def old_db(make_db: Callable[..., Db]) -> Db:
    """A private copy of the database the first release made (see make_v1_fixtures.py)."""
    return make_db(v1=True)
