"""Shared pieces of the benchmark: results, statistics, fresh database directories, machine facts, checks."""

from __future__ import annotations

import math
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

# Durability ranks: a comparison kitchen/peer is only made when kitchen's rank >= the peer's.
SYNC_NAMES = {0: "off", 1: "normal", 2: "full", 3: "extra"}
RANK = {"off": 0, "normal": 1, "full": 2, "extra": 3}


@dataclass
class Figure:
    """One row of the table: a workload measured ``repeats`` times under named settings."""

    key: str  # stable id, used by ratios and targets
    workload: str
    system: str
    durability: str  # kitchen's setting, or the peer's effective PRAGMA synchronous
    prefetch: str  # orders per claim transaction ("-" where it means nothing)
    ovens: str
    unit: str  # "orders/s", "ms", "s", "%", "MB"
    runs: list[float] = field(default_factory=list)
    higher_is_better: bool = True
    n: int = 0
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.runs) if self.runs else float("nan")

    @property
    def lo(self) -> float:
        return min(self.runs) if self.runs else float("nan")

    @property
    def hi(self) -> float:
        return max(self.runs) if self.runs else float("nan")

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(median=self.median, min=self.lo, max=self.hi)
        return d


def measure(fig: Figure, repeats: int, once: Callable[[int], float | tuple[float, dict]], log: Callable) -> Figure:
    """Run ``once(i)`` ``repeats`` times (each on fresh files), keeping every figure and extras per run."""
    for i in range(repeats):
        out = once(i)
        value, extra = out if isinstance(out, tuple) else (out, {})
        fig.runs.append(value)
        for k, v in extra.items():
            fig.extra.setdefault(k, []).append(v)
        log(f"  {fig.key} run {i + 1}/{repeats}: {fmt(value, fig.unit)}")
    return fig


def fmt(value: float, unit: str) -> str:
    if value != value:  # nan
        return "-"
    if unit == "orders/s":
        return f"{value:,.0f}"
    if unit in ("ms", "s"):
        return f"{value:.3g}" if value < 10 else f"{value:.1f}"
    if unit == "%":
        return f"{value:.2f}"
    if unit == "MB":
        return f"{value:.1f}"
    return f"{value:.3g}"


_TMP: Path | None = None


def set_tmp(path: Path | None) -> None:
    """Put the run's fresh database directories under ``path`` instead of bench/results/tmp (``--tmp``)."""
    global _TMP
    _TMP = Path(path) if path is not None else None


def base_tmp() -> Path:
    """Temp files live under bench/results/tmp (the same disk as the repository, git-ignored), or ``--tmp``."""
    path = _TMP or RESULTS / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def fresh_dir(prefix: str) -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix=prefix + "-", dir=base_tmp()))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def copy_db(src: Path, dst: Path) -> None:
    """Copy a checkpointed database file (its -wal is empty or absent) to a fresh path, flushed to disk."""
    shutil.copyfile(src, dst)
    flush_file(dst)


def flush_file(path: Path) -> None:
    """fsync a freshly written file, so its dirty pages are not flushed by the first fsync in a timed run.

    (A just-copied 150 MB fixture otherwise makes the oven's first WAL checkpoint take ~50 ms instead of ~5.)
    """
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def checkpoint(path: Path) -> None:
    con = sqlite3.connect(str(path))
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    flush_file(path)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    fs = "unknown"
    try:
        fs = subprocess.run(["df", "-hT", str(base_tmp())], capture_output=True, text=True).stdout.splitlines()[-1]
        fs = " ".join(fs.split()[:2])
    except Exception:
        pass
    versions = {}
    for mod in ("peewee", "huey", "persistqueue", "litequeue", "psutil"):
        try:
            from importlib.metadata import version

            versions[mod] = version({"persistqueue": "persist-queue"}.get(mod, mod))
        except Exception:
            versions[mod] = None
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "kitchen"], capture_output=True,
                                text=True).stdout.strip())
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "disk": fs,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "packages": versions,
        "kitchen_commit": commit + ("+uncommitted kitchen/ changes" if dirty else ""),
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def verify_drain(db: Path, n: int, extra_done: int = 0) -> dict[str, Any]:
    """Every order done exactly once: ledger rows == orders done == N (+ pre-finished), none left over."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        states = dict(con.execute("SELECT state, count(*) FROM orders GROUP BY state").fetchall())
        ledger, distinct = con.execute("SELECT count(*), count(DISTINCT order_id) FROM ledger").fetchone()
        refused = con.execute("SELECT count(*) FROM refusals").fetchone()[0]
        over = con.execute("SELECT count(*) FROM orders WHERE state = 'done' AND attempt <> 1").fetchone()[0]
        missing = con.execute("SELECT count(*) FROM orders o WHERE state = 'done' AND NOT EXISTS"
                              " (SELECT 1 FROM ledger l WHERE l.order_id = o.id)").fetchone()[0]
    finally:
        con.close()
    want = n + extra_done
    problems = []
    if states.get("done", 0) != want:
        problems.append(f"{states.get('done', 0)} done, expected {want}")
    if ledger != want or distinct != want:
        problems.append(f"ledger has {ledger} rows ({distinct} distinct orders), expected {want}")
    for s in ("queued", "cooking", "burnt"):
        if states.get(s):
            problems.append(f"{states[s]} orders left {s}")
    if refused:
        problems.append(f"{refused} refused completions")
    if over:
        problems.append(f"{over} orders cooked more than once (attempt > 1)")
    if missing:
        problems.append(f"{missing} done orders without a ledger row")
    if problems:
        keep = RESULTS / f"failed-{time.strftime('%Y%m%d-%H%M%S')}-{db.parent.name}.db"
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            events = con.execute("SELECT kind, oven_name, detail FROM events WHERE kind NOT IN ('join', 'moved')"
                                 " ORDER BY id LIMIT 10").fetchall()
            con.execute("VACUUM INTO ?", (str(keep),))
        finally:
            con.close()
        raise AssertionError(f"drain check failed on {db} (kept as {keep}): " + "; ".join(problems)
                             + f"; events: {events}")
    return {"ledger_rows": ledger, "done": states.get("done", 0)}


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(1, math.ceil(p / 100 * len(s))) - 1
    return s[min(k, len(s) - 1)]


# -- process and machine CPU / memory: psutil when installed (bench group), else Linux /proc -------------------


def installed(module: str) -> bool:
    """Whether ``module`` can be imported (peers and psutil live in the optional ``bench`` group)."""
    from importlib.util import find_spec

    return find_spec(module) is not None


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid``."""
    try:
        import psutil
    except ImportError:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14, 15 of proc(5))
    return sum(psutil.Process(pid).cpu_times()[:2])


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of process ``pid`` (default: this one), in MiB."""
    pid = os.getpid() if pid is None else pid
    try:
        import psutil
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")
    return psutil.Process(pid).memory_info().rss / 2**20


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (not idle, not waiting for I/O)."""
    try:
        import psutil
    except ImportError:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal (guest time is already inside user and nice)
        return (sum(ticks[:8]) - ticks[3] - ticks[4]) / _TICK
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)


def child_env() -> dict[str, str]:
    """Environment for child processes: the repository on PYTHONPATH so ``bench.*`` modules import."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("KITCHEN_CONFIG", None)
    env.pop("KITCHEN_DB", None)
    return env


PY = sys.executable
