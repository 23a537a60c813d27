"""Starting oven processes: used by the supervisor (`kitchen run --ovens N`) and by the TUI alike.

Two ways: ``spawn_oven`` execs a fresh interpreter (``python -m kitchen run``), ``fork_oven`` forks the
supervisor, whose modules (psycopg, kitchen, the recipes) are imported already: an oven is cooking ~0.3 s CPU
sooner, which on a small machine is most of a short drain's start-up (``oven_start`` in kitchen.ini).

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
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache
from typing import IO, Any, Protocol

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15


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


class Child(Protocol):
    """An oven process as its supervisor watches it (``subprocess.Popen`` is one)."""

    pid: int

    def poll(self) -> int | None: ...


class Forked:
    """A forked oven: its pid and, once it has exited, a Popen-style return code (-N: killed by signal N)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere: its code is lost
                self.returncode = 1
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


CHILD_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def name_this_process(name: str) -> None:
    """The name ``top`` and ``ps -o comm`` show (Linux, 15 bytes): a fork keeps its parent's command line."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)
        except (OSError, AttributeError):
            pass


def fork_oven(body: Callable[[], int], *, name: str = "",
              hold: Callable[[], AbstractContextManager[Any]] = nullcontext) -> Forked | None:
    """Run ``body`` in a forked child of this process and never return there: the child exits with its code.

    The caller must hold no database connection (a child closing an inherited one would end the parent's
    session, or checkpoint its WAL), and no thread but those ``hold`` keeps still across the fork (the log
    writer, between two lines, so no lock is copied held; ``hold`` is left in the parent only). Returns None,
    forking nothing, when ``hold`` yields False. The child gets what ``spawn_oven`` gives an exec'd oven: its
    own session, SIGTERM when its parent dies, default signal handlers, stdin from /dev/null; and ``name`` as
    its process name.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    held = hold()
    if held.__enter__() is False:  # what it keeps still could not be stopped: no fork (the caller execs)
        held.__exit__(None, None, None)
        return None
    # Signals wait until the child has dropped the parent's handlers (one arriving in between would only
    # count as the copied supervisor's, and be lost to the oven).
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, CHILD_SIGNALS)
    try:
        pid = os.fork()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        held.__exit__(None, None, None)
        raise
    if pid:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        held.__exit__(None, None, None)
        return Forked(pid)
    # The child leaves ``held`` entered: what it holds are logging's handler locks, which logging re-makes,
    # unheld, in every forked child.
    code = 1
    try:
        os.setsid()
        for sig in CHILD_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        hook = die_with_parent()
        if hook is not None:
            hook()
        if os.getppid() != parent:  # the parent died before the hook was set: no signal will come
            os._exit(1)
        if name:
            name_this_process(name)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        code = body()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
