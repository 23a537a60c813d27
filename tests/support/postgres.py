"""The PostgreSQL test server (env ``KITCHEN_TEST_PG``): tests on it are skipped when it does not answer,
except under CI, where they fail (see capabilities.require)."""

from __future__ import annotations

import os
from functools import cache

from tests.support.capabilities import require

PG_SERVER = os.environ.get("KITCHEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@cache
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
    require(pg_unreachable(), "PostgreSQL tests")
