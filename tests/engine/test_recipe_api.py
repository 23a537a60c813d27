"""The recipe API a Python developer uses: ``@recipe`` with options, arguments from the payload's keys, ``ctx``
only when asked for, typed submit checked against the signature, and the failure policy (GiveUp, retry_on,
results that are not JSON, errors with their traceback). On SQLite and PostgreSQL, cooked with ``cook_all``."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from kitchen import BadOrder, ConfigError, GiveUp, Kitchen, recipe
from kitchen.cli import main
from kitchen.ovens.recipes import Menu
from tests.engine.helpers import table_counts

SIDE_EFFECTS: list[str] = []


@recipe
def api_soup(bowls: int = 1, spicy: bool = False) -> dict:
    return {"bowls": bowls, "spicy": spicy}


@recipe(max_attempts=3, timeout=30.0, retry_on=(IOError,), priority=5)
def api_charge(order_ref: str, *, ctx) -> dict:
    SIDE_EFFECTS.append(f"charge {order_ref} attempt {ctx.attempt}")
    if order_ref.startswith("x"):
        raise GiveUp("card refused")
    if order_ref.startswith("v"):
        raise ValueError("invalid address")
    if order_ref.startswith("io"):
        raise OSError("network down")
    return {"charged": order_ref, "token": ctx.token}


@recipe
def api_when(label: str) -> Any:
    SIDE_EFFECTS.append(f"when {label}")
    return datetime.datetime(2026, 1, 1)


@recipe
def api_flaky(fail_times: int, *, ctx) -> dict:
    if ctx.attempt <= fail_times:
        raise RuntimeError(f"flaked on attempt {ctx.attempt}")
    return {"attempt": ctx.attempt}


@recipe
def api_default(n: int) -> int:
    raise ArithmeticError(f"always {n}")


@recipe("api_legacy")
def legacy(ctx):
    return {"bowls": ctx.payload.get("bowls", 1)}


def test_the_names_a_user_imports() -> None:
    import kitchen

    assert {"Kitchen", "recipe", "GiveUp", "OrderBurnt", "OrderCancelled"} <= set(kitchen.__all__)
    assert api_soup.name == "api_soup" and api_charge.name == "api_charge", "the name defaults to the function's"
    assert api_soup(bowls=3) == {"bowls": 3, "spicy": False}, "a recipe is still callable as the function"
    opts = api_charge.options
    assert (opts.max_attempts, opts.timeout, opts.retry_on, opts.priority) == (3, 30.0, (IOError,), 5)


@pytest.mark.parametrize("options, named", [
    ({"max_attempts": 0}, "max_attempts"), ({"timeout": -1}, "timeout"), ({"retry_on": (ValueError, "x")}, "retry_on"),
    ({"priority": 500}, "priority"), ({"max_attempts": 2.5}, "max_attempts"),
])
def test_bad_options_are_one_line_naming_the_recipe(options: dict, named: str) -> None:
    def api_badly_made() -> None:
        return None

    with pytest.raises(ConfigError) as caught:
        recipe(**options)(api_badly_made)
    message = str(caught.value)
    assert message.startswith(f"recipe api_badly_made: {named} must be") and "\n" not in message


def test_typed_submit_stores_the_arguments_as_the_payload(kitchen: Kitchen) -> None:
    t = api_soup.submit(kitchen, bowls=2, customer="ada", key="ada-soup")
    info = kitchen.ticket(t.number)
    assert (info.recipe, info.payload, info.customer, info.key, info.priority) == (
        "api_soup", {"bowls": 2}, "ada", "ada-soup", 0)
    assert api_soup.submit(kitchen, bowls=2, key="ada-soup").duplicate, "keys dedup as before"
    assert kitchen.ticket(api_charge.submit(kitchen, order_ref="a1").number).priority == 5, "the recipe's priority"
    assert kitchen.ticket(api_charge.submit(kitchen, order_ref="a2", priority=-3).number).priority == -3


@pytest.mark.parametrize("call, words", [
    (lambda k: api_soup.submit(k, bowl=2), "unexpected keyword argument 'bowl'"),
    (lambda k: api_charge.submit(k), "missing a required argument: 'order_ref'"),
    (lambda k: k.submit("api_soup", {"bowls": 1, "size": "L"}), "unexpected keyword argument 'size'"),
    (lambda k: k.submit_many([{"recipe": "api_soup"}, {"recipe": "api_charge", "payload": {}}]),
     "order 1: recipe api_charge: missing a required argument"),
    (lambda k: api_soup.submit(k, bowls=datetime.date(2026, 1, 1)), "not plain JSON"),
])
def test_arguments_that_do_not_fit_are_refused_with_nothing_written(kitchen: Kitchen, call, words: str) -> None:
    before = table_counts(kitchen)
    with pytest.raises(BadOrder) as caught:
        call(kitchen)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert table_counts(kitchen) == before and kitchen.status().orders.submitted == 0


def test_a_name_only_submit_of_an_unknown_recipe_is_still_accepted(kitchen: Kitchen) -> None:
    t = kitchen.submit("api_elsewhere", {"anything": 1})
    assert kitchen.ticket(t.number).state == "queued", "another process's ovens may know it"


def test_arguments_come_from_the_payload_and_ctx_only_when_asked(kitchen: Kitchen) -> None:
    soup = kitchen.submit("api_soup", {"bowls": 2})  # a name-only submit: payload keys are the arguments
    plain = api_soup.submit(kitchen)
    charge = api_charge.submit(kitchen, order_ref="ok-1")
    old = kitchen.submit("api_legacy", {"bowls": 4})
    assert kitchen.cook_all() == 4
    assert soup.result(timeout=5) == {"bowls": 2, "spicy": False}
    assert plain.result(timeout=5) == {"bowls": 1, "spicy": False}, "defaults apply"
    assert charge.result(timeout=5)["token"] == f"{charge.number}:1", "ctx given to the recipe that asks"
    assert old.result(timeout=5) == {"bowls": 4}, "a recipe taking only ctx reads ctx.payload as before"


def test_a_stored_payload_that_does_not_fit_burns_at_once(kitchen: Kitchen) -> None:
    """Written by another process that did not know the recipe: the oven refuses it without retrying."""
    t = kitchen.submit("api_fresh", {"bowls": 1})

    def fresh(cups: int = 1) -> int:
        return cups

    ovens_menu = Menu()
    ovens_menu.register("api_fresh", fresh)
    kitchen.cook_all(menu=ovens_menu)
    info = kitchen.ticket(t.number)
    assert (info.state, info.attempts) == ("burnt", 1)
    assert info.error.startswith("BadOrder: recipe api_fresh:") and "bowls" in info.error


def test_give_up_burns_at_once_with_its_traceback(kitchen: Kitchen) -> None:
    t = api_charge.submit(kitchen, order_ref="x-99")
    kitchen.cook_all()
    info = kitchen.ticket(t.number)
    assert (info.state, info.attempts, info.error) == ("burnt", 1, "GiveUp: card refused")
    assert "Traceback (most recent call last)" in info.traceback and "card refused" in info.traceback
    assert 'raise GiveUp("card refused")' in info.traceback, "where it was raised"


def test_retry_on_retries_only_those_exceptions(kitchen: Kitchen) -> None:
    SIDE_EFFECTS.clear()
    wrong = api_charge.submit(kitchen, order_ref="v-1")
    down = api_charge.submit(kitchen, order_ref="io-1")
    kitchen.cook_all()
    assert kitchen.ticket(wrong.number).state == "burnt" and kitchen.ticket(wrong.number).attempts == 1
    assert kitchen.ticket(wrong.number).error == "ValueError: invalid address"
    info = kitchen.ticket(down.number)
    assert (info.state, info.attempts, info.error) == ("burnt", 3, "OSError: network down"), "max_attempts=3"
    assert SIDE_EFFECTS.count("charge v-1 attempt 1") == 1 and len(SIDE_EFFECTS) == 4


def test_by_default_every_exception_retries_up_to_the_kitchens_limit(open_kitchen) -> None:
    k = open_kitchen(max_attempts=4)
    t = api_default.submit(k, n=7)
    k.cook_all()
    assert (k.ticket(t.number).state, k.ticket(t.number).attempts) == ("burnt", 4)


def test_a_result_that_is_not_json_burns_after_one_run(kitchen: Kitchen) -> None:
    SIDE_EFFECTS.clear()
    t = api_when.submit(kitchen, label="new year")
    kitchen.cook_all()
    info = kitchen.ticket(t.number)
    assert (info.state, info.attempts) == ("burnt", 1)
    assert "datetime" in info.error and info.error.startswith("BadResult: result is not plain JSON")
    assert SIDE_EFFECTS == ["when new year"], "its side effects ran once, not five times"


def test_the_last_error_is_cleared_when_a_later_attempt_succeeds(kitchen: Kitchen) -> None:
    t = api_flaky.submit(kitchen, fail_times=2)
    kitchen.cook_all()
    info = kitchen.ticket(t.number)
    assert (info.state, info.attempts, info.result) == ("done", 3, {"attempt": 3})
    assert info.error is None and info.traceback is None


def test_kitchen_ticket_shows_the_error_and_the_last_lines_of_its_traceback(
        kitchen: Kitchen, backend_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    t = api_charge.submit(kitchen, order_ref="x-1")
    kitchen.cook_all()
    assert main(["--db", backend_url, "ticket", str(t.number)]) == 0
    out = capsys.readouterr().out
    assert "error: GiveUp: card refused" in out and "traceback (last" in out
    assert out.rstrip().splitlines()[-1].strip() == "kitchen.core.errors.GiveUp: card refused"
    assert main(["--db", backend_url, "ticket", str(t.number), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["error"] == "GiveUp: card refused" and "Traceback" in shown["traceback"]


def test_kitchen_open_without_a_url_resolves_settings_as_the_cli_does(backend_url: str, tmp_path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kitchen.ini").write_text("[kitchen]\nmax_attempts = 7\n")
    monkeypatch.setenv("KITCHEN_DB", backend_url)
    with Kitchen.open(buckets=8) as k:
        assert k.settings.database == backend_url and k.settings.max_attempts == 7, "KITCHEN_DB and kitchen.ini"
        assert k.buckets == 8, "keywords too"
