"""The SQLite write gate: an urgent writer (a heartbeat) goes before the other writers of its process."""

from __future__ import annotations

import threading
from pathlib import Path

from kitchen.store.gate import WriteGate
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
