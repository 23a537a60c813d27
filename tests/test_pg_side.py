"""bench.postgres's closing tables put each figure in its row and column: kitchen beside the floor and the peers."""

from __future__ import annotations

from bench.pg_side import side_by_side


def _runs() -> dict:
    runs: dict = {}
    for ov, base in ((1, 100.0), (2, 200.0), (4, 400.0)):
        for pf, mult in ((1, 1), (32, 10)):
            runs[f"floor/{ov}/{pf}"] = [{"rate": base * mult, "cpu_ms_per_order": 0.25}]
            for level in ("warning", "info"):
                runs[f"run/{ov}/{pf}/{level}"] = [{"rate": base * mult / 2, "steady": base * mult,
                                                   "all_cooking": base * mult * 0.9, "cpu_ms_per_order": 0.5},
                                                  {"rate": base * mult / 4, "steady": base * mult,
                                                   "all_cooking": float("nan"), "cpu_ms_per_order": 0.7}]
    runs["peer/pgqueuer-b1"] = [{"rate": 77.0, "cpu_ms_per_order": 0.9}]
    runs["peer/pq"] = [{"rate": 88.0}]
    return runs


def test_side_by_side_rows_and_columns() -> None:
    lines = side_by_side(_runs(), 1000, ["pgqueuer-b1", "pq"])
    text = "\n".join(lines)
    assert "| floor: plain psycopg, kitchen's SQL | 100 (0.25 ms) | 1,000 (0.25 ms) |" in lines
    # medians of the rounds: start -> done (50 and 25 at prefetch 1) -> 38, CPU 0.60
    assert "| `kitchen run`, log warning: start → all done | 38 (0.60 ms) | 375 (0.60 ms) |" in lines
    assert "| pgqueuer | 77 (0.90 ms) | - |" in lines and "| pq | 88 | - |" in lines
    assert "procrastinate" not in text, "a peer that did not run has no row"
    assert "| floor, prefetch 1 / 32 | 100 / 1,000 | 200 / 2,000 | 400 / 4,000 |" in lines
    assert "| `kitchen run`, steady, prefetch 32 | 1,000 (1.00) | 2,000 (1.00) | 4,000 (1.00) |" in lines
    assert "| `kitchen run`, all ovens cooking, prefetch 1 | 90 (0.90) | 180 (0.90) | 360 (0.90) |" in lines
