"""TUI test helpers: pinned time zone, scene directories, and waiting on conditions (never sleep-and-hope)."""

from __future__ import annotations

import os
import time
from typing import Callable

import pytest


@pytest.fixture(autouse=True, scope="session")
def utc() -> None:
    """Clock times on screen are local time; pin it so snapshots match on every machine."""
    os.environ["TZ"] = "UTC"
    time.tzset()


async def wait_until(pilot, condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Let the app run until ``condition()`` holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.02)


async def settled(pilot) -> None:
    """Wait for the first refresh to land and for no refresh to be pending or running."""
    app = pilot.app
    await wait_until(pilot, lambda: app.reads >= 1 and not app._reading and not app._again, what="a refresh")
    await pilot.pause()


def alive(pid: int) -> bool:
    """Whether an oven process still runs (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
