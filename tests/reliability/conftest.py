"""Fixtures for the reliability suite: the CLI as a subprocess, and root-only fault injection.

Tests run as root, whom file modes do not stop, so "read-only" and "disk full" are made honestly: an
immutable attribute (chattr +i), a read-only mount, a size-limited tmpfs. Each capability is probed at run
time; when it is missing the test is skipped with the reason, except under CI (env ``CI`` set), where it
fails: a green CI run must have exercised every fault.
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


def require(reason: str | None) -> None:
    """Skip (locally) or fail (under CI) when a capability this test needs is missing."""
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so this fault test must run)", pytrace=False)
        pytest.skip(reason)


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


@lru_cache(maxsize=None)
def cannot_mount(probe_root: str) -> str | None:
    """None if we may mount a tmpfs (root with CAP_SYS_ADMIN), else why not."""
    if not sys.platform.startswith("linux"):
        return "tmpfs mounts need Linux"
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    probe = Path(probe_root) / "mount-probe"
    probe.mkdir(exist_ok=True)
    made = _run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe))
    if made.returncode != 0:
        return f"cannot mount tmpfs here: {made.stderr.strip() or made.returncode}"
    _run("umount", str(probe))
    return None


def cannot_chattr(folder: Path) -> str | None:
    """None if files in ``folder`` can be made immutable (chattr +i), else why not."""
    if os.geteuid() != 0:
        return "chattr +i needs root"
    probe = folder / "chattr-probe"
    probe.write_text("x")
    try:
        made = _run("chattr", "+i", str(probe))
    except FileNotFoundError:
        return "chattr is not installed"
    if made.returncode != 0:
        return f"this file system does not take chattr +i: {made.stderr.strip()}"
    _run("chattr", "-i", str(probe))
    probe.unlink()
    return None


class Mounts:
    """tmpfs mounts made by one test; all unmounted at teardown, even after a failure."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: list[Path] = []

    def tmpfs(self, name: str, size: str) -> Path:
        require(cannot_mount(str(self.root)))
        point = self.root / name
        point.mkdir()
        done = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(point))
        assert done.returncode == 0, done.stderr
        self.made.append(point)
        return point

    def remount(self, point: Path, mode: str) -> None:
        done = _run("mount", "-o", f"remount,{mode}", str(point))
        assert done.returncode == 0, done.stderr

    def close(self) -> None:
        for point in reversed(self.made):
            _run("umount", "-l", str(point))


@pytest.fixture
def mounts(tmp_path: Path) -> Iterator[Mounts]:
    m = Mounts(tmp_path)
    yield m
    m.close()


def kitchen_cli(cwd: Path, *args: str, timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m kitchen ARGS`` in ``cwd`` (so no ./kitchen.ini of the repo is read), KITCHEN_* unset."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KITCHEN_")}
    clean["PYTHONPATH"] = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "kitchen", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**clean, **(env or {})})


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
