"""Menus: an oven claims only the recipes it knows; an order no live oven can cook waits (never burnt for
that) and the shop says so, per recipe, without reading the queue."""

from __future__ import annotations

import sqlite3

import pytest

from kitchen import ConfigError, FrozenClock, Kitchen
from kitchen.cli import main
from kitchen.core import words
from kitchen.protocol import reads
from kitchen.store import sql
from kitchen.tui.panes.queue import queue_view


def test_an_oven_claims_only_what_is_on_its_menu(kitchen: Kitchen) -> None:
    soup = kitchen.submit("soup")
    pizza = kitchen.submit("margherita")
    oven = kitchen.join("pizza-only", ["margherita", "marinara"])
    assert oven.menu == ["margherita", "marinara"]
    assert oven.claim().id == pizza.number
    assert oven.claim() is None
    assert kitchen.ticket(soup.number).state == "queued"
    assert [o.menu for o in kitchen.status().ovens] == [["margherita", "marinara"]]


def test_the_shop_names_what_no_live_oven_can_cook(kitchen: Kitchen, clock: FrozenClock) -> None:
    kitchen.submit_many([{"recipe": "soup"}] * 3 + [{"recipe": "margherita"}, {"recipe": "stew", "delay": 60}])
    assert kitchen.status().no_oven_can_cook == {}, "no oven alive: nothing to say about menus"
    pizza = kitchen.join("pizza-only", ["margherita"])
    assert kitchen.status().no_oven_can_cook == {"soup": 3, "stew": 1}
    assert words.no_oven_can_cook("soup", 3) == "no oven can cook 'soup' (3 waiting)"
    anything = kitchen.join("anything")  # menu None: cooks any recipe
    assert kitchen.status().no_oven_can_cook == {}
    anything.leave()
    soup_oven = kitchen.join("soup-kitchen", ["soup"])
    assert kitchen.status().no_oven_can_cook == {"stew": 1}
    taken = [soup_oven.claim() for _ in range(4)]
    assert [o.recipe if o else None for o in taken] == ["soup", "soup", "soup", None]
    assert all(soup_oven.complete(o) for o in taken[:3])
    soup_oven.leave()
    clock.advance(6)
    pizza.heartbeat()
    assert kitchen.status().no_oven_can_cook == {"stew": 1}, "left ovens' menus do not count"
    assert kitchen.status().orders.burnt == 0


def test_counts_stop_at_the_cap(kitchen: Kitchen, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reads, "WAITING_COUNT_CAP", 4)
    kitchen.submit_many([{"recipe": "soup"}] * 9)
    kitchen.join("pizza-only", ["margherita"])
    assert kitchen.status().no_oven_can_cook == {"soup": 4}


def test_a_menu_is_recipe_names(kitchen: Kitchen) -> None:
    with pytest.raises(ConfigError):
        kitchen.join("oven-1", ["Not A Recipe"])
    with pytest.raises(ConfigError):
        kitchen.join("oven-1", "margherita")  # one string, not a list of names
    assert kitchen.join("oven-1", ["b", "a", "a"]).menu == ["a", "b"]
    assert kitchen.join("oven-2", []).claim() is None


def test_status_finds_waiting_recipes_in_the_ready_index_alone(tmp_path) -> None:
    """SQLite's plan: a walk of orders_ready that never reads the table (the index carries the recipe)."""
    db = str(tmp_path / "k.db")
    Kitchen.open(db).close()
    con = sqlite3.connect(db)
    try:
        plans = [" ".join(str(c) for c in row) for row in con.execute("EXPLAIN QUERY PLAN " + sql.WAITING_RECIPES,
                                                                       (10,))]
    finally:
        con.close()
    touching = [p for p in plans if "orders" in p]
    assert touching and all("COVERING INDEX orders_ready" in p for p in touching), plans


def test_kitchen_status_says_it_in_text_json_and_on_screen(tmp_path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KITCHEN_CONFIG", raising=False)
    monkeypatch.delenv("KITCHEN_DB", raising=False)
    db = str(tmp_path / "k.db")
    with Kitchen.open(db) as k:
        k.submit_many([{"recipe": "soup"}] * 3)
        k.join("pizza-only", ["margherita"])
        snap = k.status()
    assert main(["--db", db, "status"]) == 0
    assert "  no oven can cook 'soup' (3 waiting)" in capsys.readouterr().out.splitlines()
    assert main(["--db", db, "status", "--json"]) == 0
    import json

    assert json.loads(capsys.readouterr().out)["no_oven_can_cook"] == {"soup": 3}
    assert queue_view(snap, [], []).stuck == ("no oven can cook 'soup' (3 waiting)",)
