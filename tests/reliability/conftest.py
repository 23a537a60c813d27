"""Fixtures for the reliability suite: tmpfs mounts made by one test, unmounted at teardown (see mounts.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.mounts import Mounts


@pytest.fixture
def mounts(tmp_path: Path) -> Iterator[Mounts]:
    m = Mounts(tmp_path)
    yield m
    m.close()
