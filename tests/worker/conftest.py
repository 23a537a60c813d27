"""Fixtures for real oven processes."""

from pathlib import Path

import pytest

from procshop import Shop


@pytest.fixture
def shop(tmp_path: Path, backend_url: str):
    """A shop on each backend: a SQLite file, or a fresh PostgreSQL schema (see tests/conftest.py)."""
    s = Shop(tmp_path, backend_url)
    yield s
    s.close()
