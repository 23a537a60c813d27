"""Database faults through the CLI: one clear line on stderr, a non-zero exit, no traceback, and the database
exactly as it was (its bytes, or its logical content when SQLite may legitimately touch the file)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.mounts import Mounts, cannot_chattr
from tests.support.capabilities import require
from tests.support.processes import assert_one_line_error, kitchen_cli

pytestmark = pytest.mark.processes

BIG = json.dumps({"x": "y" * 30_000})


def make_db(folder: Path, orders: int = 3) -> Path:
    db = folder / "k.db"
    out = kitchen_cli(folder, "--db", str(db), "order", "margherita", "--count", str(orders), "--key", "k")
    assert out.returncode == 0, out.stderr
    return db


def file_bytes(db: Path) -> dict[str, str]:
    """The database file and any -wal/-shm beside it, by content hash."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(db.parent.glob(db.name + "*"))}


def dump(db: Path) -> list[str]:
    """Logical content: every table's rows (read through a read-only connection)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def order(folder: Path, db: Path, *extra: str, config: Path | None = None) -> subprocess.CompletedProcess:
    cfg = ["--config", str(config)] if config else []
    return kitchen_cli(folder, *cfg, "--db", str(db), "order", "margherita", *extra)


# -- read-only ---------------------------------------------------------------------------------------------


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[list[Path]]:
    """Files made immutable by a test; the attribute is removed at teardown so tmp_path can be cleaned."""
    made: list[Path] = []
    yield made
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)


def test_read_only_database_file_immutable(tmp_path: Path, immutable: list[Path]) -> None:
    require(cannot_chattr(tmp_path), "this fault test")
    db = make_db(tmp_path)
    before = dump(db)
    subprocess.run(["chattr", "+i", str(db)], check=True)
    immutable.append(db)
    with pytest.raises(PermissionError):  # honest: even root cannot write it now
        open(db, "r+b").close()
    bytes_before = hashlib.sha256(db.read_bytes()).hexdigest()
    line = assert_one_line_error(order(tmp_path, db, "--key", "new"))
    assert "read-only" in line and "nothing was written" in line, line
    assert hashlib.sha256(db.read_bytes()).hexdigest() == bytes_before
    assert dump(db) == before


def test_read_only_mount(tmp_path: Path, mounts: Mounts) -> None:
    point = mounts.tmpfs("ro", "4m")
    db = make_db(point)
    before = file_bytes(db)
    mounts.remount(point, "ro")
    with pytest.raises(OSError):  # honest: root cannot write a read-only mount
        (point / "probe").write_text("x")
    for args in (["order", "margherita"], ["status"]):
        line = assert_one_line_error(kitchen_cli(tmp_path, "--db", str(db), *args))
        assert "read-only" in line and str(point) in line, line
    assert file_bytes(db) == before


# -- not there, not a database, corrupt ----------------------------------------------------------------------


def test_missing_directory(tmp_path: Path) -> None:
    db = tmp_path / "nowhere" / "k.db"
    line = assert_one_line_error(order(tmp_path, db))
    assert "does not exist" in line and "nowhere" in line, line
    assert not db.parent.exists(), "nothing was created"


def _text(path: Path) -> None:
    path.write_text("order margherita for ada\n")


def _noise(path: Path) -> None:
    path.write_bytes(random.Random(1).randbytes(64 * 1024))


def _other_app(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    con.execute("INSERT INTO invoices (total) VALUES (9.5)")
    con.commit()
    con.close()


@pytest.mark.parametrize("make, message", [
    (_text, "is not a kitchen database or is corrupt"),
    (_noise, "is not a kitchen database or is corrupt"),
    (_other_app, "already holds other tables; it is not a kitchen database"),
], ids=["text-file", "random-bytes", "another-apps-sqlite"])
def test_file_that_is_not_a_kitchen_database(tmp_path: Path, make, message: str) -> None:
    db = tmp_path / "k.db"
    make(db)
    before = file_bytes(db)
    for args in (["order", "margherita"], ["status"]):
        line = assert_one_line_error(kitchen_cli(tmp_path, "--db", str(db), *args))
        assert message in line, line
    assert file_bytes(db) == before


def _garbage_after_first_page(data: bytearray, rng: random.Random) -> None:
    data[4096:] = rng.randbytes(len(data) - 4096)


def _garbage_in_schema_page(data: bytearray, rng: random.Random) -> None:
    data[100:4096] = rng.randbytes(4096 - 100)  # keeps the 100-byte header, wrecks sqlite_master


def _garbage_every_third_page(data: bytearray, rng: random.Random) -> None:
    for page in range(2, len(data) // 4096, 3):
        data[page * 4096:(page + 1) * 4096] = rng.randbytes(4096)


def _truncated(data: bytearray, rng: random.Random) -> None:
    del data[len(data) // 2:]


@pytest.mark.parametrize("damage, total", [(_garbage_after_first_page, True), (_garbage_in_schema_page, True),
                                           (_truncated, True), (_garbage_every_third_page, False)],
                         ids=["garbage-after-first-page", "garbage-in-schema-page", "truncated", "every-third-page"])
def test_corrupt_database(tmp_path: Path, damage, total: bool) -> None:
    """Every command that reads a damaged page says so in one line. With only some pages damaged, a query
    whose pages are intact may still answer (kitchen does not scan the whole file at open), but not all do."""
    db = make_db(tmp_path, orders=300)
    data = bytearray(db.read_bytes())
    assert len(data) >= 16 * 4096
    damage(data, random.Random(3))
    db.write_bytes(bytes(data))
    before = file_bytes(db)
    failed = 0
    for args in (["order", "margherita"], ["status"], ["ledger"], ["ticket", "5"]):
        out = kitchen_cli(tmp_path, "--db", str(db), *args)
        if out.returncode == 0 and not total:
            assert "Traceback" not in out.stderr and not out.stderr.strip(), out.stderr
            continue
        line = assert_one_line_error(out)
        assert "is not a kitchen database or is corrupt" in line, line
        failed += 1
    assert failed >= (4 if total else 1)
    assert file_bytes(db) == before


# -- locked --------------------------------------------------------------------------------------------------


LOCKER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()  # hold the lock until the test closes our stdin
con.execute("ROLLBACK")
"""


def test_locked_longer_than_busy_timeout(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    ini = tmp_path / "k.ini"
    ini.write_text("[kitchen]\nbusy_timeout = 1\n")
    before = dump(db)
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        started = time.monotonic()
        out = order(tmp_path, db, "--key", "blocked", config=ini)
        took = time.monotonic() - started
        line = assert_one_line_error(out)
        assert "stayed locked by another process for over 1s" in line and "nothing was written" in line, line
        assert 1.0 <= took < 8.0, f"retried for {took:.1f}s: bounded by busy_timeout, not forever"
    finally:
        locker.stdin.close()
        assert locker.wait(timeout=10) == 0
    assert dump(db) == before
    assert order(tmp_path, db, "--key", "after", config=ini).returncode == 0, "fine once the lock is gone"


# -- disk full -----------------------------------------------------------------------------------------------


def fill(folder: Path, leave: int) -> Path:
    """Fill the file system until ENOSPC, then free ``leave`` bytes."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        while True:
            try:
                os.write(fd, b"\0" * 4096)
            except OSError:
                break
    finally:
        os.close(fd)
    os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


@pytest.mark.parametrize("leave", [256 * 1024, 0], ids=["fills-up-during-the-write", "already-full-at-open"])
def test_disk_full_during_a_write(tmp_path: Path, mounts: Mounts, leave: int) -> None:
    point = mounts.tmpfs("small", "2m")
    db = make_db(point)
    before = dump(db)
    filler = fill(point, leave)
    line = assert_one_line_error(order(point, db, "--count", "60", "--payload", BIG))  # ~1.8 MB
    assert "disk full" in line and "nothing was written" in line, line
    filler.unlink()
    assert dump(db) == before
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    con.close()
    assert order(point, db, "--key", "after").returncode == 0, "fine once there is room again"
