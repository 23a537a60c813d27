"""Make the version-1 upgrade fixtures with the REAL first release (commit 3c219b4), never by hand.

    .venv/bin/python tests/store/make_v1_fixtures.py                 # both fixtures
    .venv/bin/python tests/store/make_v1_fixtures.py --sqlite-only   # no PostgreSQL at hand
    KITCHEN_TEST_PG=postgresql://user@host:5432/db .venv/bin/python tests/store/make_v1_fixtures.py

What it does, step by step:

1. ``git worktree add --detach <tmp>/v1 3c219b4``: the previous release's code, untouched (removed at the end).
2. Runs ``scenario()`` below in a child Python with ``PYTHONPATH=<tmp>/v1`` (the child checks that
   ``import kitchen`` really is the old release) against a new SQLite file, then a new PostgreSQL schema.
   The scenario uses only the old API (``kitchen.engine.Kitchen.open``, ``submit``, ``join`` -> Oven with
   ``claim``/``complete``/``fail``/``release``, ``reap``) on a FrozenClock, with fixed customers, hosts and
   pids, so both databases hold the same story:

   * 16 buckets (not the default 64: an upgrade must keep the database's own count);
   * orders queued (keyed and keyless), one delayed an hour, one cooking (oven-a holds it), done ones with
     JSON results, one burnt (a failure without retry), one waiting to retry, one released by hand;
   * a duplicate submission of a key, dedup keys on several orders;
   * two ovens: oven-b cooks one order, claims three more and goes silent; the reaper declares it dead
     (heartbeat_timeout 5s, clock moved 6s), requeues its three orders and moves its buckets to oven-a;
   * oven-b's late (zombie) completions of those three are refused: one already done again by oven-a, one
     being re-cooked by oven-a, one taken back to the queue; and one of an order that never existed;
   * events of every kind this produces (join, moved, dead, requeue, refused, retry, burnt, released),
     ledger rows from both ovens, and the tally counters for all of it.
3. SQLite: checkpoint and VACUUM, then ``tests/store/fixtures/v1.sqlite`` (a few tens of KB).
   PostgreSQL: ``pg_dump --schema=NAME --no-owner --no-privileges --column-inserts`` (plain SQL that a
   driver can run, no COPY blocks), psql-only ``\\restrict``/``\\unrestrict`` lines dropped, and the schema's
   name replaced by ``__KITCHEN_SCHEMA__``; saved as ``tests/store/fixtures/v1_postgres.sql``. The schema
   is dropped afterwards.

Run it again only to remake the fixtures from the same release; the upgrade tests read whatever the
fixtures hold (by raw SQL) rather than trusting this file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

RELEASE = "3c219b4"
ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().with_name("fixtures")
PLACEHOLDER = "__KITCHEN_SCHEMA__"
PG_SERVER = os.environ.get("KITCHEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
T0 = 1_700_000_000.0


def scenario(url: str, release_dir: str) -> dict:
    """Runs in the child, on the OLD release's code. Returns a summary of what it made (printed as JSON)."""
    import random

    import kitchen
    from kitchen import FrozenClock, Kitchen, Order

    here = Path(kitchen.__file__).resolve()
    if not here.is_relative_to(Path(release_dir).resolve()) or not (here.parent / "engine.py").exists():
        raise SystemExit(f"imported {here}, not the release at {release_dir}")

    clock = FrozenClock(T0)
    k = Kitchen.open(url, clock=clock, buckets=16, heartbeat_timeout=5.0, max_attempts=5)
    try:
        t = {}
        t["w"] = k.submit("calzone", {"slices": 6}, customer="wanda", key="w-1", priority=60)
        t["x"] = k.submit("calzone", {"slices": 8}, customer="xena", key="x-1", priority=50)
        t["y"] = k.submit("hawaiian", {"pineapple": True}, customer="yuri", key="y-1", priority=40)
        t["z"] = k.submit("marinara", {}, customer="zoe", key="z-1", priority=30)
        t["ada"] = k.submit("margherita", {"size": "L", "note": "ünïcödé ✓"}, customer="ada", key="ada-1",
                            priority=5)
        t["bob"] = k.submit("pepperoni", {"size": "M"}, customer="bob", key="bob-1", priority=-5)
        guests = k.submit_many([{"recipe": "quattro_formaggi" if i % 2 else "margherita",
                                  "payload": {"table": i}, "customer": f"guest-{i}"} for i in range(10)])
        dup = k.submit("margherita", {"size": "S"}, customer="ada", key="ada-1")
        assert dup.duplicate and dup.number == t["ada"].number
        t["later"] = k.submit("calzone", {"for": "dinner"}, customer="late", key="later-1", delay=3600)

        clock.advance(1)
        b = k.join("oven-b", host="fixture-host", pid=1002)  # alone: owns every bucket
        b._rng = random.Random(2)
        w = b.claim()
        assert w.id == t["w"].number and b.complete(w, {"by": "oven-b", "slices": 6})
        zombie = {name: b.claim() for name in ("x", "y", "z")}
        assert [o.id for o in zombie.values()] == [t[n].number for n in ("x", "y", "z")]

        clock.advance(1)
        a = k.join("oven-a", host="fixture-host", pid=1001)
        a._rng = random.Random(1)

        clock.advance(6)  # oven-b last beat at T0+1: silent for 7s > heartbeat_timeout
        a.heartbeat()
        report = k.reap()
        assert report.dead == ["oven-b"] and sorted(report.requeued) == sorted(o.id for o in zombie.values())

        x = a.claim()
        assert x.id == t["x"].number and a.complete(x, {"slices": 8, "by": "oven-a"})
        assert not b.complete(zombie["x"], {"late": True})        # already done (fence 2)
        y = a.claim()
        assert y.id == t["y"].number                               # stays cooking at oven-a
        assert not b.complete(zombie["y"], {"late": True})        # being re-cooked under fence 2
        assert not b.complete(zombie["z"], {"late": True})        # taken back (queued)
        assert not b.complete(Order(99, "margherita", {}, 1, 1, 0))  # no such order

        clock.advance(1)
        z = a.claim()
        assert z.id == t["z"].number and a.complete(z, ["a", "list", "result"])
        ada = a.claim()
        assert ada.id == t["ada"].number and a.complete(ada, {"pizza": "margherita", "note": "ünï ✓"})
        retry = a.claim()
        assert retry.id == guests[0].number and a.fail(retry, "dough too wet") == "queued"
        burn = a.claim()
        assert burn.id == guests[1].number
        assert a.fail(burn, "oven on fire\n  Traceback (most recent call last):", retry=False) == "burnt"
        back = a.claim()
        assert back.id == guests[2].number and a.release(back) == 1

        clock.advance(1)
        a.heartbeat()
        status = k.status()
        return {"orders": status["orders"], "ovens": {o["name"]: o["state"] for o in status["ovens"]},
                "end": clock()}
    finally:
        k.close()


def _run_scenario(url: str, release_dir: Path, cwd: Path) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("KITCHEN_")}
    env["PYTHONPATH"] = str(release_dir)
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--scenario", url, str(release_dir)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"scenario failed on {url}:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def make_sqlite(release_dir: Path, tmp: Path) -> None:
    path = tmp / "v1.sqlite"
    summary = _run_scenario(str(path), release_dir, tmp)
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
    finally:
        conn.close()
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    FIXTURES.mkdir(exist_ok=True)
    shutil.copyfile(path, FIXTURES / "v1.sqlite")
    print(f"wrote {FIXTURES / 'v1.sqlite'} ({path.stat().st_size} bytes): {summary}")


def make_postgres(release_dir: Path, tmp: Path) -> None:
    import psycopg

    schema = f"kitchen_v1_fixture_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        summary = _run_scenario(f"{PG_SERVER}?schema={schema}", release_dir, tmp)
        dump = subprocess.run(["pg_dump", "--schema", schema, "--no-owner", "--no-privileges", "--column-inserts",
                               "--dbname", PG_SERVER], capture_output=True, text=True, timeout=120)
        if dump.returncode != 0:
            raise SystemExit(f"pg_dump failed: {dump.stderr}")
        lines = [line for line in dump.stdout.splitlines()
                 if not line.startswith(("\\restrict", "\\unrestrict"))]
        text = "\n".join(lines).replace(schema, PLACEHOLDER) + "\n"
        assert "\\" not in "".join(line[:1] for line in lines), "psql meta-commands left in the dump"
        FIXTURES.mkdir(exist_ok=True)
        (FIXTURES / "v1_postgres.sql").write_text(text, encoding="utf-8")
        print(f"wrote {FIXTURES / 'v1_postgres.sql'} ({len(text)} chars): {summary}")
    finally:
        with psycopg.connect(PG_SERVER, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--scenario":
        print(json.dumps(scenario(sys.argv[2], sys.argv[3])), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite-only", action="store_true", help="skip the PostgreSQL fixture")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kitchen-v1-") as name:
        tmp = Path(name)
        release_dir = tmp / "v1"
        subprocess.run(["git", "worktree", "add", "--detach", str(release_dir), RELEASE], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            make_sqlite(release_dir, tmp)
            if not options.sqlite_only:
                make_postgres(release_dir, tmp)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(release_dir)], cwd=ROOT,
                           capture_output=True)
            subprocess.run(["git", "worktree", "prune"], cwd=ROOT, capture_output=True)


if __name__ == "__main__":
    main()
