"""Snapshot scenes: the engine driven step by step on a frozen clock, no processes, live refresh paused."""

from __future__ import annotations

import pytest

from kitchen.tui import scenes
from tests.tui.helpers import settled

WIDE = (160, 48)
NARROW = (80, 24)


@pytest.mark.parametrize("scene", ["empty", "rush", "killed", "refused", "stolen", "slots"])
def test_scene_wide(scene, snap_compare, tmp_path):
    """160x48: the empty shop; after a rush; oven-2 killed (dead, order requeued, its buckets moved);
    oven-2's late completion refused in the ledger; oven-2 taking the pizzas queued behind oven-1's calzone;
    oven-1 with four slots cooking four orders at once."""
    app = scenes.SCENES[scene](tmp_path).app()
    assert snap_compare(app, terminal_size=WIDE, run_before=settled)


@pytest.mark.parametrize("scene", ["empty", "killed"])
def test_scene_narrow(scene, snap_compare, tmp_path):
    """80x24: ovens one line each, the ring as squares, every pane still there."""
    app = scenes.SCENES[scene](tmp_path).app()
    assert snap_compare(app, terminal_size=NARROW, run_before=settled)
