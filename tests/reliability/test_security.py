"""Nothing stored in the database can make an oven run code other than a registered recipe.

A recipe name that looks like a module path or ``os.system`` is refused at submit; written straight into the
database it is burnt as an unknown recipe, never imported. A payload holding a pickle is a string to the
oven, never unpickled. Each "never" is proved with a marker file that the forbidden action would create (and
a control showing the action really would create it). The database file is its owner's alone (0600).
"""

from __future__ import annotations

import base64
import os
import pickle
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kitchen import BadOrder, Kitchen
from tests.support.processes import kitchen_cli

CRAFTED_NAMES = ["os.system", "os:system", "subprocess.run", "builtins.exec", "__import__('os').system('id')",
                 "kitchen.recipes", "evil_marker_mod.run", "../evil_marker_mod", "Evil_marker_mod", "x" * 65, ""]


def fast_ini(folder: Path) -> Path:
    ini = folder / "kitchen.ini"
    ini.write_text("[kitchen]\nheartbeat_interval = 0.2\nheartbeat_timeout = 1.0\nreap_interval = 0.2\n"
                   "max_attempts = 2\nbackoff_base = 0.05\nbackoff_max = 0.1\npoll_interval = 0.1\n")
    return ini


def run_burst(folder: Path, db: Path, *recipes: str) -> subprocess.CompletedProcess:
    """One oven, ``kitchen run --burst``: cooks until nothing is queued or cooking, then exits."""
    extra = ["--recipes", *recipes] if recipes else []
    return kitchen_cli(folder, "--config", str(fast_ini(folder)), "--db", str(db), "run", "--burst", *extra,
                       timeout=90, paths=[folder])


def test_database_file_is_owner_only_even_with_a_permissive_umask(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    keep = os.umask(0)
    try:  # umask 000: anything created with default modes would be world-writable (k.db-lock: the write gate)
        with Kitchen.open(str(db)) as k:
            k.submit("margherita", {"size": "L"})
            files = sorted(tmp_path.glob("k.db*"))
            assert {"k.db", "k.db-wal", "k.db-shm"} <= {p.name for p in files} <= {"k.db", "k.db-wal", "k.db-shm",
                                                                                  "k.db-lock"}
            for path in files:
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path.name} is {oct(path.stat().st_mode)}"
    finally:
        os.umask(keep)


@pytest.mark.parametrize("name", CRAFTED_NAMES, ids=lambda n: repr(n)[:30])
def test_crafted_recipe_name_is_refused_at_submit(tmp_path: Path, name: str) -> None:
    with Kitchen.open(str(tmp_path / "k.db")) as k:
        with pytest.raises(BadOrder):
            k.submit(name, {"cmd": "touch /tmp/pwned"})
        with pytest.raises(BadOrder):
            k.submit_many([{"recipe": "margherita"}, {"recipe": name}])
        assert k.status().orders.submitted == 0, "nothing was written, not even the good order"


EVIL_MODULE = """
from pathlib import Path
Path({marker!r}).write_text("imported")  # importing this module is the attack

def run(*args, **kwargs):
    Path({marker!r}).write_text("called")
"""


@pytest.mark.processes
def test_crafted_recipe_written_into_the_database_is_never_claimed_nor_imported(tmp_path: Path) -> None:
    marker = tmp_path / "IMPORTED"
    (tmp_path / "evil_marker_mod.py").write_text(EVIL_MODULE.format(marker=str(marker)))
    control = subprocess.run([sys.executable, "-c", "import evil_marker_mod"], cwd=tmp_path, capture_output=True)
    assert control.returncode == 0 and marker.exists(), "control: importing the module does leave the marker"
    marker.unlink()

    db = tmp_path / "k.db"
    crafted = [n for n in CRAFTED_NAMES if n] + ["evil_marker_mod"]  # the last one is even a valid name
    with Kitchen.open(str(db)) as k:
        tickets = [k.submit("noop", {"cmd": f"touch {marker}"}) for _ in crafted]
    con = sqlite3.connect(db)  # an attacker with write access to the database rewrites the recipe column
    with con:
        for t, name in zip(tickets, crafted):
            con.execute("UPDATE orders SET recipe = ? WHERE id = ?", (name, t.number))
    con.close()

    out = run_burst(tmp_path, db)  # evil_marker_mod is importable from the oven's cwd and PYTHONPATH
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert not marker.exists(), "an oven imported or ran something named by the database"
    with Kitchen.open(str(db)) as k:
        for t, name in zip(tickets, crafted):
            info = k.ticket(t.number)
            assert (info.state, info.attempts) == ("queued", 0), ("never claimed: on no oven's menu", name, info)
        k.join("watcher", ["noop"])  # a live oven with a menu: status names what no oven can cook
        assert sum(k.status().no_oven_can_cook.values()) == len(crafted)


class Evil:
    """Unpickling this creates the marker file (open(path, 'w'))."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


ECHO = """
from kitchen.ovens.recipes import recipe

@recipe("echo")
def echo(ctx):
    return {"payload": ctx.payload, "types": sorted(type(v).__name__ for v in ctx.payload.values())}
"""


@pytest.mark.processes
def test_pickled_blob_in_a_payload_is_just_data(tmp_path: Path) -> None:
    marker = tmp_path / "UNPICKLED"
    blob = pickle.dumps(Evil(str(marker)), protocol=0)
    pickle.loads(blob)
    assert marker.exists(), "control: unpickling the blob does leave the marker"
    marker.unlink()

    (tmp_path / "echo_recipes.py").write_text(ECHO)
    db = tmp_path / "k.db"
    payload = {"pickle_b64": base64.b64encode(pickle.dumps(Evil(str(marker)))).decode(),
               "pickle_text": blob.decode("latin-1")}
    with Kitchen.open(str(db)) as k:
        for bad in (blob, Evil(str(marker)), {"x": Evil(str(marker))}):  # not JSON: refused, never pickled
            with pytest.raises(BadOrder):
                k.submit("echo", bad)
        t = k.submit("echo", payload)
    out = run_burst(tmp_path, db, "echo_recipes")
    assert out.returncode == 0, out.stderr[-2000:]
    assert not marker.exists(), "something unpickled the payload"
    with Kitchen.open(str(db)) as k:
        info = k.ticket(t.number)
    assert info.state == "done", info
    assert info.result == {"payload": payload, "types": ["str", "str"]}, "the recipe saw two plain strings"
    con = sqlite3.connect(db)
    stored = con.execute("SELECT typeof(payload) FROM orders WHERE id = ?", (t.number,)).fetchone()[0]
    con.close()
    assert stored == "text", "stored as JSON text, never as a blob"


def test_sql_in_names_and_keys_is_stored_as_text(tmp_path: Path) -> None:
    evil = "x'); DROP TABLE orders; --"
    with Kitchen.open(str(tmp_path / "k.db")) as k:
        t = k.submit("margherita", {"note": evil}, customer=evil, key=evil)
        again = k.submit("margherita", {}, key=evil)
        assert again.duplicate and again.number == t.number
        info = k.ticket(t.number)
        assert (info.customer, info.key, info.payload) == (evil, evil, {"note": evil})
        assert k.status().orders.submitted == 1


BAD_RESULT = """
from kitchen.ovens.recipes import recipe

@recipe("setty")
def setty(ctx):
    return {1, 2}  # a set is not JSON
"""


@pytest.mark.processes
def test_recipe_returning_non_json_fails_its_order_not_the_oven(tmp_path: Path) -> None:
    (tmp_path / "bad_result.py").write_text(BAD_RESULT)
    db = tmp_path / "k.db"
    with Kitchen.open(str(db)) as k:
        bad = k.submit("setty", customer="same")
        good = k.submit("noop", customer="same")
    out = run_burst(tmp_path, db, "bad_result")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "kitchen: error" not in out.stderr
    with Kitchen.open(str(db)) as k:
        info = k.ticket(bad.number)
        assert info.state == "burnt" and "result is not plain JSON" in info.error, info
        assert "set" in info.error, "the error names the type"
        assert info.attempts == 1, "burnt after one run: it would not be JSON the next time either"
        assert k.ticket(good.number).state == "done", "the same oven went on cooking"


@pytest.mark.processes
def test_payload_that_is_not_json_in_the_database_is_burnt_not_a_crash(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    with Kitchen.open(str(db)) as k:
        t = k.submit("noop", {})
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE orders SET payload = ? WHERE id = ?", (pickle.dumps(Evil(str(tmp_path / "M"))), t.number))
    con.close()
    out = run_burst(tmp_path, db)
    assert not (tmp_path / "M").exists()
    assert out.returncode == 0 and "error" not in out.stderr, out.stderr[-500:]
    with Kitchen.open(str(db)) as k:
        assert k.ticket(t.number).state == "burnt"


@pytest.mark.processes
def test_the_default_data_folder_is_owner_only(tmp_path: Path) -> None:
    out = kitchen_cli(tmp_path, "order", "margherita")
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "data" / "kitchen.db").stat().st_mode) == 0o600
