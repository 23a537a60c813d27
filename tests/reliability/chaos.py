"""The chaos run: ovens as real processes under ``kitchen run --ovens N``, random SIGKILLs (the supervisor
restarts them), SIGSTOP/SIGCONT zombies, a producer SIGKILLed inside a big transaction — then every promise
checked from the database itself, not from what the processes say.

``run_chaos(workdir, Plan(...))`` is shared by tests/reliability/test_chaos.py (bounded) and scripts/soak.py
(as long as asked). Which orders must burn is known in advance (chaos_recipes: ``doomed`` payloads); anything
else that burns, goes missing or completes twice is a problem. The outcome is deterministic; only timing and
the counts of kills, requeues and refusals vary.
"""

from __future__ import annotations

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

from tests.support.processes import child_env, children_of, running, send, stopped
from tests.support.waiting import poll

RECIPES = "tests.reliability.chaos_recipes"
SUBMITTER = "tests.reliability.chaos_submitter"

# max_attempts 8: an order that must not burn would need its oven killed or frozen on 8 claims in a row (about
# 1e-7 even for the slowest orders); flaky orders need at most 4 attempts, doomed ones burn after 8 failures.
SETTINGS = {"heartbeat_interval": 0.2, "heartbeat_timeout": 1.0, "reap_interval": 0.2, "lease": 30,
            "max_attempts": 8, "backoff_base": 0.05, "backoff_max": 0.2, "poll_interval": 0.2, "grace": 5,
            "busy_timeout": 5}
# Writer, checkpointer and recovery locks of a WAL database live on these bytes of its -shm file.
SHM_EXCLUSIVE_BYTES = range(120, 123)
BAD_LOG_LINES = ("database is locked", "Traceback", "stayed locked", "internal error", "kitchen: error")


@dataclass
class Plan:
    """How much chaos: ``orders`` unique orders submitted over ``submit_seconds``, kills every ~``kill_every``."""

    orders: int = 2000
    submit_seconds: float = 8.0
    duplicate_share: float = 0.10
    ovens: int = 4
    kill_every: float = 0.5
    freezes: int = 3
    killed_batches: int = 1
    killed_batch_size: int = 4000
    tail_chaos: float = 4.0
    settle_timeout: float = 90.0
    seed: int = 7


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
    cooked_twice: int = 0
    killed_batches: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"chaos: orders={self.orders} done={self.done} burnt={self.burnt} (expected {self.expected_burnt})"
                f" kills={self.kills} restarts={self.restarts} freezes={self.freezes}"
                f" (holding an order: {self.freezes_holding}) requeues={self.requeues}"
                f" refused_completions={self.refused} duplicates_absorbed={self.duplicates}"
                f" killed_batches={','.join(self.killed_batches) or '-'} lost={self.lost}"
                f" cooked_twice={self.cooked_twice} problems={len(self.problems)} elapsed={self.elapsed:.1f}s")


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
    """The unique orders, each with a behaviour fixed by its payload (see chaos_recipes)."""
    specs = []
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
        self.log = workdir / "ovens.log"
        self.env = child_env()
        self.kitchen = Kitchen.open(settings=load_settings(config=str(self.ini), database=str(self.db), env={}))
        self.rng = random.Random(plan.seed)
        self.out = Outcome()
        self.supervisor: subprocess.Popen | None = None
        self.seen_children: set[int] = set()
        self.frozen: dict[int, dict] = {}  # pid -> {oven_id, order, fence, since}
        self.protected: dict[int, tuple[int, int, int, float]] = {}  # thawed zombie pid -> (order, oven, fence, t)
        self.expect_refusals: list[tuple[int, int, int]] = []
        self.submitters: list[tuple[subprocess.Popen, str]] = []
        self.tickets: dict[str, int] = {}
        self.sent: set[str] = set()
        self.duplicates_sent = 0
        self.problems = self.out.problems
        self.con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30, isolation_level=None)

    # -- processes ---------------------------------------------------------------------------------------

    def start_ovens(self) -> None:
        cmd = [sys.executable, "-m", "kitchen", "--config", str(self.ini), "--db", str(self.db), "run",
               "--ovens", str(self.plan.ovens), "--name", "oven", "--recipes", RECIPES]
        with open(self.log, "ab") as log:
            self.supervisor = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                               env=self.env, cwd=self.dir, start_new_session=True)

    def ovens(self) -> set[int]:
        pids = children_of(self.supervisor.pid)
        self.seen_children |= pids
        return pids

    def kill_one(self) -> None:
        victims = sorted(self.ovens() - set(self.frozen) - set(self.protected))
        if victims:
            try:
                os.kill(self.rng.choice(victims), signal.SIGKILL)
                self.out.kills += 1
            except ProcessLookupError:
                pass

    def freeze_one(self) -> bool:
        """SIGSTOP an oven that is cooking; thaw at once (and try again) unless it stopped holding an order and
        not the write lock: a stopped SQLite writer blocks every process, the reaper included, by design."""
        live = self.ovens() - set(self.frozen) - set(self.protected)
        rows = self.con.execute("SELECT id, pid FROM ovens WHERE state = 'alive' AND id IN"
                                " (SELECT oven_id FROM orders WHERE state = 'cooking')").fetchall()
        rows = [(oven_id, pid) for oven_id, pid in rows if pid in live]
        if not rows:
            return False
        oven_id, pid = self.rng.choice(rows)
        os.kill(pid, signal.SIGSTOP)
        # SIGSTOP lands asynchronously: until each of its threads has stopped the oven may still take a lock
        poll(lambda: stopped(pid), 5, interval=0.001)
        held = self.con.execute("SELECT id, fence FROM orders WHERE state = 'cooking' AND oven_id = ?",
                                (oven_id,)).fetchall()
        if not held or holds_write_lock(pid, self.db):
            os.kill(pid, signal.SIGCONT)  # it finished its order meanwhile, or would block every writer
            self.out.freeze_retries += 1
            return False
        self.frozen[pid] = {"oven_id": oven_id, "held": held, "since": time.monotonic()}
        self.out.freezes += 1
        return True

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
            if not stuck:
                self.out.freezes_holding += 1
                order, fence = f["held"][0]
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
        sub = {"proc": proc, "prefix": prefix, "killed": False}
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
        row = self.con.execute("SELECT sum(submitted) - sum(done) - sum(burnt) FROM tally").fetchone()
        return int(row[0] or 0)

    def run(self) -> Outcome:
        plan, rng, out = self.plan, self.rng, self.out
        specs = order_specs(plan, rng)
        self.doomed = {s["key"] for s in specs if s["payload"].get("doomed")}
        chunks = submission_chunks(specs, plan, rng)
        step = plan.submit_seconds / len(chunks)
        freeze_at = [plan.submit_seconds * (i + 1) / (plan.freezes + 1) for i in range(plan.freezes)]
        batch_at = [plan.submit_seconds * (i + 0.4) / plan.killed_batches for i in range(plan.killed_batches)]
        self.start_ovens()
        t0 = time.monotonic()
        next_kill, next_look, next_report = t0 + 1.0, t0, t0 + 30
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
                if freeze_at and now >= freeze_at[0] and self.freeze_one():
                    freeze_at.pop(0)
                if time.monotonic() >= next_look:
                    next_look = time.monotonic() + 0.1
                    self.thaw_dead()
                    self.release_protected()
                    chaos_over = (sent == len(chunks) and not batch_at and not freeze_at and not self.frozen
                                  and not any(s["thread"].is_alive() for s in self.submitters)
                                  and (now > plan.submit_seconds + plan.tail_chaos or self.outstanding() == 0))
                if not chaos_over and time.monotonic() >= next_kill:
                    self.kill_one()
                    next_kill = time.monotonic() + plan.kill_every * rng.uniform(0.6, 1.4)
                if time.monotonic() >= next_report:
                    next_report += 30
                    self.say(f"  t={now:.0f}s submitted {sent}/{len(chunks)} chunks, outstanding {self.outstanding()},"
                             f" kills {out.kills}, freezes {out.freezes}")
                if now > plan.submit_seconds + plan.tail_chaos + 60:
                    self.problems.append("chaos phase did not wind down (a freeze or producer never resolved)")
                    break
                time.sleep(0.02)
            self.settle()
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
        """SIGTERM the supervisor: it drains every oven; all of them must be gone afterwards."""
        sup = self.supervisor
        self.ovens()
        sup.send_signal(signal.SIGTERM)
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
        for sub in self.submitters:
            if sub["proc"].poll() is None:
                sub["proc"].kill()
            sub["proc"].wait()
        if self.supervisor and self.supervisor.poll() is None:
            self.supervisor.kill()
            self.supervisor.wait()
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
        unfinished = sorted(k for k, r in mine.items() if r[2] not in ("done", "burnt"))
        out.orders, out.lost = len(mine), len(missing) + len(unfinished)
        if out.lost:
            bad.append(f"lost: {len(missing)} missing, {len(unfinished)} not done or burnt "
                       f"(e.g. {missing[:3]} {unfinished[:3]})")
        for key, number in self.tickets.items():
            if key in mine and mine[key][0] != number:
                bad.append(f"ticket for {key} was {number}, the database says {mine[key][0]}")
        burnt = {k for k, r in mine.items() if r[2] == "burnt"}
        out.done, out.burnt, out.expected_burnt = len(mine) - len(burnt) - len(unfinished), len(burnt), len(self.doomed)
        for key in sorted(burnt - self.doomed)[:5]:
            bad.append(f"{key} (order {mine[key][0]}) burnt unexpectedly: {mine[key][5]}")
        for key in sorted(self.doomed - burnt)[:5]:
            bad.append(f"{key} should have burnt but is {by_key.get(key, ('', '', 'missing'))[2]}")
        # exactly one ledger row per done order, naming the claim (oven incarnation, fence) that finished it
        ledger = {oid: (oven, fence) for oid, oven, fence in con.execute("SELECT order_id, oven_id, fence FROM ledger")}
        done = {r[0]: r for r in rows if r[2] == "done"}
        for oid, r in done.items():
            if ledger.get(oid) != (r[4], r[3]):
                bad.append(f"order {oid} is done by oven #{r[4]} fence {r[3]}, its ledger row says {ledger.get(oid)}")
        if set(ledger) - set(done):
            bad.append(f"ledger rows for orders that are not done: {sorted(set(ledger) - set(done))[:5]}")
        accepted = Counter(int(m.group(1)) for m in re.finditer(r" done: order (\d+) ", self._log_text()))
        twice = sorted(oid for oid, n in accepted.items() if n > 1)
        out.cooked_twice = len(twice)
        if twice:
            bad.append(f"orders whose completion was accepted more than once: {twice[:5]}")
        # the counters the status screen shows agree with the rows
        names = ("submitted", "done", "burnt", "duplicates", "refused", "requeued")
        tally = dict(zip(names, con.execute(f"SELECT {', '.join(f'sum({n})' for n in names)} FROM tally").fetchone()))
        refusals = con.execute("SELECT count(*) FROM refusals").fetchone()[0]
        expected = {"submitted": len(rows), "done": len(done), "burnt": sum(r[2] == "burnt" for r in rows),
                    "refused": refusals, "duplicates": self.duplicates_sent}
        for name, want in expected.items():
            if tally[name] != want:
                bad.append(f"tally {name} = {tally[name]}, but counted {want}")
        out.refused, out.duplicates, out.requeues = refusals, tally["duplicates"], tally["requeued"]
        for order, oven_id, fence in self.expect_refusals:
            if not con.execute("SELECT 1 FROM refusals WHERE order_id = ? AND oven_id = ? AND fence = ?",
                               (order, oven_id, fence)).fetchone():
                bad.append(f"zombie oven #{oven_id}'s late completion of order {order} (fence {fence}) not refused")
        log = self._log_text()
        out.restarts = max(0, len(re.findall(r" started oven-\d+ \(pid", log)) - self.plan.ovens)
        for needle in BAD_LOG_LINES:
            hits = [line for line in log.splitlines() if needle in line]
            if hits:
                bad.append(f"{len(hits)} oven log line(s) with {needle!r}, e.g. {hits[0][:200]}")

    def _log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def run_chaos(workdir: Path, plan: Plan | None = None, say: Callable[[str], None] = print) -> Outcome:
    """Run the chaos in ``workdir`` (a fresh directory) and return the outcome; ``problems`` empty = passed."""
    return Chaos(Path(workdir), plan or Plan(), say).run()
