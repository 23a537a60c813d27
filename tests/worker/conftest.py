"""Fixtures for real oven processes (see tests/support/shop.py)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.shop import Shop


@pytest.fixture
def shop(tmp_path: Path, backend_url: str) -> Iterator[Shop]:
    """A shop on each backend: a SQLite file, or a fresh PostgreSQL schema (see tests/conftest.py)."""
    s = Shop(tmp_path, backend_url)
    yield s
    s.close()
