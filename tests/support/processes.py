"""Real OS processes in tests: their environment, whether they still run, siblings in lockstep, the CLI.

Children import test modules by their package path (``tests.support.recipes``, ``tests.engine.child``),
so every child gets ``PYTHONPATH`` = the repository root (plus any folders a test adds), and no
``KITCHEN_*`` variable of the machine running the tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 60.0


def child_env(*paths: str | Path, **extra: str) -> dict[str, str]:
    """os.environ for a child: PYTHONPATH = ``paths``, the repository, then any PYTHONPATH already set;
    every ``KITCHEN_*`` variable removed; then ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KITCHEN_")}
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.update(extra)
    return env


def state(pid: int, tid: int | str | None = None) -> str | None:
    """The state letter (``R``, ``S``, ``T``, ``Z``...) of a process, or of one of its threads, from /proc;
    None when it is gone."""
    try:
        with open(f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def stopped(pid: int) -> bool:
    """Whether every thread of ``pid`` has stopped (SIGSTOP is delivered asynchronously) or it is gone."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return True
    return all(state(pid, tid) in (None, "T", "t", "Z", "X") for tid in tids)


def running(pid: int) -> bool:
    """Whether a process still runs: an exited one not yet reaped by its parent (a zombie) counts as gone."""
    return state(pid) not in (None, "Z", "X")


def wait_exited(pids: Iterable[int], timeout: float = 15.0, what: str | None = None) -> None:
    """Wait until none of ``pids`` runs."""
    pids = list(pids)
    wait_for(lambda: not any(running(p) for p in pids), timeout, what or f"processes {pids} to exit")


def children_of(pid: int) -> set[int]:
    """Running (not zombie) child pids of ``pid``, from /proc."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry))
    return found


def send(pid: int, sig: int) -> bool:
    """Send ``sig`` to ``pid``; False (no error) when it is already gone."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def end(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Kill ``proc`` if it still runs (waking it first, in case it is stopped) and reap it."""
    if proc.poll() is None:
        send(proc.pid, signal.SIGCONT)
        send(proc.pid, signal.SIGKILL)
    proc.wait(timeout=timeout)


def in_lockstep(commands: Sequence[Sequence[str]], *, cwd: str | Path | None = None,
                timeout: float = DEADLINE) -> list[dict[str, Any]]:
    """Start one child per command; each prints ``ready``, then waits for ``go`` on stdin, so that all start
    their work together; each ends by printing one JSON line. Returns those, in order."""
    procs = [subprocess.Popen(list(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=child_env(), cwd=cwd) for cmd in commands]
    try:
        for p in procs:  # barrier: each has imported everything and waits on its pipe
            line = _readline(p, timeout)
            assert line == "ready", f"child said {line!r}: {p.stderr.read() if p.poll() is not None else ''}"
        for p in procs:
            p.stdin.write("go\n")
        for p in procs:
            p.stdin.flush()
        results = []
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            assert p.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for p in procs:
            end(p)


def _readline(p: subprocess.Popen, timeout: float) -> str:
    box: list[str] = []
    t = threading.Thread(target=lambda: box.append(p.stdout.readline()), daemon=True)
    t.start()
    t.join(timeout)
    return box[0].strip() if box else ""


def kitchen_cli(cwd: str | Path, *args: str, timeout: float = 60, paths: Sequence[str | Path] = (),
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m kitchen ARGS`` in ``cwd`` (so no ./kitchen.ini of the repo is read); ``paths`` go first
    on PYTHONPATH (recipe modules a test wrote); ``env`` is added last."""
    return subprocess.run([sys.executable, "-m", "kitchen", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**child_env(*paths), **(env or {})})


def assert_one_line_error(out: subprocess.CompletedProcess, code: int = 1) -> str:
    """Exit ``code``, no traceback, and the error on one line of stderr (after argparse's usage for code 2)."""
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode == code, f"exit {out.returncode}, wanted {code}: {out.stderr}"
    lines = out.stderr.strip().splitlines()
    assert lines, "nothing on stderr"
    if code == 1:
        errors = [line for line in lines if ": warning: " not in line]
        assert len(errors) == 1, f"wanted one line, got: {out.stderr}"
        assert errors[0].startswith("kitchen: error: "), errors[0]
        return errors[0]
    assert lines[0].startswith("usage: kitchen"), out.stderr
    assert lines[-1].startswith("kitchen") and ": error: " in lines[-1], out.stderr
    return lines[-1]
