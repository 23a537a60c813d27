"""Starting oven processes: used by the supervisor (`kitchen run --ovens N`) and by the TUI alike.

A child is told its parent's pid and leaves the kitchen when that parent is gone; on Linux the kernel also
sends it SIGTERM the moment its parent dies (PR_SET_PDEATHSIG), so killing the parent (even with SIGKILL)
never leaves orphan ovens cooking. The database URL reaches the child through its environment
(``KITCHEN_DB``), never its command line: a password in the URL must not show in ``ps``.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import IO, Any

PR_SET_PDEATHSIG = 1


def oven_command(name: str, *, config: str | None = None, extra: Sequence[str] = ()) -> list[str]:
    """The argv of one headless oven process (``python -m kitchen run``; never imports Textual)."""
    cmd = [sys.executable, "-m", "kitchen"]
    if config:
        cmd += ["--config", config]
    cmd += ["run", "--name", name, "--parent", str(os.getpid()), *extra]
    return cmd


def oven_env(database: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The child's environment: the caller's (or ours), with the database URL in KITCHEN_DB."""
    out = dict(os.environ if env is None else env)
    out["KITCHEN_DB"] = database
    return out


def die_with_parent() -> Callable[[], None] | None:
    """A preexec hook asking the kernel for SIGTERM when the parent dies (Linux); None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    prctl = libc.prctl

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    return hook


@lru_cache(maxsize=1)
def _spawner() -> ThreadPoolExecutor:
    """One thread that lives as long as this process and starts every oven.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process: an oven started
    from a short-lived worker thread (the TUI's) would be told to stop as soon as that thread finished.
    """
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="oven-spawner")


def spawn_oven(name: str, *, database: str, config: str | None = None, extra: Sequence[str] = (),
               log_path: str | None = None, env: Mapping[str, str] | None = None,
               inherit_output: bool = False) -> subprocess.Popen:
    """Start one oven as its own OS process (its own process group, so terminal ^C goes to the parent only).

    Output goes to ``log_path`` (appended), to the parent's stderr with ``inherit_output``, else nowhere.
    """
    out: IO[bytes] | int | None = (open(log_path, "ab") if log_path  # noqa: SIM115 (closed below, once started)
                                   else None if inherit_output else subprocess.DEVNULL)
    options: dict[str, Any] = {}
    hook = die_with_parent()
    if hook is not None:
        options["preexec_fn"] = hook
    argv, child_env = oven_command(name, config=config, extra=extra), oven_env(database, env)

    def start() -> subprocess.Popen:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out if out is not None else None,
                                start_new_session=True, env=child_env, **options)

    try:
        if hook is None or threading.current_thread() is threading.main_thread():
            return start()
        return _spawner().submit(start).result()
    finally:
        if log_path and not isinstance(out, int) and out is not None:
            out.close()
