"""The benchmark harness still runs: ``python -m bench --smoke`` (every workload at tiny sizes, one run each).

Its figures mean nothing; what is checked is that each workload ran to the end (drains are verified
exactly-once inside the harness), printed its row with a measured number, and the command exited 0.
The peers (huey, persist-queue, litequeue) live in the optional ``bench`` dependency group: when they are
not installed the harness skips their rows with a note, and so does this test.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from tests.support.processes import ROOT

# (workload, system, durability, prefetch, ovens) of every row the smoke run prints for kitchen itself.
DRAIN, SCALED = "drain (200)", "drain (100), recipe takes 1 ms"
KITCHEN_ROWS = [
    *[("submit one by one (200)", "kitchen Kitchen.submit", d, "-", "-") for d in ("normal", "full")],
    *[("batch submit (2,000, 1,000/call)", "kitchen Kitchen.submit_many", d, "-", "-") for d in ("normal", "full")],
    *[(DRAIN, "kitchen, 1 oven process", d, p, "1") for d in ("normal", "full") for p in ("1", "32")],
    *[(DRAIN, "kitchen, 2 oven processes", d, p, "2") for d in ("normal", "full") for p in ("1", "32")],
    *[(DRAIN, "kitchen run --burst (CLI, log level info to a file)", "normal", p, "1") for p in ("1", "32")],
    *[(SCALED, "kitchen, 1 oven process", "normal", p, "1") for p in ("1", "32")],
    *[(SCALED, "kitchen, 2 oven processes", "normal", p, "2") for p in ("1", "32")],
    *[(DRAIN, f"raw sqlite3 floor, {t}/tx", d, t, "1") for d in ("normal", "full") for t in ("1", "100")],
    *[("submit one by one (200)", "raw sqlite3 floor INSERT", d, "-", "-") for d in ("normal", "full")],
    ("submit-to-start p50 (10 orders)", "kitchen run, 2 idle ovens", "normal", "1", "2"),
    ("submit-to-start p99 (10 orders)", "kitchen run, 2 idle ovens", "normal", "1", "2"),
    ("SIGKILL -> orders requeued (1 kills)", "kitchen run, 2 ovens (timeout 2s, reap 0.5s, heartbeat 0.5s)",
     "normal", "1", "2"),
    *[(f"drain 200 with {t} in the table", "kitchen, 1 oven process", "normal", p, "1")
      for t in ("200 queued", "2,000 done + 200 queued") for p in ("1", "32")],
    ("refresh queries: status+recent_orders+ledger+events (2,000 orders)", "kitchen (fresh process)", "normal", "-",
     "-"),
    ("TUI refresh: kitchen.tui.reader.read_shop (2,000 orders)", "kitchen (fresh process)", "normal", "-", "-"),
    ("RSS after those refreshes (2,000 orders)", "kitchen (fresh process)", "normal", "-", "-"),
    ("TUI app RSS, headless, live refreshes (2,000 orders)", "kitchen TUI (create_app, run_test)", "normal", "-",
     "-"),
]
# An idle oven in a 0.5 s window may use less than one clock tick of CPU: its row may read 0.00.
IDLE_ROW = ("idle oven CPU (worst oven, 0.5s)", "kitchen run, 2 idle ovens", "normal", "1", "2")

PEERS = {  # import name -> the systems of its rows (durability is the peer's own, read back from its connection)
    "huey": ["huey SqliteStorage (default)", "huey SqliteStorage fsync=False"],
    "persistqueue": ["persist-queue SQLiteAckQueue"],
    "litequeue": ["litequeue LiteQueue"],
}


def printed_rows(stdout: str) -> dict[tuple[str, ...], float]:
    """The first Markdown table of the output: (workload, system, durability, prefetch, ovens) -> median."""
    rows: dict[tuple[str, ...], float] = {}
    lines = iter(stdout.splitlines())
    for line in lines:
        if line.startswith("| workload | system |"):
            break
    next(lines)  # |---|---|...
    for line in lines:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        median = cells[5].replace(",", "")
        rows[tuple(cells[:5])] = float(median) if median != "-" else float("nan")
    return rows


@pytest.mark.processes
@pytest.mark.slow
def test_smoke_run_prints_every_workload(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--tmp", str(tmp_path),
                          "--json", str(tmp_path / "smoke.json")],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"python -m bench --smoke exited {out.returncode}:\n{out.stderr[-4000:]}"
    rows = printed_rows(out.stdout)

    missing = [r for r in [*KITCHEN_ROWS, IDLE_ROW] if r not in rows]
    assert not missing, f"rows not printed: {missing}\nprinted: {sorted(rows)}"
    not_measured = [(r, rows[r]) for r in KITCHEN_ROWS if not rows[r] > 0]
    assert not not_measured, f"rows without a positive figure: {not_measured}"
    assert rows[IDLE_ROW] >= 0

    for module, systems in PEERS.items():
        if find_spec(module) is None:
            assert f"{module} is not installed: its rows were skipped" in out.stdout
            assert not [r for r in rows if r[1] in systems]
            continue
        for system in systems:
            submit = [v for r, v in rows.items() if r[0] == "submit one by one (200)" and r[1] == system]
            drain = [v for r, v in rows.items() if r[0] == DRAIN and r[1] == f"{system}, 1 consumer"]
            assert len(submit) == 1 and submit[0] > 0, (system, submit)
            assert len(drain) == 1 and drain[0] > 0, (system, drain)

    assert (tmp_path / "smoke.json").is_file()
    assert not list(tmp_path.glob("*/")), "the runs' fresh database directories were left behind"


@pytest.mark.processes
@pytest.mark.slow
def test_the_postgresql_bench_runs_each_kind_of_figure(tmp_path: Path) -> None:
    """``python -m bench.postgres`` at a tiny size, one configuration of each kind: ``kitchen run`` itself, the
    floor, scale-out, and a peer if one is installed; each verified inside the harness (every order done once)."""
    only = "run/1/1/warning,run/2/32/info,floor/1/1,floor/2/32,scale/1,peer/pq"
    out = subprocess.run([sys.executable, "-m", "bench.postgres", "--n", "60", "--scale-n", "40", "--repeats", "1",
                          "--only", only, "--json", str(tmp_path / "pg.json")],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"python -m bench.postgres exited {out.returncode}:\n{out.stderr[-4000:]}"
    import json

    report = json.loads((tmp_path / "pg.json").read_text())
    runs = report["runs"]
    for key in ("run/1/1/warning", "run/2/32/info", "floor/1/1", "floor/2/32", "scale/1"):
        assert runs.get(key) and runs[key][0]["rate"] > 0, (key, runs.get(key))
    if find_spec("pq") is not None:
        assert runs["peer/pq"][0]["rate"] > 0


@pytest.mark.processes
def test_the_instruction_count_s_child_fills_and_drains_on_this_tree(tmp_path: Path) -> None:
    """``bench.instructions`` runs its child under valgrind; here without it: the fill and the drain it counts."""
    db = str(tmp_path / "k.db")
    child = [sys.executable, str(ROOT / "bench" / "instructions.py"), "--child"]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    for step in (["fill", db, "50"], ["drain", db, "32"]):
        out = subprocess.run([*child, *step], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
    con = sqlite3.connect(db)
    try:
        assert con.execute("SELECT state, count(*) FROM orders GROUP BY state").fetchall() == [("done", 50)]
        assert con.execute("SELECT count(DISTINCT order_id) FROM ledger").fetchone()[0] == 50
    finally:
        con.close()
