"""Waiting on the screen: the first refresh landed and none is pending (see tests/support/waiting.py)."""

from __future__ import annotations

from typing import Any

from tests.support.waiting import wait_until


async def settled(pilot: Any) -> None:
    """Wait for the first refresh to land and for no refresh to be pending or running."""
    app = pilot.app
    await wait_until(pilot, lambda: app.reads >= 1 and app.idle, what="a refresh")
    await pilot.pause()
