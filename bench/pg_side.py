"""The two side-by-side tables ``python -m bench.postgres`` ends with: one worker beside the peers, one at a time
and batched (orders/s and client CPU per order), and ``kitchen run`` at 1, 2 and 4 ovens beside the floor (the
shape of the README's PostgreSQL table). Medians of the rounds; "-" where a figure was not run."""

from __future__ import annotations

import statistics
from typing import Any

LEVEL = "warning"  # the README's figures: ovens logging warnings only (info adds a line per order, to a file)


def _med(runs: dict[str, list[dict[str, Any]]], key: str, field: str) -> float | None:
    vals = [r[field] for r in runs.get(key, []) if field in r and r[field] == r[field]]
    return statistics.median(vals) if vals else None


def _cell(runs: dict[str, list[dict[str, Any]]], key: str, field: str = "rate", cpu: bool = True) -> str:
    rate = _med(runs, key, field)
    if rate is None:
        return "-"
    ms = _med(runs, key, "cpu_ms_per_order") if cpu else None
    return f"{rate:,.0f}" + (f" ({ms:.2f} ms)" if ms is not None else "")


def side_by_side(runs: dict[str, list[dict[str, Any]]], n: int, peers: list[str]) -> list[str]:
    lines = [f"One worker, {n:,} no-op orders: orders/s (client CPU per order; kitchen run's includes its start-up)",
             "", "| 1 worker / 1 oven | one at a time (prefetch / batch 1) | batched (prefetch 32 / batch 10) |",
             "|---|---:|---:|",
             f"| floor: plain psycopg, kitchen's SQL | {_cell(runs, 'floor/1/1')} | {_cell(runs, 'floor/1/32')} |"]
    for level in (LEVEL, "info"):
        for field, what in (("rate", "start → all done"), ("steady", "steady (1st → last completion)")):
            cpu = field == "rate"
            lines.append(f"| `kitchen run`, log {level}: {what} | {_cell(runs, f'run/1/1/{level}', field, cpu)}"
                         f" | {_cell(runs, f'run/1/32/{level}', field, cpu)} |")
    names = {"pgqueuer": ("pgqueuer-b1", "pgqueuer"), "pq": ("pq", None), "procrastinate": ("procrastinate", None)}
    for label, (one, batched) in names.items():
        if one in peers or batched in peers:
            lines.append(f"| {label} | {_cell(runs, f'peer/{one}') if one in peers else '-'} | "
                         f"{_cell(runs, f'peer/{batched}') if batched in peers else '-'} |")
    lines += ["", f"`kitchen run --log-level {LEVEL}` at 1, 2 and 4 ovens: orders/s (vs the floor, as many processes)",
              "", "| PostgreSQL drain | 1 oven | 2 ovens | 4 ovens |", "|---|---:|---:|---:|"]
    ovens = (1, 2, 4)

    def row(title: str, key: str, field: str, pf: int) -> str:
        cells = []
        for ov in ovens:
            got, floor = _med(runs, key.format(ov=ov), field), _med(runs, f"floor/{ov}/{pf}", "rate")
            cells.append("-" if got is None else f"{got:,.0f}" + (f" ({got / floor:.2f})" if floor else ""))
        return f"| {title} | {' | '.join(cells)} |"

    floors = [f"{_cell(runs, f'floor/{ov}/1', cpu=False)} / {_cell(runs, f'floor/{ov}/32', cpu=False)}" for ov in ovens]
    lines.append(f"| floor, prefetch 1 / 32 | {' | '.join(floors)} |")
    for pf in (1, 32):
        lines.append(row(f"`kitchen run`, start → all done, prefetch {pf}", f"run/{{ov}}/{pf}/{LEVEL}", "rate", pf))
    for pf in (1, 32):
        lines.append(row(f"`kitchen run`, steady, prefetch {pf}", f"run/{{ov}}/{pf}/{LEVEL}", "steady", pf))
    for pf in (1, 32):  # at 1 oven, the same as steady
        lines.append(row(f"`kitchen run`, all ovens cooking, prefetch {pf}", f"run/{{ov}}/{pf}/{LEVEL}", "all_cooking",
                         pf))
    return lines
