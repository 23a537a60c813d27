"""Starting oven processes: used by the supervisor (`kitchen run --ovens N`) and by the TUI alike.

A child is told its parent's pid and leaves the kitchen when that parent is gone, so killing the parent
(even with SIGKILL) never leaves orphan ovens cooking.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Sequence


def oven_command(name: str, *, database: str, config: str | None = None,
                 extra: Sequence[str] = ()) -> list[str]:
    """The argv of one headless oven process (``python -m kitchen run``; never imports Textual)."""
    cmd = [sys.executable, "-m", "kitchen"]
    if config:
        cmd += ["--config", config]
    cmd += ["--db", database, "run", "--name", name, "--parent", str(os.getpid()), *extra]
    return cmd


def spawn_oven(name: str, *, database: str, config: str | None = None, extra: Sequence[str] = (),
               log_path: str | None = None, env: dict[str, str] | None = None,
               inherit_output: bool = False) -> subprocess.Popen:
    """Start one oven as its own OS process (its own process group, so terminal ^C goes to the parent only).

    Output goes to ``log_path`` (appended), to the parent's stderr with ``inherit_output``, else nowhere.
    """
    out = open(log_path, "ab") if log_path else (None if inherit_output else subprocess.DEVNULL)
    try:
        return subprocess.Popen(oven_command(name, database=database, config=config, extra=extra),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out if out is not None else None,
                                start_new_session=True,
                                env=env)
    finally:
        if log_path:
            out.close()
