"""Nothing lost, nothing cooked twice: 2,000 orders through 4 oven processes that keep being SIGKILLed,
frozen past their heartbeat timeout and thawed as zombies, with a producer killed inside its transaction.

The core lives in chaos.py (``scripts/soak.py --minutes N`` runs the same chaos for longer).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.reliability.chaos import Plan, run_chaos

pytestmark = [pytest.mark.processes, pytest.mark.slow]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the chaos run reads /proc")
def test_chaos_nothing_lost_nothing_cooked_twice(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    notes: list[str] = []
    out = run_chaos(tmp_path, Plan(orders=2000, submit_seconds=10.0), say=notes.append)
    summary = out.summary()
    (tmp_path / "summary.txt").write_text(summary + "\n")
    with capsys.disabled():
        print(f"\n{summary}")
    assert not out.problems, "\n".join([summary, *notes, *out.problems])
    assert out.orders == 2000 and out.lost == 0 and out.cooked_twice == 0
    assert out.done + out.burnt == 2000 and out.burnt == out.expected_burnt > 0
    assert out.duplicates == 200, "10% of the keys were sent twice; each second send absorbed"
    assert out.killed_batches == ["absent"], "the producer died before COMMIT: none of its batch may exist"
    assert out.kills >= 10 and out.freezes == 3
    assert out.freezes_holding == 3 and out.refused >= 3, "each zombie's late completion was refused"
    assert out.requeues > 0
