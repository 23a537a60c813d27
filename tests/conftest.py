"""Shared fixtures: every engine contract test runs against SQLite and PostgreSQL.

PostgreSQL tests use a fresh schema in database ``test`` per test (uuid-named, so pytest-xdist workers
never share one) and drop it afterwards. When the server is unreachable they are skipped locally and
fail under CI (env ``CI`` set): a green CI run must have exercised both backends.
"""

from __future__ import annotations

import os
import uuid
from functools import lru_cache
from typing import Any, Callable, Iterator

import pytest

from kitchen import FrozenClock, Kitchen

PG_SERVER = os.environ.get("KITCHEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: runs against PostgreSQL (the postgresql backend_url param)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("fresh_url") == "postgresql":
            item.add_marker(pytest.mark.postgres)


@lru_cache(maxsize=1)
def pg_unreachable() -> str | None:
    """None when the test server answers, else the reason (one line)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(PG_SERVER, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure means: no server to test against
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        return f"PostgreSQL at {PG_SERVER} unreachable: {first}"
    return None


def require_pg() -> None:
    reason = pg_unreachable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so PostgreSQL tests must run)", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(params=BACKENDS)
def fresh_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[Callable[[], str]]:
    """Make URLs to new empty databases of this test's backend (a SQLite file or a PostgreSQL schema)."""
    made: list[str] = []
    if request.param == "postgresql":
        require_pg()

    def make() -> str:
        name = f"kt_{uuid.uuid4().hex}"
        if request.param == "sqlite":
            return str(tmp_path / f"{name}.db")
        import psycopg

        with psycopg.connect(PG_SERVER, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        made.append(name)
        return f"{PG_SERVER}?schema={name}"

    yield make
    if made:
        import psycopg

        with psycopg.connect(PG_SERVER, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '20s'")
            for name in made:
                conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def backend_url(fresh_url: Callable[[], str]) -> str:
    """A URL to an empty database: a fresh SQLite file, or a fresh PostgreSQL schema (dropped afterwards)."""
    return fresh_url()


@pytest.fixture
def backend(backend_url: str) -> str:
    """The backend name of the current parametrization ('sqlite' or 'postgresql')."""
    return "postgresql" if backend_url.startswith("postgresql://") else "sqlite"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def open_kitchen(backend_url: str, clock: FrozenClock) -> Iterator[Callable[..., Kitchen]]:
    """Open more kitchens on the same database (another producer, another oven host); all closed after."""
    opened: list[Kitchen] = []

    def make(**settings: Any) -> Kitchen:
        settings.setdefault("clock", clock)
        settings.setdefault("heartbeat_timeout", 5.0)
        k = Kitchen.open(backend_url, **settings)
        opened.append(k)
        return k

    yield make
    for k in opened:
        k.close()


@pytest.fixture
def kitchen(open_kitchen: Callable[..., Kitchen]) -> Kitchen:
    return open_kitchen()
