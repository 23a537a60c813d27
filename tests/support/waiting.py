"""Waiting for a condition with a deadline: the only way tests wait (never sleep and hope).

``wait_for`` fails the test with ``what`` when the deadline passes; ``poll`` returns None instead, for
drivers (chaos.py) that collect problems rather than fail. ``wait_until`` is the async twin for a Textual
app under ``run_test``: it lets the app run (``pilot.pause``) between looks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")

TIMEOUT = 20.0  # seconds; generous, because a loaded CI machine is slow, and a pass returns at once
INTERVAL = 0.05


class Deadline:
    """``timeout`` seconds from now, and the failure that names what was waited for."""

    def __init__(self, timeout: float, what: str = "condition") -> None:
        self.timeout, self.what = timeout, what
        self.at = time.monotonic() + timeout

    @property
    def passed(self) -> bool:
        return time.monotonic() > self.at

    def fail(self) -> NoReturn:
        raise AssertionError(f"timed out after {self.timeout:g}s waiting for {self.what}")


def poll(condition: Callable[[], T], timeout: float = TIMEOUT, interval: float = INTERVAL) -> T | None:
    """Call ``condition()`` until it is truthy and return that value; None once ``timeout`` has passed."""
    deadline = Deadline(timeout)
    while True:
        value = condition()
        if value:
            return value
        if deadline.passed:
            return None
        time.sleep(interval)


def wait_for(condition: Callable[[], T], timeout: float = TIMEOUT, what: str = "condition",
             interval: float = INTERVAL) -> T:
    """Poll until ``condition()`` is truthy and return that value; fail with ``what`` after ``timeout`` s."""
    deadline = Deadline(timeout, what)
    while True:
        value = condition()
        if value:
            return value
        if deadline.passed:
            deadline.fail()
        time.sleep(interval)


async def wait_until(pilot: Any, condition: Callable[[], object], timeout: float = 5.0,
                     what: str = "condition") -> None:
    """Let the app under ``pilot`` run until ``condition()`` holds; fail with ``what`` after ``timeout`` s."""
    deadline = Deadline(timeout, what)
    while not condition():
        if deadline.passed:
            deadline.fail()
        await pilot.pause(0.02)
