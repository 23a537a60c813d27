"""Root-only fault injection: tmpfs mounts (read-only, disk full) and immutable files, each probed first.

Tests run as root, whom file modes do not stop, so "read-only" and "disk full" are made honestly: an
immutable attribute (chattr +i), a read-only mount, a size-limited tmpfs. Each capability is probed at run
time; when it is missing the test is skipped with the reason, except under CI (see capabilities.require).
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache
from pathlib import Path

from tests.support.capabilities import require


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


@cache
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
        require(cannot_mount(str(self.root)), "this fault test")
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
