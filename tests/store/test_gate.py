"""The SQLite write gate: an urgent writer (a heartbeat) goes before the other writers of its process, and a
stop of the waiting process is not counted as waiting."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kitchen import Kitchen
from kitchen.core.clock import Deadline
from kitchen.store.gate import WriteGate
from tests.support.processes import child_env, state, stopped
from tests.support.waiting import wait_for


def test_a_heartbeat_waiting_for_the_gate_goes_before_the_process_s_other_writers(tmp_path: Path) -> None:
    gate = WriteGate(str(tmp_path / "k.db"))
    assert gate.acquire(5.0)  # a cook's write holds the gate
    order: list[str] = []

    def writer(name: str, urgent: bool) -> None:
        assert gate.acquire(10.0, urgent)
        order.append(name)
        gate.release()

    heartbeat = threading.Thread(target=writer, args=("heartbeat", True))
    heartbeat.start()
    wait_for(lambda: gate._urgent == 1, what="the heartbeat queued")
    cooks = [threading.Thread(target=writer, args=(f"cook-{i}", False)) for i in range(3)]
    for t in cooks:
        t.start()
    gate.release()
    for t in [heartbeat, *cooks]:
        t.join(10)
    assert order[0] == "heartbeat" and sorted(order[1:]) == ["cook-0", "cook-1", "cook-2"]


def test_a_writer_gives_up_at_its_deadline_while_a_heartbeat_is_queued(tmp_path: Path) -> None:
    gate = WriteGate(str(tmp_path / "k.db"))
    gate._urgent = 1  # a heartbeat of this process waits (it never gets its turn here)
    assert gate.acquire(0.05) is False, "bounded by its own deadline, never waits forever"
    gate._urgent = 0
    assert gate.acquire(0.05) is True
    gate.release()


def test_a_deadline_does_not_count_a_stop_of_its_own_process() -> None:
    now = [100.0]
    deadline = Deadline(1.0, monotonic=lambda: now[0])
    now[0] += 0.3  # ordinary time between two looks: counted
    assert 0.69 < deadline.left() < 0.71
    deadline.allow(0.05)
    now[0] += 5.0  # a wait announced as 0.05 s took 5 s: the process was stopped; only the 0.05 s counts
    assert not deadline.expired() and 0.64 < deadline.left() < 0.66
    now[0] += 3.0  # stopped between two looks, in no announced wait: not counted either
    assert 0.64 < deadline.left() < 0.66
    for _ in range(7):  # then the rest of the time passes, in the short steps of a running process
        now[0] += 0.1
        deadline.expired()
    assert deadline.expired()


WAITER = """
import sys, threading
from kitchen.store.gate import WriteGate
gate = WriteGate(sys.argv[1])
assert gate.acquire(5)  # a sibling thread's write holds the gate
def let_go():
    sys.stdin.readline()
    gate.release()
threading.Thread(target=let_go, daemon=True).start()
print("waiting", flush=True)
print("taken" if gate.acquire(1.0) else "gave up", flush=True)
"""


@pytest.mark.processes
def test_a_writer_stopped_while_it_waits_for_the_gate_still_gets_it(tmp_path: Path) -> None:
    """A frozen oven (SIGSTOP) whose slot waited for a sibling's write must not, once continued, report the
    database "stayed locked by another process" because its deadline went by while it stood still."""
    proc = subprocess.Popen([sys.executable, "-c", WAITER, str(tmp_path / "k.db")], env=child_env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().strip() == "waiting"
        wait_for(lambda: state(proc.pid, proc.pid) == "S", what="the writer waiting for the gate")
        proc.send_signal(signal.SIGSTOP)
        wait_for(lambda: stopped(proc.pid), what="the writer stopped")
        time.sleep(1.5)  # the fault itself: stopped for longer than the writer's 1 s deadline
        proc.stdin.write("go\n")
        proc.stdin.flush()
        proc.send_signal(signal.SIGCONT)
        assert proc.stdout.readline().strip() == "taken"
    finally:
        proc.kill()
        proc.wait()


def test_closing_a_kitchen_closes_its_gate_file(tmp_path: Path) -> None:
    """Opening and closing a SQLite kitchen leaves no descriptor behind (each left its <db>-lock open)."""
    db = str(tmp_path / "k.db")
    Kitchen.open(db).close()
    before = len(list(Path("/proc/self/fd").iterdir()))
    for _ in range(20):
        Kitchen.open(db).close()
    assert len(list(Path("/proc/self/fd").iterdir())) <= before


def test_closing_the_gate_waits_for_the_writer_holding_it(tmp_path: Path) -> None:
    gate = WriteGate(str(tmp_path / "k.db"))
    assert gate.acquire(5.0)
    closed = threading.Event()
    closer = threading.Thread(target=lambda: (gate.close(), closed.set()))
    closer.start()
    assert not closed.wait(0.2), "closed under a writer holding the gate"
    gate.release()
    assert closed.wait(10)
    assert gate.acquire(1.0), "a closed gate lets a late writer through (SQLite's busy timeout still applies)"
    gate.release()


def test_one_thread_closing_its_connection_leaves_the_gate_to_the_others(tmp_path: Path) -> None:
    """``release_thread`` (the TUI's worker threads, an oven's finished slot) closes one connection; every
    other thread's writes still go through the gate, heartbeats first."""
    kitchen = Kitchen.open(str(tmp_path / "k.db"))
    try:
        gate = kitchen.store.dialect.gate
        assert gate is not None
        worker = threading.Thread(target=kitchen.release_thread)
        worker.start()
        worker.join(10)
        assert kitchen.store.dialect.gate is gate and gate._fd is not None
        kitchen.submit("margherita")  # still written, through the gate
    finally:
        kitchen.close()
    assert kitchen.store.dialect.gate is None
