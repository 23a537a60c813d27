"""Periodic orders: slots from APScheduler's triggers, one order per slot however many ovens (and hosts) fire,
one catch-up order after downtime, never a slot twice (even after a purge). SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from itertools import pairwise

import pytest

from kitchen import ConfigError, FrozenClock, Kitchen
from kitchen.core.config import Settings
from kitchen.ovens.periodic import Periodic, parse, parse_line, schedules
from kitchen.ovens.recipes import Menu, build_menu
from kitchen.tui.panes.queue import queue_view
from tests.engine.helpers import rows
from tests.support.shop import Shop
from tests.support.waiting import wait_for

T0 = 1_800_000_005.0  # 2027-01-15 08:00:05 UTC


def at(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def test_slots_are_aligned_and_cron_is_utc() -> None:
    every = parse("noop", every="10s")
    assert every.latest(T0) == T0 - 5 and every.after(T0 - 5) == T0 + 5
    cron = parse_line("calzone", "cron 0 3 * * *")
    assert cron.latest(at("2027-01-15 08:00:05")) == at("2027-01-15 03:00:00")
    assert cron.after(at("2027-01-15 03:00:00")) == at("2027-01-16 03:00:00")
    assert cron.latest(at("2027-01-15 03:00:00")) == at("2027-01-15 03:00:00"), "a slot is due at its time"
    monthly = parse("soup", cron="30 1 1 * *")
    assert monthly.latest(at("2027-01-15 08:00:05")) == at("2027-01-01 01:30:00")


@pytest.mark.parametrize("every, cron, line", [(None, None, ""), ("5m", "0 3 * * *", ""), ("soon", None, ""),
                                               (None, "0 25 * * *", ""), (None, None, "hourly")])
def test_bad_schedules_are_one_line_config_errors(every: str | None, cron: str | None, line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_line("noop", line) if line else parse("noop", every=every, cron=cron)
    assert "\n" not in str(caught.value)


def test_recipes_and_the_ini_give_schedules() -> None:
    menu = Menu()
    menu.register("report", lambda ctx: None, cron="0 3 * * *")
    plan = schedules(build_menu({"margherita": 0.0}, base=menu), {"margherita": "every 5m"})
    assert [(s.recipe, s.rule) for s in plan] == [("margherita", "every 5m"), ("report", "cron 0 3 * * *")]
    with pytest.raises(ConfigError, match="no such recipe"):
        schedules(build_menu({}, base=Menu()), {"soup": "every 5m"})
    with pytest.raises(ConfigError, match=r"\[schedule\] soup"):
        Settings(schedule={"soup": "hourly"}).validated()


def test_many_ovens_on_two_hosts_take_each_slot_once(open_kitchen: Callable[..., Kitchen],
                                                     clock: FrozenClock) -> None:
    clock.advance(T0 - 4.5 - clock())  # 08:00:00.5
    plan = [parse("noop", every="10s")]
    hosts = [open_kitchen(), open_kitchen()]
    ovens = [Periodic(hosts[i % 2], plan) for i in range(3)]  # 3 ovens on 2 "hosts" (kitchens)
    queued = []
    for _ in range(600):  # ten minutes, each oven looking every second
        for oven in ovens:
            queued += oven.check()
        clock.advance(1.0)
    keys = [r[0] for r in rows(hosts[0], "SELECT dedup_key FROM orders ORDER BY id")]
    assert len(queued) == len(keys) == len(set(keys)) == 60, "exactly 60 orders: none missing, none twice"
    assert keys[0] == "noop@2027-01-15T08:00:00Z" and keys[-1] == "noop@2027-01-15T08:09:50Z"
    view = hosts[0].status().schedule
    assert [(v.recipe, v.rule, v.next_slot - v.last_slot) for v in view] == [("noop", "every 10s", 10.0)]
    clock.set(at("2027-01-15 08:09:54"))
    assert queue_view(hosts[0].status(), [], []).schedule == ("noop every 10s · next in 6s",), "the TUI's line"


def test_downtime_gives_one_catch_up_order_and_no_slot_comes_back(open_kitchen: Callable[..., Kitchen],
                                                                   clock: FrozenClock) -> None:
    clock.advance(T0 - clock())
    k = open_kitchen(keep_done="1m", dedup_window="1m")
    plan = [parse("noop", every="10s")]
    assert len(Periodic(k, plan).check()) == 1
    clock.advance(3600)  # no oven ran for an hour: 360 slots missed
    assert len(Periodic(k, plan).check()) == 1, "one catch-up order, not a burst"
    oven = k.join("o")
    while (order := oven.claim()) is not None:
        assert oven.complete(order)
    k.submit("noop")  # the newest order stays
    clock.advance(120)
    assert k.purge().done == 2
    late = Periodic(k, plan)  # a fresh oven, after the slot's order and key are gone
    late.tried.clear()
    assert late.check(now=T0 + 3600) == [], "an old slot is never taken again"


@pytest.mark.processes
def test_real_ovens_fire_each_slot_once(tmp_path) -> None:
    shop = Shop(tmp_path)
    shop.ini.write_text(shop.ini.read_text() + "[schedule]\nnoop = every 1s\n")
    try:
        for name in ("a", "b", "c"):
            shop.oven(name)
        wait_for(lambda: shop.kitchen.status().orders.done >= 5, 30, "five slots cooked")
        keys = [r[0] for r in rows(shop.kitchen, "SELECT dedup_key FROM orders")]
        assert len(keys) == len(set(keys)) and all(k.startswith("noop@") for k in keys)
        slots = sorted(datetime.strptime(k[5:], "%Y-%m-%dT%H:%M:%SZ") for k in keys)
        gaps = {(b - a).total_seconds() for a, b in pairwise(slots)}
        assert gaps <= {1.0}, f"one order a second, none missing, none twice: {gaps}"
    finally:
        shop.close()
