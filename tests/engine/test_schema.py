"""Opening databases: schema creation and version, refusing strangers, and one-line errors for bad input."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest

from kitchen import BadOrder, ConfigError, DatabaseError, Kitchen, SchemaError
from kitchen.store import SCHEMA_VERSION
from tests.engine.helpers import execute, rows, scalar, table_counts
from tests.support.processes import ROOT


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text, f"not a one-line message: {text!r}"
    return text


def test_schema_is_created_on_first_use(kitchen: Kitchen, open_kitchen) -> None:
    meta = dict(rows(kitchen, "SELECT key, value FROM kitchen_meta"))
    assert meta["schema_version"] == str(SCHEMA_VERSION) and meta["buckets"] == "64"
    assert meta["ring_generation"] == "0"
    assert scalar(kitchen, "SELECT count(*) FROM buckets") == 64
    assert scalar(kitchen, "SELECT count(*) FROM tally") == 64
    kitchen.submit("margherita", key="keep")
    again = open_kitchen()  # opening an existing kitchen creates nothing and keeps the data
    assert scalar(again, "SELECT count(*) FROM buckets") == 64
    assert again.submit("margherita", key="keep").duplicate


def test_newer_schema_version_is_refused(kitchen: Kitchen, open_kitchen) -> None:
    execute(kitchen, "UPDATE kitchen_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(SchemaError) as info:
        open_kitchen()
    assert "schema version 99" in one_line(info.value) and "upgrade" in str(info.value)


def test_incomplete_schema_is_refused(kitchen: Kitchen, open_kitchen) -> None:
    execute(kitchen, "DELETE FROM kitchen_meta WHERE key = 'buckets'")
    with pytest.raises(SchemaError, match="incomplete"):
        open_kitchen()


def test_a_foreign_sqlite_file_is_refused(tmp_path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO users (name) VALUES ('ada')")
    conn.close()
    with pytest.raises(SchemaError) as info:
        Kitchen.open(str(path))
    assert "not a kitchen database" in one_line(info.value)
    with sqlite3.connect(path) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["users"]
    conn.close()


def test_a_file_that_is_not_a_database_is_refused(tmp_path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database\n" * 200)
    with pytest.raises(DatabaseError) as info:
        Kitchen.open(str(path))
    assert "not a kitchen database or is corrupt" in one_line(info.value)
    assert path.read_bytes().startswith(b"these are my notes")


@pytest.mark.parametrize("url, message", [
    ("mysql://root@localhost/kitchen", "unknown database URL scheme 'mysql'"),
    ("redis://localhost", "unknown database URL scheme 'redis'"),
    ("", "database URL is empty"),
    (":memory:", "in-memory"),
    ("sqlite://", "sqlite URL has no path"),
])
def test_bad_database_urls(url: str, message: str) -> None:
    with pytest.raises(DatabaseError) as info:
        Kitchen.open(url)
    assert message in one_line(info.value)


def test_missing_directory_and_directory_as_database(tmp_path) -> None:
    with pytest.raises(DatabaseError) as info:
        Kitchen.open(str(tmp_path / "nowhere" / "kitchen.db"))
    assert "does not exist" in one_line(info.value)
    assert not (tmp_path / "nowhere").exists()
    with pytest.raises(DatabaseError) as info:
        Kitchen.open(str(tmp_path))
    assert "is a directory" in one_line(info.value)


def test_the_place_a_url_names_must_exist(backend: str, backend_url: str, tmp_path) -> None:
    """A missing directory, PostgreSQL schema or database is refused at once, by name, creating nothing."""
    if backend == "sqlite":
        with pytest.raises(DatabaseError, match="does not exist"):
            Kitchen.open(str(tmp_path / "missing" / "k.db"))
        return
    server = backend_url.split("?")[0]
    with pytest.raises(SchemaError) as info:
        Kitchen.open(f"{server}?schema=kt_never_created")
    assert "schema kt_never_created does not exist" in one_line(info.value)
    started = time.monotonic()
    with pytest.raises(DatabaseError) as info:
        Kitchen.open(server.rsplit("/", 1)[0] + "/kitchen_no_such_database")
    assert "kitchen_no_such_database" in one_line(info.value) and "does not exist" in str(info.value)
    assert time.monotonic() - started < 5.0, "a database that does not exist is not worth retrying"


def test_sqlite_url_forms(tmp_path, monkeypatch) -> None:
    absolute = tmp_path / "abs.db"
    with Kitchen.open(f"sqlite:///{absolute}") as k:
        k.submit("margherita")
    assert absolute.exists()
    monkeypatch.chdir(tmp_path)
    with Kitchen.open("sqlite:///rel.db") as k:
        assert k.store.target.location == "rel.db"
    assert (tmp_path / "rel.db").exists()


@pytest.mark.parametrize("settings, message", [
    ({"buckets": 0}, "buckets must be between 1 and 4096"),
    ({"durability": "fast"}, "durability must be 'normal' or 'full'"),
    ({"heartbeat_timeout": 0.5}, "must exceed heartbeat_interval"),
    ({"max_attempts": 0}, "max_attempts must be at least 1"),
    ({"lease": -1}, "lease must be greater than 0"),
    ({"colour": "red"}, "unknown setting 'colour'"),
    ({"buckets": "many"}, "buckets must be a whole number"),
])
def test_bad_settings(tmp_path, settings: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Kitchen.open(str(tmp_path / "k.db"), **settings)
    assert message in one_line(info.value)
    assert not (tmp_path / "k.db").exists(), "a refused setting creates no database"


BIG = "x" * 70_000
BAD_ORDERS = [
    ({"recipe": ""}, "recipe must be a non-empty name"),
    ({"recipe": None}, "recipe must be a non-empty name"),
    ({"recipe": "Margherita!"}, "is not a recipe name"),
    ({"recipe": "r" * 65}, "is not a recipe name"),
    ({"payload": [1, 2]}, "payload must be a JSON object, not list"),
    ({"payload": '{"a": 1}'}, "payload must be a JSON object, not a string"),
    ({"payload": 42}, "payload must be a JSON object, not int"),
    ({"payload": {"when": object()}}, "payload is not plain JSON"),
    ({"payload": {"x": float("nan")}}, "payload is not plain JSON"),
    ({"payload": {"big": BIG}}, "bytes; the limit is 65536"),
    ({"customer": ""}, "customer must not be empty"),
    ({"customer": "   "}, "customer must not be empty"),
    ({"customer": "c" * 201}, "customer is 201 characters; the limit is 200"),
    ({"customer": 7}, "customer must be text"),
    ({"key": ""}, "key must not be empty"),
    ({"key": "k" * 201}, "key is 201 characters; the limit is 200"),
    ({"key": "a\nb"}, "key must not contain control characters"),
    ({"delay": -1}, "delay must not be negative"),
    ({"delay": float("inf")}, "delay must be a number of seconds"),
    ({"delay": "soon"}, "delay must be a number of seconds"),
    ({"priority": True}, "priority must be a whole number"),
    ({"priority": 1.5}, "priority must be a whole number"),
    ({"priority": 101}, "priority must be between -100 and 100"),
    ({"priority": -101}, "priority must be between -100 and 100"),
]


@pytest.mark.parametrize("fields, message", BAD_ORDERS, ids=[m for _, m in BAD_ORDERS])
def test_bad_orders_write_nothing(kitchen: Kitchen, fields: dict, message: str) -> None:
    spec = {"recipe": "margherita", **fields}
    recipe = spec.pop("recipe")
    with pytest.raises(BadOrder) as info:
        kitchen.submit(recipe, **spec) if "payload" not in spec else kitchen.submit(recipe, spec.pop("payload"),
                                                                                   **spec)
    assert message in one_line(info.value)
    assert len(str(info.value)) < 200
    assert table_counts(kitchen) == {"orders": 0, "ledger": 0, "refusals": 0}
    assert kitchen.status().orders.submitted == 0


def test_payload_limit_is_a_setting_and_exact(open_kitchen) -> None:
    k = open_kitchen(payload_limit=1024)
    fits = {"p": "x" * (1024 - len('{"p":""}'))}
    assert k.submit("margherita", fits).number
    with pytest.raises(BadOrder, match="1025 bytes; the limit is 1024"):
        k.submit("margherita", {"p": "x" * (1025 - len('{"p":""}'))})
    assert k.ticket(1).payload == fits


def test_payload_round_trips_as_json_only(kitchen: Kitchen) -> None:
    payload = {"size": "L", "toppings": ["basil", "mozzarella"], "n": 2, "price": 9.5, "vegan": False,
               "note": "ünïcödé ✓", "none": None}
    t = kitchen.submit("margherita", payload)
    oven = kitchen.join("oven-1")
    assert oven.claim().payload == payload == kitchen.ticket(t.number).payload
    stored = scalar(kitchen, "SELECT payload FROM orders")
    assert isinstance(stored, str) and stored.startswith("{")


@pytest.mark.processes
def test_engine_never_imports_textual() -> None:
    code = ("import sys; import kitchen, kitchen.core.orders, kitchen.core.config, kitchen.core.ring, kitchen.store,"
            " kitchen.protocol, kitchen.ovens.worker, kitchen.ovens.supervisor, kitchen.cli;"
            " from kitchen import Kitchen;"
            " bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'));"
            " print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, f"engine imported Textual: {done.stdout} {done.stderr}"
    assert done.stdout.strip() == "[]"


def test_close_leaves_no_connection_open(backend_url: str) -> None:
    """Closing a kitchen closes every connection it opened on this thread, the server clock's own included
    (PostgreSQL): none is left for the garbage collector to find still open."""
    import gc
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        k = Kitchen.open(backend_url)
        k.submit("margherita")
        assert k.ticket(1).state == "queued"
        k.close()
        del k
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
