"""Shared fixtures: every engine contract test runs against SQLite and PostgreSQL; markers.

PostgreSQL tests use a fresh schema in database ``test`` per test (uuid-named, so pytest-xdist workers
never share one) and drop it afterwards. When the server is unreachable they are skipped locally and
fail under CI (env ``CI`` set): a green CI run must have exercised both backends.

Markers (all run by default): ``postgres`` (set here from the backend parameter), ``processes`` (starts real
OS processes: ovens, supervisors, the CLI, child interpreters — a test that starts one without the marker
fails, so the marker can be trusted) and ``slow`` (seconds of work even in one process). The fast inner loop
is ``pytest -m "not processes and not slow"``.

Test code imports helpers by their package path: ``tests.support.*`` (shared), ``tests.<folder>.<module>``
(one folder's own); never from a conftest.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kitchen import FrozenClock, Kitchen
from tests.support.postgres import PG_SERVER, require_pg

BACKENDS = ["sqlite", "postgresql"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: runs against PostgreSQL (the postgresql backend_url param)")
    config.addinivalue_line("markers", "processes: starts real OS processes (ovens, supervisors, the CLI, child "
                                       "interpreters); timing depends on the machine. Deselect: -m 'not processes'")
    config.addinivalue_line("markers", "slow: takes seconds even in one process (100k orders, lock-order "
                                       "stress). Deselect: -m 'not slow'")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("fresh_url") == "postgresql":
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(autouse=True)
def _processes_are_marked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A test that starts an OS process must be marked ``processes`` (so ``-m "not processes"`` is honest)."""
    if request.node.get_closest_marker("processes"):
        yield
        return
    started: list[str] = []
    real = subprocess.Popen.__init__

    def init(self: subprocess.Popen, args: Any, *more: Any, **kw: Any) -> None:
        started.append(args if isinstance(args, str) else " ".join(map(str, args)))
        real(self, args, *more, **kw)

    monkeypatch.setattr(subprocess.Popen, "__init__", init)
    yield
    if started:
        pytest.fail(f"started {len(started)} process(es) without @pytest.mark.processes, e.g. {started[0][:200]}",
                    pytrace=False)


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
