"""Periodic orders with real ovens: one order per slot, none missing, none twice.

Three real ``kitchen run`` processes (two with ``KITCHEN_HOST=h1``, one with ``KITCHEN_HOST=h2``) share one
fresh database (a SQLite file in a temporary folder, or with ``--pg`` a fresh schema, dropped after) whose
kitchen.ini has ``[schedule] noop = every S s``: every oven looks once a second and may fire each slot. After
M minutes the ovens get SIGTERM, and the orders table is read back:

* **expected slots**: every slot that came while all three ovens were up: from the first slot at or after the
  moment the third oven was alive in the database, to the last slot that came at least ``MARGIN`` seconds
  (an oven looks once a second) before the SIGTERM;
* **orders** of ``noop`` and their **distinct slots** (payload ``slot``, and the dedup key ``noop@slot``,
  which must match it); slots outside the window (the start-up slot) are counted, never an error;
* **missing**: expected slots with no order; **doubled**: slots (anywhere) with more than one order.

    .venv/bin/python -m bench.periodic --minutes 10 --every 10          # SQLite
    .venv/bin/python -m bench.periodic --minutes 10 --every 10 --pg     # PostgreSQL (a fresh schema)

Prints one summary line (``periodic <engine>: ...``); exits 1 if a slot is missing or doubled (or an oven did
not run to the end and exit 0), 0 otherwise. Nothing is written to RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from kitchen import Kitchen
from kitchen.ovens.procs import die_with_parent
from kitchen.protocol.periodic import slot_key

ROOT = Path(__file__).resolve().parent.parent
PG = "postgresql://postgres@127.0.0.1:5432/test"
RECIPE = "noop"
OVENS = (("p1", "h1"), ("p2", "h1"), ("p3", "h2"))  # (oven name, KITCHEN_HOST)
MARGIN = 2.0  # seconds: a slot that came this long before the SIGTERM must have been fired
JOIN_TIMEOUT = 60.0


def kitchen_command() -> list[str]:
    """``.venv/bin/kitchen`` beside this interpreter (the console script), else ``python -m kitchen``."""
    script = Path(sys.executable).parent / "kitchen"
    return [str(script)] if script.exists() else [sys.executable, "-m", "kitchen"]


def hhmmss(t: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(t))


def query(k: Kitchen, sql: str) -> list[tuple]:
    def tx(cur: Any) -> list[tuple]:
        cur.execute(sql)
        return [tuple(r) for r in cur.fetchall()]

    return k.store.read(tx)


def alive(k: Kitchen) -> int:
    return sum(1 for o in k.status().ovens if o.state == "alive")


def tally(orders: list[tuple], ready: float, stop: float, every: float) -> dict[str, Any]:
    """What the orders ``(id, dedup_key, payload, state)`` say about the slots between ``ready`` (all ovens up)
    and ``stop`` (the SIGTERM), on the shared clock."""
    slots = Counter(round(json.loads(payload)["slot"], 3) for _, _, payload, _ in orders)
    keys = Counter(key for _, key, _, _ in orders)
    first = math.ceil(ready / every) * every
    last = math.floor((stop - MARGIN) / every) * every
    expected = [round(first + i * every, 3) for i in range(round((last - first) / every) + 1)] if last >= first else []
    window = set(expected)
    return {
        "slots": slots,
        "expected": expected,
        "missing": [s for s in expected if s not in slots],
        "doubled": sorted(s for s, n in slots.items() if n > 1) + sorted(key for key, n in keys.items() if n > 1),
        "outside": sum(n for s, n in slots.items() if s not in window),
        "wrong_keys": sum(1 for _, key, payload, _ in orders
                          if key != slot_key(RECIPE, json.loads(payload)["slot"])),
        "off_grid": sum(1 for s in slots if abs(s / every - round(s / every)) > 1e-6),
        "not_done": Counter(state for *_, state in orders if state != "done"),
    }


def run(minutes: float, every: float, pg: str | None, keep: bool) -> int:
    engine = "postgresql" if pg else "sqlite"
    with tempfile.TemporaryDirectory(prefix="kitchen-periodic-") as tmp:
        folder = Path(tmp)
        schema = None
        if pg:
            import psycopg

            schema = f"bench_periodic_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(pg, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            url = f"{pg}?schema={schema}"
        else:
            url = str(folder / "kitchen.db")
        ini = folder / "kitchen.ini"
        ini.write_text(f"[kitchen]\ndatabase = {url}\n\n[schedule]\n{RECIPE} = every {every:g}s\n")
        procs: list[subprocess.Popen] = []
        logs: list[Path] = []
        k = None
        try:
            k = Kitchen.open(url)  # creates the schema before the ovens race to
            base = {name: value for name, value in os.environ.items() if not name.startswith("KITCHEN_")}
            for name, host in OVENS:
                env = {**base, "KITCHEN_DB": url, "KITCHEN_HOST": host, "KITCHEN_CONFIG": str(ini)}
                log = folder / f"{name}.log"
                logs.append(log)
                with open(log, "ab") as out:
                    procs.append(subprocess.Popen([*kitchen_command(), "run", "--name", name, "--log-level", "info"],
                                                  cwd=folder, env=env, stdout=out, stderr=out,
                                                  preexec_fn=die_with_parent()))  # no orphan ovens
            deadline = time.monotonic() + JOIN_TIMEOUT
            while alive(k) < len(OVENS):
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    for log in logs:
                        print(f"--- {log.name}:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:]))
                    raise SystemExit(f"periodic {engine}: the ovens did not all join"
                                     f" (exit codes {[p.poll() for p in procs]})")
                time.sleep(0.2)
            ready = k.clock()
            print(f"periodic {engine}: 3 ovens up at {hhmmss(ready)} UTC ({', '.join(f'{n}@{h}' for n, h in OVENS)}),"
                  f" {RECIPE} every {every:g}s, running {minutes:g} min", flush=True)
            end = time.monotonic() + minutes * 60
            next_note = time.monotonic() + 60
            while (now := time.monotonic()) < end and all(p.poll() is None for p in procs):
                time.sleep(max(0.0, min(end, next_note) - now))
                if time.monotonic() >= next_note:
                    count = query(k, f"SELECT count(*) FROM orders WHERE recipe = '{RECIPE}'")[0][0]
                    print(f"  {hhmmss(k.clock())} UTC  {count} {RECIPE} orders so far", flush=True)
                    next_note += 60
            early = [p.poll() for p in procs]
            stop = k.clock()
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            codes = []
            for p in procs:
                try:
                    codes.append(p.wait(30))
                except subprocess.TimeoutExpired:
                    p.kill()
                    codes.append(f"killed ({p.wait()})")
            orders = query(k, f"SELECT id, dedup_key, payload, state FROM orders WHERE recipe = '{RECIPE}' ORDER BY id")
            cooked = Counter(host for (host,) in query(
                k, f"SELECT v.host FROM ledger l JOIN orders o ON o.id = l.order_id JOIN ovens v ON v.id = l.oven_id"
                   f" WHERE o.recipe = '{RECIPE}'"))
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            if k is not None:
                k.close()
            if schema:
                import psycopg

                with psycopg.connect(pg, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        fired = {name: log.read_text(errors="replace").count(f"scheduled {RECIPE}:") for (name, _), log in
                 zip(OVENS, logs, strict=True)}
        if keep:
            keep_to = Path(tempfile.mkdtemp(prefix="kitchen-periodic-logs-"))
            for log in logs:
                (keep_to / log.name).write_bytes(log.read_bytes())
            print(f"  oven logs kept in {keep_to}", flush=True)

    c = tally(orders, ready, stop, every)
    expected, missing, doubled = c["expected"], c["missing"], c["doubled"]
    outside, wrong_keys, off_grid, not_done = c["outside"], c["wrong_keys"], c["off_grid"], c["not_done"]
    slots = c["slots"]
    ovens_ok = all(c is None for c in early) and all(c == 0 for c in codes)
    ok = not missing and not doubled and not wrong_keys and not off_grid and ovens_ok
    span = f"{hhmmss(expected[0])}..{hhmmss(expected[-1])} UTC" if expected else "none"
    print(f"periodic {engine}: every {every:g}s for {minutes:g} min, 3 ovens (2 on h1, 1 on h2):"
          f" expected slots {len(expected)} ({span}), orders {len(orders)} ({outside} outside the window),"
          f" distinct slots {len(slots)}, missing {len(missing)}, doubled {len(doubled)},"
          f" key!=slot {wrong_keys}, off-grid {off_grid};"
          f" fired by {'/'.join(OVENS[i][0] for i in range(len(OVENS)))} {'/'.join(str(fired[n]) for n, _ in OVENS)},"
          f" cooked on h1/h2 {cooked.get('h1', 0)}/{cooked.get('h2', 0)},"
          f" not done {dict(not_done) or 0}, oven exits {codes} -> {'OK' if ok else 'FAIL'}", flush=True)
    if missing:
        print(f"  missing slots: {', '.join(hhmmss(s) for s in missing[:20])}", flush=True)
    if doubled:
        print(f"  doubled: {', '.join(hhmmss(s) if isinstance(s, float | int) else str(s) for s in doubled[:20])}",
              flush=True)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.periodic", description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=2.0, help="how long the three ovens run (default 2)")
    p.add_argument("--every", type=float, default=10.0, help="seconds between slots (default 10)")
    p.add_argument("--pg", nargs="?", const=PG, default=None, metavar="URL",
                   help=f"PostgreSQL instead of SQLite: a fresh schema on URL (default {PG}), dropped after")
    p.add_argument("--keep-logs", action="store_true", help="copy the ovens' logs to a folder that stays")
    a = p.parse_args(argv)
    if a.minutes <= 0 or a.every <= 0:
        p.error("--minutes and --every must be positive")
    return run(a.minutes, a.every, a.pg, a.keep_logs)


if __name__ == "__main__":
    raise SystemExit(main())
