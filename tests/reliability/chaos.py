"""The chaos run: ovens as real processes under ``kitchen run --ovens N`` (some with ``--concurrency 3``: several
orders at once per process), random SIGKILLs (the supervisors restart them), SIGSTOP/SIGCONT zombies, a producer
SIGKILLed inside a big transaction, wall clocks stepped ±60 s (libfaketime; one oven at a time, and the whole
set), a GIL-holding recipe cooked in a work horse, and a foreign SQLite writer SIGSTOPped inside its write
transaction for longer than ``heartbeat_timeout`` — then every promise checked from the database itself and from
a log of every recipe start, not from what the processes say.

``run_chaos(workdir, Plan(...))`` is shared by tests/reliability/test_chaos.py (bounded) and scripts/soak.py (as
long as asked). Which orders must burn is known in advance (chaos_recipes: ``doomed`` payloads); anything else
that burns, goes missing or completes twice is a problem. Every re-cook (a recipe started again for an order
whose earlier start did not fail by design) is attributed: to a SIGKILL of the oven holding the order mid-cook,
to a freeze past the heartbeat timeout (a zombie, declared dead), or to nothing — unexplained. Every death
verdict is attributed the same way; one the run did not cause is a false death. The outcome is deterministic;
only timing and the counts of kills, requeues and refusals vary. Every order has a customer: each customer's lane
is checked from the data to have cooked one order at a time, finishing in ticket order.
"""

from __future__ import annotations

import bisect
import itertools
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.processes import child_env, children_of, running, send, stopped
from tests.support.waiting import poll

RECIPES = "tests.reliability.chaos_recipes"
SUBMITTER = "tests.reliability.chaos_submitter"

# max_attempts 8: flaky orders need at most 4 attempts, doomed ones burn after 8 failures. No order may burn by
# bad luck (a 1.35 s hog is killed mid-cook about every other attempt): an oven holding an order on its
# SPARE_FROM-th attempt or later is never killed nor frozen, so a kill or a freeze only ever uses attempts up.
SETTINGS = {"heartbeat_interval": 0.2, "heartbeat_timeout": 1.0, "reap_interval": 0.2, "lease": 30,
            "max_attempts": 8, "backoff_base": 0.05, "backoff_max": 0.2, "poll_interval": 0.2, "grace": 5,
            "busy_timeout": 5}
# Writer, checkpointer and recovery locks of a WAL database live on these bytes of its -shm file.
SHM_EXCLUSIVE_BYTES = range(120, 123)
BAD_LOG_LINES = ("database is locked", "Traceback", "stayed locked", "internal error", "kitchen: error")
SPARE_FROM = SETTINGS["max_attempts"] - 2

# Clock steps move a process's wall clock (time.time, datetime.now, timers planned on it) with libfaketime;
# CLOCK_MONOTONIC and CLOCK_BOOTTIME keep going. CI installs it (.ci/run); locally it may be missing.
FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
CLOCK_STEP = 60
CLOCK_BOUND = 2 * CLOCK_STEP  # a clock ±120 s off is stepped back (a whole-set step may still reach ±180 s)

# The supervisor hands one environment to all its ovens. This sitecustomize (on the ovens' PYTHONPATH only
# while clock steps run) gives each oven its own step file: an oven process (``--parent`` and ``--name NAME``
# on its command line) re-executes itself once, at start, with FAKETIME_TIMESTAMP_FILE = <dir>/NAME. Same
# pid, same parent, same PDEATHSIG; its work horse inherits the file.
OWN_STEP_FILE = '''"""Written by tests/reliability/chaos.py: one libfaketime step file per oven name."""
import os
import sys


def _own_step_file():
    folder = os.environ.get("CHAOS_CLOCK_DIR")
    if not folder:
        return
    with open("/proc/self/cmdline", "rb") as f:
        argv = [a.decode() for a in f.read().split(b"\\0")[:-1]]
    if "--parent" not in argv or "--name" not in argv[:-1]:
        return
    want = os.path.join(folder, argv[argv.index("--name") + 1])
    if os.environ.get("FAKETIME_TIMESTAMP_FILE") != want:
        os.execve(sys.executable, [sys.executable, *argv[1:]], {**os.environ, "FAKETIME_TIMESTAMP_FILE": want})


_own_step_file()
'''

# A writer that is not kitchen's: raw sqlite3, no write gate, SIGSTOPped by the run inside its transaction.
STALLED_WRITER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
con.execute("BEGIN IMMEDIATE")
con.execute("INSERT INTO kitchen_meta (key, value) VALUES (?, '1')", (sys.argv[2],))
print("locked", flush=True)
sys.stdin.readline()
con.execute("ROLLBACK")
print("released", flush=True)
"""


@dataclass
class Plan:
    """How much chaos: ``orders`` unique orders submitted over ``submit_seconds``, kills every ~``kill_every``."""

    orders: int = 2000
    submit_seconds: float = 8.0
    duplicate_share: float = 0.10
    ovens: int = 4
    wide: int = 2  # of the ovens, how many run with ``--concurrency wide_slots`` (a supervisor of their own)
    wide_slots: int = 3
    kill_every: float = 0.5
    min_kills: int = 10  # the chaos goes on (within its wind-down deadline) until at least this many kills
    freezes: int = 3
    killed_batches: int = 1
    killed_batch_size: int = 4000
    tail_chaos: float = 4.0
    settle_timeout: float = 90.0
    seed: int = 7
    clock_steps: int = 6  # one oven's wall clock stepped ±60 s (needs libfaketime)
    clock_set_steps: int = 1  # every oven's (and the supervisor's) wall clock stepped ±60 s at once
    hogs: int = 2  # GIL-holding isolated orders among ``orders``
    hog_seconds: float = 1.35  # their one C call (> heartbeat_timeout: in its oven it would starve the heartbeat)
    stalls: int = 1  # foreign writers SIGSTOPped inside their transaction
    stall_seconds: float = 2.0  # > heartbeat_timeout, < busy_timeout
    timed: int = 6  # orders of chaos_timed (isolated) among ``orders``: their first attempts overrun the timeout
    timed_inline: int = 2  # ... of chaos_timed_inline (in process: each overrun takes its oven down)
    cancels: int = 40  # cancels sent during the chaos, alternately of a cooking and of a queued order


@dataclass
class Outcome:
    orders: int = 0
    done: int = 0
    burnt: int = 0
    expected_burnt: int = 0
    kills: int = 0
    restarts: int = 0
    freezes: int = 0
    freezes_holding: int = 0
    freeze_retries: int = 0
    requeues: int = 0
    refused: int = 0
    duplicates: int = 0
    lost: int = 0
    completed_twice: int = 0  # completions accepted twice (ledger rows, "done" log lines)
    recooked_killed: int = 0  # orders cooked again because the oven holding them mid-cook was SIGKILLed
    recooked_frozen: int = 0  # ... because that oven was frozen past the heartbeat timeout (a zombie)
    recooked_handed_back: int = 0  # ... because another slot's in-process timeout took its (wide) oven down
    recooked_unexplained: int = 0  # ... for any other reason: must be 0
    lane_pairs: int = 0  # consecutive orders of a customer's lane checked from the data (starts, ends, ledger)
    lane_overlaps: int = 0  # ... where the later one started before the earlier one's cook ended: must be 0
    lane_out_of_order: int = 0  # ... both done, but the later ticket's completion committed first: must be 0
    deaths: int = 0  # death verdicts (ovens rows declared dead)
    false_deaths: int = 0  # verdicts on an oven that was neither killed nor frozen past the timeout
    clock_steps: int = 0
    clock_set_steps: int = 0
    clock_seen: int = 0  # recipe starts whose process read a wall clock off by >= 30 s
    clock_note: str = ""  # why clock steps were skipped
    hogs: int = 0  # hog orders done whose one C call held the GIL >= heartbeat_timeout
    hog_call: float = 0.0  # the longest such call, seconds
    stalls: int = 0  # foreign writers stopped while holding SQLite's write lock
    stalled_for: float = 0.0  # the longest stall, seconds
    timeouts: int = 0  # attempts failed by their recipe's timeout
    timeouts_inline: int = 0  # ... of them in an oven's own process (the oven exited; its supervisor restarted it)
    cancels: int = 0  # cancels sent (kitchen.cancel_many)
    cancelled: int = 0  # orders that ended cancelled
    cancelled_cooking: int = 0  # ... of which were cooking when the cancel was asked
    killed_batches: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def cooked_twice(self) -> int:
        return self.recooked_killed + self.recooked_frozen + self.recooked_handed_back + self.recooked_unexplained

    def summary(self) -> str:
        clock = (f"clock_steps={self.clock_steps} (whole set: {self.clock_set_steps}, starts on a stepped clock:"
                 f" {self.clock_seen})" if not self.clock_note else "clock_steps=skipped (no libfaketime)")
        return (f"chaos: orders={self.orders} done={self.done} burnt={self.burnt} (expected {self.expected_burnt})"
                f" kills={self.kills} restarts={self.restarts} freezes={self.freezes}"
                f" (holding an order: {self.freezes_holding}) {clock} gil_hogs={self.hogs}"
                f" (longest call {self.hog_call:.2f}s) stalled_writers={self.stalls}"
                f" (longest {self.stalled_for:.1f}s) timeouts={self.timeouts} (in process: {self.timeouts_inline})"
                f" cancels={self.cancels}"
                f" (cancelled {self.cancelled}, of them cooking {self.cancelled_cooking}) requeues={self.requeues}"
                f" refused_completions={self.refused} duplicates_absorbed={self.duplicates}"
                f" killed_batches={','.join(self.killed_batches) or '-'} lost={self.lost}"
                f" completed_twice={self.completed_twice} cooked_twice={self.cooked_twice}"
                f" (oven killed mid-cook: {self.recooked_killed}, frozen past timeout: {self.recooked_frozen},"
                f" handed back by a timed-out slot's oven: {self.recooked_handed_back},"
                f" unexplained: {self.recooked_unexplained}) lane_pairs={self.lane_pairs}"
                f" (overlapping: {self.lane_overlaps}, out of order: {self.lane_out_of_order})"
                f" deaths={self.deaths} false_deaths={self.false_deaths}"
                f" problems={len(self.problems)} elapsed={self.elapsed:.1f}s")


def write_ini(path: Path, **extra: object) -> Path:
    lines = [f"{k} = {v}" for k, v in {**SETTINGS, **extra}.items()]
    path.write_text("[kitchen]\n" + "\n".join(lines) + "\n")
    return path


def holds_write_lock(pid: int, db: Path) -> bool:
    """Whether ``pid`` holds a writer's lock: kitchen's write gate (a flock on <db>-lock) or SQLite's WAL
    writer/checkpoint/recovery lock on <db>-shm. A stopped holder blocks every writer, the reaper included."""
    inodes = {}
    for suffix, kind in (("-shm", "POSIX"), ("-lock", "FLOCK")):
        try:
            inodes[kind] = Path(f"{db}{suffix}").stat().st_ino
        except OSError:
            pass
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return False
    for line in lines:
        parts = line.split()
        if len(parts) < 8 or parts[4] != str(pid) or parts[3] != "WRITE" or parts[1] not in inodes:
            continue
        if int(parts[5].split(":")[2]) != inodes[parts[1]]:
            continue
        if parts[1] == "FLOCK" or (parts[6].isdigit() and int(parts[6]) in SHM_EXCLUSIVE_BYTES):
            return True
    return False


def order_specs(plan: Plan, rng: random.Random) -> list[dict]:
    """The unique orders, each with a behaviour fixed by its payload (see chaos_recipes); ``plan.hogs`` of the
    orders that must not burn, evenly spread, are GIL hogs instead."""
    specs: list[dict[str, Any]] = []
    for i in range(plan.orders):
        roll = rng.random()
        if roll < 0.05:
            payload: dict = {"doomed": True}
        elif roll < 0.16:
            payload = {"ms": 3, "fail_until": rng.randint(2, 4)}
        elif roll < 0.20:
            payload = {"ms": rng.randint(200, 400)}
        else:
            payload = {"ms": rng.randint(2, 16)}
        specs.append({"recipe": "chaos", "payload": payload, "key": f"o{plan.seed}-{i}",
                      "customer": f"c{rng.randrange(97)}"})
    for k in range(plan.hogs):
        i = int((k + 0.5) * plan.orders / plan.hogs)
        while specs[i]["payload"].get("doomed"):
            i = (i + 1) % plan.orders
        specs[i].update(recipe="chaos_hog", payload={"seconds": plan.hog_seconds})
    for k in range(plan.timed + plan.timed_inline):
        i = int((k + 0.25) * plan.orders / (plan.timed + plan.timed_inline))
        while specs[i]["payload"].get("doomed") or specs[i]["recipe"] != "chaos":
            i = (i + 1) % plan.orders
        specs[i].update(recipe="chaos_timed" if k < plan.timed else "chaos_timed_inline",
                        payload={"overrun_until": rng.randint(2, 3)})
    return specs


def submission_chunks(specs: list[dict], plan: Plan, rng: random.Random) -> list[list[dict]]:
    """Originals in order, with ``duplicate_share`` of the keys sent a second time (same or a later chunk)."""
    chunks = max(1, int(plan.submit_seconds / 0.2))
    size = -(-len(specs) // chunks)
    out = [specs[i:i + size] for i in range(0, len(specs), size)]
    for spec in rng.sample(range(len(specs)), int(len(specs) * plan.duplicate_share)):
        first = spec // size
        out[rng.randrange(first, min(first + 3, len(out)))].append(dict(specs[spec]))
    return out


class Chaos:
    def __init__(self, workdir: Path, plan: Plan, say: Callable[[str], None]) -> None:
        from kitchen import Kitchen
        from kitchen.core.config import load_settings

        self.dir, self.plan, self.say = workdir, plan, say
        self.db = workdir / "kitchen.db"
        self.ini = write_ini(workdir / "kitchen.ini")
        # The wide ovens are exec'd (a fresh interpreter each: a clock of their own, see OWN_STEP_FILE); the plain
        # ones are forked by their supervisor, kitchen's default, and share the supervisor's clock.
        self.exec_ini = write_ini(workdir / "exec.ini", oven_start="exec")
        self.log = workdir / "ovens.log"
        self.starts = workdir / "starts.log"  # one line per recipe start (chaos_recipes)
        self.ends = workdir / "ends.log"  # one line per recipe end
        self._starts_read = 0
        self._started: set[tuple[int, int]] = set()
        self.env = child_env()
        self.oven_env = {**self.env, "CHAOS_STARTS": str(self.starts), "CHAOS_ENDS": str(self.ends)}
        self.kitchen = Kitchen.open(settings=load_settings(config=str(self.ini), database=str(self.db), env={}))
        self.rng = random.Random(plan.seed)
        self.out = Outcome()
        self.supervisors: list[subprocess.Popen] = []  # the plain ovens' supervisor, then the wide ones'
        self.seen_children: set[int] = set()
        self.wide_pids: set[int] = set()  # oven processes cooking on several slots
        # pids are reused (pid_max may be 32768): kills are kept by pid *and* time, and by oven incarnation
        self.kill_times: dict[int, list[float]] = {}  # oven pid -> monotonic times just before its SIGKILLs
        self.killed_ovens: set[int] = set()  # the incarnations (ovens rows) alive in the ovens killed
        self.frozen: dict[int, dict] = {}  # pid -> {oven_id, held, completing, since}
        self.frozen_dead: set[int] = set()  # oven incarnations declared dead while frozen past the timeout
        self.zombie_held: set[tuple[int, int]] = set()  # (order, fence) those zombies held when frozen
        self.long_stops: set[int] = set()  # incarnations stopped for a freeze attempt long enough to matter
        self.protected: dict[int, tuple[int, int, int, float]] = {}  # thawed zombie pid -> (order, oven, fence, t)
        self.expect_refusals: list[tuple[int, int, int]] = []
        self.submitters: list[dict] = []
        self.stallers: list[dict] = []
        self.tickets: dict[str, int] = {}
        self.cancels: dict[int, str] = {}  # order -> what cancel_many answered (cancelled, asked, done, burnt)
        self.sent: set[str] = set()
        self.duplicates_sent = 0
        self.problems = self.out.problems
        self.offsets: dict[str, int] = {}  # step file name -> its wall clock offset, seconds
        self.clock_dir: Path | None = None
        self.wall_minus_mono = time.time() - time.monotonic()
        self.t0 = time.monotonic()
        self.con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30, isolation_level=None)

    # -- processes ---------------------------------------------------------------------------------------

    def prepare_clocks(self) -> None:
        """libfaketime preloaded into the supervisor and every oven, with a step file per oven name (and one
        for the supervisor), all at +0 s; or, without libfaketime, a note (a problem under CI)."""
        if not (self.plan.clock_steps or self.plan.clock_set_steps):
            return
        if not os.path.exists(FAKETIME):
            reason = f"libfaketime is not installed ({FAKETIME}; apt-get install libfaketime)"
            if os.environ.get("CI"):
                self.problems.append(f"{reason}: CI is set, so the clock steps must run")
            self.out.clock_note = f"clock steps skipped: {reason}"
            self.say(f"  {self.out.clock_note}")
            return
        self.clock_dir = self.dir / "clock"
        (self.clock_dir / "site").mkdir(parents=True)
        (self.clock_dir / "site" / "sitecustomize.py").write_text(OWN_STEP_FILE)
        for name in ["supervisor", *self.oven_names()]:
            self.offsets[name] = 0
            self.write_step(name)
        preload = " ".join(filter(None, [FAKETIME, self.env.get("LD_PRELOAD")]))
        self.oven_env.update({
            "LD_PRELOAD": preload, "FAKETIME_TIMESTAMP_FILE": str(self.clock_dir / "supervisor"),
            "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_NO_CACHE": "1", "CHAOS_CLOCK_DIR": str(self.clock_dir),
            "PYTHONPATH": os.pathsep.join([str(self.clock_dir / "site"), self.env["PYTHONPATH"]])})

    def oven_names(self) -> list[str]:
        plain, wide = self.plan.ovens - self.plan.wide, self.plan.wide
        return [f"oven-{i}" for i in range(1, plain + 1)] + [f"wide-{i}" for i in range(1, wide + 1)]

    def write_step(self, name: str) -> None:
        """Replace (atomically: never a half-written file) the step file libfaketime reads on every clock call."""
        assert self.clock_dir is not None
        tmp = self.clock_dir / f".{name}.tmp"
        tmp.write_text(f"{self.offsets[name]:+d}s\n")
        os.replace(tmp, self.clock_dir / name)

    def step_clocks(self, names: list[str]) -> None:
        """Step the wall clock of ``names`` together by ±60 s (towards zero when one is at the bound)."""
        low, high = min(self.offsets[n] for n in names), max(self.offsets[n] for n in names)
        delta = (-CLOCK_STEP if high >= CLOCK_BOUND else CLOCK_STEP if low <= -CLOCK_BOUND
                 else self.rng.choice((-CLOCK_STEP, CLOCK_STEP)))
        for name in names:
            self.offsets[name] += delta
            self.write_step(name)

    def step_one_clock(self) -> bool:
        """Step one running, unfrozen exec'd oven's wall clock; False when none runs just now (try again later)."""
        running_names = sorted(name for pid, name in self.oven_pids().items() if pid not in self.frozen)
        if not running_names:
            return False
        name = self.rng.choice(running_names)
        self.step_clocks([name])
        self.out.clock_steps += 1
        self.say(f"  t={time.monotonic() - self.t0:.1f}s {name}'s wall clock stepped to {self.offsets[name]:+d}s")
        return True

    def step_every_clock(self) -> None:
        self.step_clocks(["supervisor", *self.oven_names()])
        self.out.clock_set_steps += 1
        self.say(f"  t={time.monotonic() - self.t0:.1f}s every wall clock stepped, offsets now {self.offsets}")

    def start_ovens(self) -> None:
        groups = [("oven", self.plan.ovens - self.plan.wide, []),
                  ("wide", self.plan.wide, ["--concurrency", str(self.plan.wide_slots)])]
        for name, n, extra in groups:
            if n < 1:
                continue
            ini = self.exec_ini if name == "wide" else self.ini
            cmd = [sys.executable, "-m", "kitchen", "--config", str(ini), "--db", str(self.db), "run",
                   "--ovens", str(n), "--name", name, "--recipes", RECIPES, *extra,
                   "--log-level", "debug"]  # the per-order "done" lines counted below are DEBUG lines
            with open(self.log, "ab") as log:
                self.supervisors.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                                         env=self.oven_env, cwd=self.dir, start_new_session=True))

    def ovens(self) -> set[int]:
        pids: set[int] = set()
        for sup in self.supervisors:
            mine = children_of(sup.pid)
            if "--concurrency" in sup.args:
                self.wide_pids |= mine
            pids |= mine
        self.seen_children |= pids
        return pids

    def oven_pids(self) -> dict[int, str]:
        """Running exec'd oven pid -> its name (from its command line; a forked oven shows its supervisor's)."""
        out = {}
        for pid in self.ovens():
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"--parent" in argv and b"--name" in argv[:-1]:
                out[pid] = argv[argv.index(b"--name") + 1].decode()
        return out

    def spared(self) -> set[int]:
        """Pids of ovens holding an order on one of its last attempts: never killed nor frozen (see SETTINGS)."""
        return {pid for (pid,) in self.con.execute(
            "SELECT pid FROM ovens WHERE state = 'alive' AND id IN"
            " (SELECT oven_id FROM orders WHERE state = 'cooking' AND attempt >= ?)", (SPARE_FROM,))}

    def working(self) -> set[int]:
        """Pids of running ovens that have joined and are neither frozen nor thawed zombies."""
        joined = {pid for (pid,) in self.con.execute("SELECT pid FROM ovens WHERE state = 'alive'")}
        return (self.ovens() & joined) - set(self.frozen) - set(self.protected)

    def kill_one(self) -> bool:
        """SIGKILL a working oven, but never the last one: on a loaded machine an oven takes seconds to start,
        and a kitchen whose ovens are all killed while starting (or frozen) has no reaper to judge anyone."""
        working = self.working()
        victims = sorted(working - self.spared())
        if victims and len(working) > 1:
            pid = self.rng.choice(victims)
            rows = {i for (i,) in self.con.execute("SELECT id FROM ovens WHERE pid = ? AND state = 'alive'", (pid,))}
            at = time.monotonic()
            if send(pid, signal.SIGKILL):
                self.out.kills += 1
                self.kill_times.setdefault(pid, []).append(at)
                self.killed_ovens |= rows
                return True
        return False

    def freeze_one(self) -> bool:
        """SIGSTOP an oven that is cooking; thaw at once (and try again) unless it stopped holding an order whose
        recipe it started and that will complete (not one failing by design: only a late completion is refused;
        nor one the run cancelled, which stops instead; nor one merely claimed: a zombie that learns of its death
        before cooking drops it) and not the write lock: a stopped SQLite writer of kitchen's would block every
        oven, the reaper included, for as long as it is stopped (a stalled writer is start_staller's fault, with
        a writer that is not kitchen's)."""
        working = self.working()
        if len(working) < 2:
            return False  # the one left must stay to judge the frozen one
        live = working - self.spared()
        rows = self.con.execute("SELECT id, pid FROM ovens WHERE state = 'alive' AND id IN"
                                " (SELECT oven_id FROM orders WHERE state = 'cooking')").fetchall()
        rows = [(oven_id, pid) for oven_id, pid in rows if pid in live]
        if not rows:
            return False
        oven_id, pid = self.rng.choice(rows)
        since = time.monotonic()
        os.kill(pid, signal.SIGSTOP)
        # SIGSTOP lands asynchronously: until each of its threads has stopped the oven may still take a lock
        poll(lambda: stopped(pid), 5, interval=0.001)
        held = self.con.execute("SELECT id, fence, recipe, payload, attempt FROM orders"
                                " WHERE state = 'cooking' AND oven_id = ?", (oven_id,)).fetchall()
        started = self.started_claims()
        completing = [(oid, fence) for oid, fence, recipe, payload, attempt in held if (oid, fence) in started
                      and oid not in self.cancels  # told to stop for a cancel: it never completes
                      and (recipe == "chaos_hog" or (not (p := json.loads(payload)).get("doomed")
                                                     and attempt >= int(p.get("fail_until", 0))
                                                     and attempt >= int(p.get("overrun_until", 0))))]
        held = [(oid, fence) for oid, fence, *_ in held]
        if not completing or holds_write_lock(pid, self.db):
            os.kill(pid, signal.SIGCONT)  # it finished its order meanwhile, or would block every writer
            self.out.freeze_retries += 1
            if time.monotonic() - since > SETTINGS["heartbeat_timeout"] / 2:
                # a slow look (a loaded machine): a death, and the re-cooks after it, would be the run's doing
                self.long_stops.add(oven_id)
                self.zombie_held |= set(held)
                self.say(f"  t={since - self.t0:.1f}s oven #{oven_id} (pid {pid}) was stopped for a look for"
                         f" {time.monotonic() - since:.1f}s")
            return False
        self.frozen[pid] = {"oven_id": oven_id, "held": held, "completing": completing[0], "since": since}
        self.out.freezes += 1
        self.say(f"  t={since - self.t0:.1f}s froze oven #{oven_id} (pid {pid}) holding {held}")
        return True

    def started_claims(self) -> set[tuple[int, int]]:
        """(order, fence) of every recipe start so far (read on from where the last look stopped)."""
        if self.starts.exists():
            with open(self.starts, "rb") as f:
                f.seek(self._starts_read)
                chunk = f.read()
            whole = chunk[:chunk.rfind(b"\n") + 1]  # a line still being appended is read next time
            self._starts_read += len(whole)
            for line in whole.decode().splitlines():
                oid, fence = line.split()[:2]
                self._started.add((int(oid), int(fence)))
        return self._started

    def thaw_dead(self) -> None:
        """SIGCONT each frozen oven once the database says it was declared dead (it is a zombie now)."""
        for pid, f in list(self.frozen.items()):
            state = self.con.execute("SELECT state FROM ovens WHERE id = ?", (f["oven_id"],)).fetchone()[0]
            stuck = time.monotonic() - f["since"] > 20
            if state != "dead" and not stuck:
                continue
            if stuck:
                self.problems.append(f"frozen oven pid {pid} was not declared dead within 20s")
            os.kill(pid, signal.SIGCONT)
            del self.frozen[pid]
            self.say(f"  t={time.monotonic() - self.t0:.1f}s thawed oven #{f['oven_id']} (pid {pid}): {state}")
            self.frozen_dead.add(f["oven_id"])
            self.zombie_held |= {(order, fence) for order, fence in f["held"]}
            if not stuck:
                self.out.freezes_holding += 1
                order, fence = f["completing"]
                self.protected[pid] = (order, f["oven_id"], fence, time.monotonic())
                self.expect_refusals.append((order, f["oven_id"], fence))

    def release_protected(self) -> None:
        """A thawed zombie may be killed again once its late completion was refused (or it plainly never came)."""
        for pid, (order, oven_id, fence, since) in list(self.protected.items()):
            row = self.con.execute("SELECT 1 FROM refusals WHERE order_id = ? AND oven_id = ? AND fence = ?",
                                   (order, oven_id, fence)).fetchone()
            if row or time.monotonic() - since > 20:
                del self.protected[pid]

    def start_submitter(self, n: int) -> None:
        """A producer process with one big batch; a thread SIGKILLs it the moment it is half-way through."""
        prefix = f"killed{self.plan.seed}x{n}"
        stall = self.rng.randrange(self.plan.killed_batch_size // 4, self.plan.killed_batch_size * 3 // 4)
        proc = subprocess.Popen([sys.executable, "-m", SUBMITTER, str(self.db), str(self.ini),
                                 prefix, str(self.plan.killed_batch_size), str(stall)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        sub: dict[str, Any] = {"proc": proc, "prefix": prefix, "killed": False}
        sub["thread"] = threading.Thread(target=self._kill_when_stalled, args=(sub,), daemon=True)
        sub["thread"].start()
        self.submitters.append(sub)

    def _kill_when_stalled(self, sub: dict) -> None:
        proc = sub["proc"]
        line = proc.stdout.readline()  # it holds the write lock from here on: kill it now
        if line.startswith("stalled"):
            proc.kill()
            sub["killed"] = True
            self.say(f"  producer {sub['prefix']} SIGKILLed mid-transaction ({line.split()[1]} orders written)")
        else:
            self.problems.append(f"producer {sub['prefix']} was not caught mid-transaction: {line.strip()!r} "
                                 f"{proc.stderr.read().strip()[-300:]}")
        proc.wait()

    def start_staller(self, n: int) -> None:
        """A writer that is not kitchen's (raw sqlite3, no write gate), SIGSTOPped inside BEGIN IMMEDIATE for
        ``stall_seconds``, then let go: it rolls back. Not the "never freeze a gate holder" case of freeze_one:
        there a frozen oven would be judged by the reaper it blocks; here no oven is frozen, every heartbeat
        is merely delayed, and not one oven may be declared dead for it."""
        proc = subprocess.Popen([sys.executable, "-c", STALLED_WRITER, str(self.db), f"chaos-stall-{n}"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env)
        staller: dict[str, Any] = {"proc": proc, "n": n}
        staller["thread"] = threading.Thread(target=self._stall, args=(staller,), daemon=True)
        staller["thread"].start()
        self.stallers.append(staller)

    def _stall(self, staller: dict) -> None:
        proc, n = staller["proc"], staller["n"]
        line = proc.stdout.readline()  # BEGIN IMMEDIATE done and a row written: it holds SQLite's write lock
        if line.strip() != "locked":
            self.problems.append(f"stalled writer {n} never took the write lock: {line.strip()!r} "
                                 f"{proc.stderr.read().strip()[-300:]}")
            proc.kill()
            proc.wait()
            return
        proc.send_signal(signal.SIGSTOP)
        begun = time.monotonic()
        self.say(f"  t={begun - self.t0:.1f}s writer {n} (not kitchen's) stopped inside its write transaction")
        poll(lambda: stopped(proc.pid), 5, interval=0.001)
        holding = holds_write_lock(proc.pid, self.db)
        time.sleep(self.plan.stall_seconds)  # the fault itself: every writer waits this long
        proc.send_signal(signal.SIGCONT)
        stalled_for = time.monotonic() - begun
        proc.stdin.write("go\n")
        proc.stdin.flush()
        released = proc.stdout.readline().strip() == "released"
        proc.wait()
        if not holding:
            self.problems.append(f"stalled writer {n} did not hold SQLite's write lock while stopped")
        elif not released:
            self.problems.append(f"stalled writer {n} did not roll back: {proc.stderr.read().strip()[-300:]}")
        else:
            self.out.stalls += 1
            self.out.stalled_for = max(self.out.stalled_for, stalled_for)
            self.say(f"  writer {n} let go after {stalled_for:.1f}s")

    # -- the run -----------------------------------------------------------------------------------------------

    def submit(self, chunk: list[dict]) -> None:
        """Submit one chunk in one transaction; a key's second send must come back as the first ticket."""
        for spec, t in zip(chunk, self.kitchen.submit_many(chunk)):
            key = spec["key"]
            first = self.tickets.setdefault(key, t.number)
            if key in self.sent and not (t.duplicate and t.number == first):
                self.problems.append(f"duplicate submit of {key} was not absorbed: {t}")
            if key not in self.sent and t.duplicate:
                self.problems.append(f"first submit of {key} came back as a duplicate: {t}")
            self.duplicates_sent += key in self.sent
            self.sent.add(key)

    def outstanding(self) -> int:
        """Queued (ready or delayed) plus cooking, from the tally (cheap at any size)."""
        row = self.con.execute("SELECT sum(submitted) - sum(done) - sum(burnt) - sum(cancelled) FROM tally").fetchone()
        return int(row[0] or 0)

    def cancel_one(self, cooking: bool) -> bool:
        """Cancel a cooking order (a slow plain one) or a queued one (never a doomed, hog or timed one: which
        orders burn stays known in advance); record what kitchen answered."""
        state = "cooking" if cooking else "queued"
        rows = self.con.execute(f"SELECT id, payload FROM orders WHERE state = '{state}' AND recipe = 'chaos'"
                                " ORDER BY id DESC LIMIT 200").fetchall()
        rows = [(oid, int(p.get("ms", 0))) for oid, payload in rows
                if not (p := json.loads(payload)).get("doomed") and oid not in self.cancels]
        if not rows:
            return False
        slow = [oid for oid, ms in rows if ms >= 100]  # a cooking slow one is likely still cooking when told
        oid = self.rng.choice(slow if cooking and slow else [oid for oid, _ in rows])
        self.cancels[oid] = self.kitchen.cancel_many([oid])[oid]
        self.out.cancels += 1
        return True

    def run(self) -> Outcome:
        plan, rng, out = self.plan, self.rng, self.out
        specs = order_specs(plan, rng)
        self.doomed = {s["key"] for s in specs if s["payload"].get("doomed")}
        self.hog_keys = {s["key"] for s in specs if s["recipe"] == "chaos_hog"}
        chunks = submission_chunks(specs, plan, rng)
        step = plan.submit_seconds / len(chunks)
        freeze_at = [plan.submit_seconds * (i + 1) / (plan.freezes + 1) for i in range(plan.freezes)]
        batch_at = [plan.submit_seconds * (i + 0.4) / plan.killed_batches for i in range(plan.killed_batches)]
        stall_at = [plan.submit_seconds * (i + 0.7) / plan.stalls for i in range(plan.stalls)]
        self.prepare_clocks()
        clocks = self.clock_dir is not None
        step_at = sorted(rng.uniform(1.0, plan.submit_seconds) for _ in range(plan.clock_steps if clocks else 0))
        set_step_at = [plan.submit_seconds * (i + 0.55) / plan.clock_set_steps
                       for i in range(plan.clock_set_steps if clocks else 0)]
        cancel_at = sorted(rng.uniform(0.5, plan.submit_seconds + 1.0) for _ in range(plan.cancels))
        self.start_ovens()
        t0 = self.t0 = time.monotonic()
        next_kill, next_look, next_report, next_freeze = t0 + 1.0, t0, t0 + 30, t0
        sent, chaos_over = 0, False
        try:
            while not chaos_over:
                now = time.monotonic() - t0
                if sent < len(chunks) and now >= sent * step:
                    self.submit(chunks[sent])
                    sent += 1
                if batch_at and now >= batch_at[0]:
                    self.start_submitter(plan.killed_batches - len(batch_at))
                    batch_at.pop(0)
                if stall_at and now >= stall_at[0]:
                    self.start_staller(plan.stalls - len(stall_at))
                    stall_at.pop(0)
                if freeze_at and now >= freeze_at[0] and time.monotonic() >= next_freeze:
                    next_freeze = time.monotonic() + 0.1  # a look stops an oven: not on every turn of the loop
                    if self.freeze_one():
                        freeze_at.pop(0)
                if step_at and now >= step_at[0] and self.step_one_clock():
                    step_at.pop(0)
                if set_step_at and now >= set_step_at[0]:
                    self.step_every_clock()
                    set_step_at.pop(0)
                if cancel_at and now >= cancel_at[0] and (self.cancel_one(len(cancel_at) % 2 == 0)
                                                          or now > plan.submit_seconds + plan.tail_chaos):
                    cancel_at.pop(0)
                if time.monotonic() >= next_look:
                    next_look = time.monotonic() + 0.1
                    self.thaw_dead()
                    self.release_protected()
                    busy = [s["thread"] for s in self.submitters + self.stallers if s["thread"].is_alive()]
                    chaos_over = (sent == len(chunks) and not batch_at and not freeze_at and not self.frozen
                                  and not cancel_at
                                  and not stall_at and not step_at and not set_step_at and not busy
                                  and out.kills >= plan.min_kills
                                  and (now > plan.submit_seconds + plan.tail_chaos or self.outstanding() == 0))
                if not chaos_over and time.monotonic() >= next_kill:
                    pause = plan.kill_every * rng.uniform(0.6, 1.4) if self.kill_one() else 0.1
                    next_kill = time.monotonic() + pause
                if time.monotonic() >= next_report:
                    next_report += 30
                    self.say(f"  t={now:.0f}s submitted {sent}/{len(chunks)} chunks, outstanding {self.outstanding()},"
                             f" kills {out.kills}, freezes {out.freezes}, clock steps {out.clock_steps},"
                             f" stalls {out.stalls}")
                if now > plan.submit_seconds + plan.tail_chaos + 60:
                    self.problems.append("chaos phase did not wind down (a freeze, producer, stalled writer or"
                                         " clock step never resolved, or too few ovens to kill)")
                    break
                time.sleep(0.02)
            self.say(f"  t={time.monotonic() - t0:.1f}s chaos over, {self.outstanding()} orders outstanding")
            self.settle()
            self.say(f"  t={time.monotonic() - t0:.1f}s settled")
            self.stop_ovens()
        finally:
            self.cleanup()
        out.elapsed = time.monotonic() - t0
        self.verify()
        return out

    def settle(self) -> None:
        """No more chaos: wait (with a deadline) until every order is done or burnt."""
        def settled() -> bool:
            self.release_protected()
            return self.outstanding() == 0 and not self.protected

        if not poll(settled, self.plan.settle_timeout):
            self.problems.append(f"orders still outstanding {self.plan.settle_timeout:g}s after the chaos stopped")

    def stop_ovens(self) -> None:
        """SIGTERM the supervisors: they drain every oven; all of them must be gone afterwards."""
        self.ovens()
        for sup in self.supervisors:
            sup.send_signal(signal.SIGTERM)
        for sup in self.supervisors:
            try:
                code = sup.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.problems.append("supervisor did not exit within 30s of SIGTERM")
                return
            if code != 0:
                self.problems.append(f"supervisor exited with {code}")
        if not poll(lambda: not any(running(p) for p in self.seen_children), 15):
            self.problems.append("oven processes outlived their supervisor")

    def cleanup(self) -> None:
        for pid in list(self.frozen) + list(self.protected):
            send(pid, signal.SIGCONT)
        for sub in self.submitters + self.stallers:
            if sub["proc"].poll() is None:
                send(sub["proc"].pid, signal.SIGCONT)
                sub["proc"].kill()
            sub["proc"].wait()
        for sup in self.supervisors:
            if sup.poll() is None:
                sup.kill()
                sup.wait()
        for pid in self.seen_children:
            if running(pid):
                send(pid, signal.SIGKILL)
        self.con.close()
        self.kitchen.close()

    # -- the verdict, from the database -------------------------------------------------------------------------

    def verify(self) -> None:
        con = sqlite3.connect(self.db)
        try:
            self._verify(con)
        finally:
            con.close()

    def _verify(self, con: sqlite3.Connection) -> None:
        out, bad = self.out, self.problems
        check = con.execute("PRAGMA integrity_check").fetchall()
        if check != [("ok",)]:
            bad.append(f"integrity_check: {check[:3]}")
        rows = con.execute("SELECT id, dedup_key, state, fence, oven_id, error FROM orders").fetchall()
        by_key = {r[1]: r for r in rows}
        for sub in self.submitters:  # all or nothing
            n = sum(1 for r in rows if r[1].startswith(sub["prefix"] + "-"))
            if n not in (0, self.plan.killed_batch_size):
                bad.append(f"batch {sub['prefix']} killed mid-way is partly committed: {n} of "
                           f"{self.plan.killed_batch_size}")
            out.killed_batches.append("absent" if n == 0 else "present")
        mine = {k: by_key[k] for k in self.tickets if k in by_key}
        strangers = len(rows) - len(mine) - sum(1 for r in rows if r[1].startswith(f"killed{self.plan.seed}x"))
        if strangers:
            bad.append(f"{strangers} orders in the database that no one submitted (a duplicate created one?)")
        missing = sorted(set(self.tickets) - set(mine))
        unfinished = sorted(k for k, r in mine.items() if r[2] not in ("done", "burnt", "cancelled"))
        out.orders, out.lost = len(mine), len(missing) + len(unfinished)
        if out.lost:
            bad.append(f"lost: {len(missing)} missing, {len(unfinished)} not done or burnt "
                       f"(e.g. {missing[:3]} {unfinished[:3]})")
        for key, number in self.tickets.items():
            if key in mine and mine[key][0] != number:
                bad.append(f"ticket for {key} was {number}, the database says {mine[key][0]}")
        burnt = {k for k, r in mine.items() if r[2] == "burnt"}
        cancelled = {r[0] for r in mine.values() if r[2] == "cancelled"}
        out.done = len(mine) - len(burnt) - len(unfinished) - len(cancelled)
        out.burnt, out.expected_burnt = len(burnt), len(self.doomed)
        self._verify_cancels({r[0]: r[2] for r in rows}, cancelled)
        for key in sorted(burnt - self.doomed)[:5]:
            bad.append(f"{key} (order {mine[key][0]}) burnt unexpectedly: {mine[key][5]}")
        for key in sorted(self.doomed - burnt)[:5]:
            bad.append(f"{key} should have burnt but is {by_key.get(key, ('', '', 'missing'))[2]}")
        # exactly one ledger row per done order, naming the claim (oven incarnation, fence) that finished it
        ledger_rows = con.execute("SELECT order_id, oven_id, fence FROM ledger").fetchall()
        ledger = {oid: (oven, fence) for oid, oven, fence in ledger_rows}
        done = {r[0]: r for r in rows if r[2] == "done"}
        for oid, r in done.items():
            if ledger.get(oid) != (r[4], r[3]):
                bad.append(f"order {oid} is done by oven #{r[4]} fence {r[3]}, its ledger row says {ledger.get(oid)}")
        if set(ledger) - set(done):
            bad.append(f"ledger rows for orders that are not done: {sorted(set(ledger) - set(done))[:5]}")
        accepted = Counter(int(m.group(1)) for m in re.finditer(r" done: order (\d+) ", self._log_text()))
        twice = sorted(set(oid for oid, n in accepted.items() if n > 1)
                       | set(oid for oid, n in Counter(r[0] for r in ledger_rows).items() if n > 1))
        out.completed_twice = len(twice)
        if twice:
            bad.append(f"orders whose completion was accepted more than once: {twice[:5]}")
        # the counters the status screen shows agree with the rows
        names = ("submitted", "done", "burnt", "duplicates", "refused", "requeued", "cancelled")
        tally = dict(zip(names, con.execute(f"SELECT {', '.join(f'sum({n})' for n in names)} FROM tally").fetchone()))
        refusals = con.execute("SELECT count(*) FROM refusals").fetchone()[0]
        expected = {"submitted": len(rows), "done": len(done), "burnt": sum(r[2] == "burnt" for r in rows),
                    "cancelled": sum(r[2] == "cancelled" for r in rows),
                    "refused": refusals, "duplicates": self.duplicates_sent}
        for name, want in expected.items():
            if tally[name] != want:
                bad.append(f"tally {name} = {tally[name]}, but counted {want}")
        out.refused, out.duplicates, out.requeues = refusals, tally["duplicates"], tally["requeued"]
        for order, oven_id, fence in self.expect_refusals:
            if not con.execute("SELECT 1 FROM refusals WHERE order_id = ? AND oven_id = ? AND fence = ?",
                               (order, oven_id, fence)).fetchone():
                bad.append(f"zombie oven #{oven_id}'s late completion of order {order} (fence {fence}) not refused")
        self._verify_recooks(con, rows, ledger)
        self._verify_lanes(con)
        self._verify_deaths(con)
        self._verify_hogs(con, mine)
        log = self._log_text()
        out.restarts = max(0, len(re.findall(r" started (?:oven|wide)-\d+ \(pid", log)) - self.plan.ovens)
        for needle in BAD_LOG_LINES:
            hits = [line for line in log.splitlines() if needle in line]
            if hits:
                bad.append(f"{len(hits)} oven log line(s) with {needle!r}, e.g. {hits[0][:200]}")

    def _starts(self) -> dict[int, list[tuple]]:
        """order id -> its recipe starts (fence, attempt, oven pid, fails by design, monotonic, wall), in order."""
        by_order: dict[int, list[tuple]] = {}
        text = self.starts.read_text() if self.starts.exists() else ""
        for line in text.splitlines():
            oid, fence, attempt, pid, fails, mono, wall = line.split()
            by_order.setdefault(int(oid), []).append(
                (int(fence), int(attempt), int(pid), fails == "1", float(mono), float(wall)))
        for starts in by_order.values():
            starts.sort(key=lambda s: s[4])
        return by_order

    def _killed_mid_cook(self, pid: int, begun: float, recooked: float, by_pid: dict[int, list[float]]) -> bool:
        """Whether oven ``pid`` was SIGKILLed after starting a recipe at ``begun`` (it had started no other
        since: an oven of one slot cooks one order at a time) and before the order's next start at ``recooked``.
        A wide oven starts others meanwhile on its other slots: there the kill in between is enough."""
        kills = [k for k in self.kill_times.get(pid, []) if begun - 0.5 < k < recooked]
        if not kills:
            return False
        if pid in self.wide_pids:
            return True
        later = by_pid[pid][bisect.bisect_right(by_pid[pid], begun):]
        return not later or later[0] > min(kills)

    def _verify_recooks(self, con: sqlite3.Connection, rows: list[tuple], ledger: dict[int, tuple]) -> None:
        """Every start that neither failed by design nor finished its order was cooked again: by whose doing?
        A SIGKILL of the oven holding it mid-cook, before the next start; a freeze of that oven past the
        heartbeat timeout while it held this very claim; or nothing the run did (unexplained)."""
        out, bad = self.out, self.problems
        starts = self._starts()
        by_pid: dict[int, list[float]] = {}
        for ss in starts.values():
            for s in ss:
                by_pid.setdefault(s[2], []).append(s[4])
        for times in by_pid.values():
            times.sort()
        if self.clock_dir is not None:
            out.clock_seen = sum(1 for ss in starts.values() for s in ss
                                 if abs(s[5] - s[4] - self.wall_minus_mono) >= CLOCK_STEP / 2)
        unexplained = []
        overran = self._overran_pids()
        # wide ovens the supervisor started after the chaos loop last looked (a restart while settling)
        self.wide_pids |= {int(m.group(1)) for m in re.finditer(r" started wide-\d+ \(pid (\d+)\)", self._log_text())}
        for oid, state in ((r[0], r[2]) for r in rows if r[2] in ("done", "burnt", "cancelled")):
            mine = starts.get(oid, [])
            finished = ledger.get(oid, (None, None))[1] if state == "done" else None
            if state == "done" and not any(s[0] == finished for s in mine):
                bad.append(f"order {oid} is done with fence {finished}, but no recipe start has that fence")
            whys = set()
            for i, (f, _attempt, pid, fails, begun, _wall) in enumerate(mine):
                if fails or (f == finished and not any(s[0] == f for s in mine[:i])):
                    continue  # a failure by design (retried), or the start that finished the order
                if state == "cancelled" and i == len(mine) - 1:
                    continue  # the start its cancel stopped
                recooked = mine[i + 1][4] if i + 1 < len(mine) else float("inf")
                if self._killed_mid_cook(pid, begun, recooked, by_pid):
                    whys.add("killed")
                elif (oid, f) in self.zombie_held:
                    whys.add("frozen")
                elif pid in self.wide_pids and pid in overran:
                    whys.add("handed back")
                else:
                    whys.add("unexplained")
            if "unexplained" in whys:
                out.recooked_unexplained += 1
                unexplained.append((oid, [(s[0], s[1], s[2], s[3]) for s in mine]))
            elif "killed" in whys:
                out.recooked_killed += 1
            elif "frozen" in whys:
                out.recooked_frozen += 1
            elif "handed back" in whys:
                out.recooked_handed_back += 1
        for oid, mine in unexplained[:5]:
            bad.append(f"order {oid} was cooked again for no reason the run caused; starts (fence, attempt,"
                       f" oven pid, fails by design): {mine}")

    def _overran_pids(self) -> set[int]:
        """Oven pids that exited because an in-process recipe overran its timeout (handing back what the oven's
        other slots held, mid-cook)."""
        return {int(m.group(1)) for m in re.finditer(r"\[(\d+)\] \S+: order \d+ ran over its", self._log_text())}

    def _verify_lanes(self, con: sqlite3.Connection) -> None:
        """From the data: within each customer's lane (its orders in ticket order; cancelled ones left out), no
        start of an order came before the end of the cook that finished the one before it (the accepted claim
        of a done order, the last attempt of a burnt one), and done orders committed in ticket order (ledger
        ids rise). Cooks whose end was never written (their oven was killed) bound nothing."""
        out, bad = self.out, self.problems
        starts = self._starts()
        ends: dict[tuple[int, int], float] = {}
        text = self.ends.read_text() if self.ends.exists() else ""
        for line in text.splitlines():
            oid, fence, mono = line.split()
            ends[(int(oid), int(fence))] = float(mono)
        ledger = con.execute("SELECT id, order_id, fence FROM ledger").fetchall()
        ledger_id = {oid: row for row, oid, _fence in ledger}  # ids rise in commit order
        accepted = {oid: fence for _row, oid, fence in ledger}
        lanes: dict[str, list[tuple[int, str]]] = {}
        for oid, customer, state in con.execute("SELECT id, customer, state FROM orders WHERE customer IS NOT NULL"
                                                " AND state IN ('done', 'burnt') ORDER BY id"):
            lanes.setdefault(customer, []).append((oid, state))
        for customer, lane in lanes.items():
            for (a, a_state), (b, b_state) in itertools.pairwise(lane):
                a_starts = starts.get(a, [])
                if a_state == "done":
                    end = ends.get((a, accepted.get(a, -1)))
                else:
                    end = max((ends[(a, s[0])] for s in a_starts if (a, s[0]) in ends), default=None)
                b_first = min((s[4] for s in starts.get(b, [])), default=None)
                out.lane_pairs += 1
                if end is not None and b_first is not None and b_first < end:
                    out.lane_overlaps += 1
                    if out.lane_overlaps <= 5:
                        bad.append(f"lane {customer}: order {b} started {end - b_first:.3f}s before order {a}'s"
                                   " cook ended")
                if a_state == b_state == "done" and ledger_id[b] < ledger_id[a]:
                    out.lane_out_of_order += 1
                    if out.lane_out_of_order <= 5:
                        bad.append(f"lane {customer}: order {b} completed before order {a}")

    def _verify_cancels(self, states: dict[int, str], cancelled: set[int]) -> None:
        """A queued order cancelled stays cancelled; a cooking one ends cancelled or done (it completed first); a
        finished one is left as it was; no order the run did not cancel is cancelled. Timeouts happened."""
        out, bad = self.out, self.problems
        allowed = {"cancelled": {"cancelled"}, "asked": {"cancelled", "done"}}
        for oid, answer in sorted(self.cancels.items()):
            if states.get(oid) not in allowed.get(answer, {answer}):
                bad.append(f"order {oid}: cancel answered {answer!r}, but it ended {states.get(oid)!r}")
        strays = cancelled - {oid for oid, answer in self.cancels.items() if answer in allowed}
        if strays:
            bad.append(f"orders cancelled that no one cancelled: {sorted(strays)[:5]}")
        out.cancelled = len(cancelled)
        out.cancelled_cooking = sum(1 for oid, a in self.cancels.items() if a == "asked" and oid in cancelled)
        con = sqlite3.connect(self.db)
        try:
            out.timeouts, out.timeouts_inline = con.execute(
                "SELECT count(*), coalesce(sum(o.recipe = 'chaos_timed_inline'), 0) FROM events e"
                " JOIN orders o ON o.id = e.order_id WHERE e.kind IN ('retry', 'burnt')"
                " AND e.data LIKE '%TimeoutError: timed out after%'").fetchone()
        finally:
            con.close()

    def _verify_deaths(self, con: sqlite3.Connection) -> None:
        """Every death verdict must be the run's doing: an oven incarnation alive when its process was SIGKILLed,
        or frozen past the timeout. Any other is a false death."""
        out, bad = self.out, self.problems
        dead = con.execute("SELECT id, name, pid FROM ovens WHERE state = 'dead'").fetchall()
        events = con.execute("SELECT count(*) FROM events WHERE kind = 'dead'").fetchone()[0]
        out.deaths = len(dead)
        if events != len(dead):
            bad.append(f"{len(dead)} ovens declared dead, but {events} 'dead' events")
        false = [(oven_id, name, pid) for oven_id, name, pid in dead
                 if oven_id not in self.frozen_dead | self.long_stops | self.killed_ovens]
        out.false_deaths = len(false)
        for oven_id, name, pid in false[:5]:
            bad.append(f"false death: {name} (#{oven_id}, pid {pid}) was declared dead, yet it was neither"
                       f" killed nor frozen")

    def _verify_hogs(self, con: sqlite3.Connection, mine: dict[str, tuple]) -> None:
        """Each hog done, cooked in a work horse (not in its oven), its one C call longer than the timeout."""
        out, bad = self.out, self.problems
        timeout = SETTINGS["heartbeat_timeout"]
        for key in sorted(self.hog_keys):
            oid = mine[key][0] if key in mine else None
            row = con.execute("SELECT o.result, v.pid FROM orders o JOIN ovens v ON v.id = o.oven_id"
                              " WHERE o.id = ? AND o.state = 'done'", (oid,)).fetchone()
            if row is None:
                continue  # lost or burnt: reported above
            result = json.loads(row[0])
            if result["pid"] == row[1]:
                bad.append(f"hog order {oid} was cooked in its oven's process, not in a work horse")
            elif result["call_seconds"] >= timeout:
                out.hogs += 1
            out.hog_call = max(out.hog_call, result["call_seconds"])

    def _log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def run_chaos(workdir: Path, plan: Plan | None = None, say: Callable[[str], None] = print) -> Outcome:
    """Run the chaos in ``workdir`` (a fresh directory) and return the outcome; ``problems`` empty = passed."""
    return Chaos(Path(workdir), plan or Plan(), say).run()
