"""Fixtures for real oven processes."""

from pathlib import Path

import pytest

from procshop import Shop


@pytest.fixture
def shop(tmp_path: Path):
    s = Shop(tmp_path)
    yield s
    s.close()
