"""TUI fixtures: a pinned time zone, so clock times on screen (and in snapshots) match on every machine."""

from __future__ import annotations

import os
import time

import pytest


@pytest.fixture(autouse=True, scope="session")
def utc() -> None:
    """Clock times on screen are local time; pin it so snapshots match on every machine."""
    os.environ["TZ"] = "UTC"
    time.tzset()
