"""Real `kitchen run` processes on two hosts (``KITCHEN_HOST``), SQLite and PostgreSQL: an idle oven takes
the quick orders waiting behind a long one, customer lanes hold across hosts (checked from the orders
table's own claim and finish times), and an order no oven can cook waits until one that can joins."""

from __future__ import annotations

import itertools
import subprocess
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from kitchen import Kitchen
from kitchen.core.hashing import bucket_for
from kitchen.ovens.procs import spawn_oven
from tests.support.processes import child_env, end
from tests.support.waiting import wait_for

SETTINGS = {"heartbeat_interval": 0.2, "heartbeat_timeout": 2.0, "reap_interval": 0.2, "lease": 30,
            "poll_interval": 0.2, "grace": 5, "speed": 1, "burn_rate": 0}
MENU = {"quick": 0.05, "slow": 4.0}
SOUP = 'from kitchen.ovens.recipes import recipe\n\n@recipe("soup")\ndef soup(ctx):\n    return {"bowls": 1}\n'


class TwoHosts:
    """A kitchen and the oven processes a test starts (each on its own host name); all killed afterwards."""

    def __init__(self, tmp: Path, url: str) -> None:
        self.tmp, self.url = tmp, url
        self.ini = tmp / "kitchen.ini"
        self.ini.write_text("[kitchen]\n" + "".join(f"{k} = {v}\n" for k, v in SETTINGS.items())
                            + "[menu]\n" + "".join(f"{k} = {v}\n" for k, v in MENU.items()))
        (tmp / "soup_recipes.py").write_text(SOUP)
        self.kitchen = Kitchen.open(url, heartbeat_timeout=2.0)
        self.procs: list[subprocess.Popen] = []

    def oven(self, name: str, host: str, *extra: str) -> subprocess.Popen:
        env = child_env(self.tmp, KITCHEN_HOST=host)  # tmp: soup_recipes.py
        proc = spawn_oven(name, database=self.url, config=str(self.ini), env=env,
                          extra=["--log-level", "info", *extra], log_path=str(self.tmp / f"{name}.log"))
        self.procs.append(proc)
        return proc

    def alive(self) -> list[str]:
        return sorted(o.name for o in self.kitchen.status().ovens if o.state == "alive")

    def close(self) -> None:
        for p in self.procs:
            end(p)
        self.kitchen.close()


@pytest.fixture
def shop(tmp_path: Path, backend_url: str) -> Iterator[TwoHosts]:
    s = TwoHosts(tmp_path, backend_url)
    yield s
    s.close()


def customers_owned_by(k: Kitchen, oven_name: str, n: int) -> list[str]:
    snap = k.status()
    oven_id = next(o.id for o in snap.ovens if o.name == oven_name and o.state == "alive")
    own = {b.bucket: b.oven_id for b in snap.buckets}
    found = [f"c{i}" for i in range(20_000) if own[bucket_for(f"c{i}", k.buckets)] == oven_id][:n]
    assert len(found) == n
    return found


def orders(k: Kitchen, numbers: list[int]) -> list:
    return [k.ticket(n) for n in numbers]


@pytest.mark.processes
def test_quick_orders_behind_a_long_one_are_taken_by_the_idle_host(shop: TwoHosts) -> None:
    shop.oven("oven-a", "host-a")
    shop.oven("oven-b", "host-b")
    wait_for(lambda: shop.alive() == ["oven-a", "oven-b"], 30, "both ovens")
    k = shop.kitchen
    names = customers_owned_by(k, "oven-a", 9)
    long = k.submit("slow", customer=names[0])
    quick = [k.submit("quick", customer=c).number for c in names[1:]]
    wait_for(lambda: all(t.state == "done" for t in orders(k, quick)), 30, "the quick orders")
    slow = k.ticket(long.number)
    assert slow.state == "cooking", "every quick order was done while the long one still baked"
    done = orders(k, quick)
    assert {t.oven for t in done} == {"oven-a", "oven-b"} - {slow.oven}, "the other oven cooked them all"
    hosts = {o.name: o.host for o in k.status().ovens}
    assert hosts == {"oven-a": "host-a", "oven-b": "host-b"}
    stolen = [e for e in k.events(limit=10_000) if e.kind == "stolen"]
    by_thief = {e.order_id for e in stolen if e.oven_name != "oven-a"}
    assert by_thief >= {t.ticket for t in done if t.oven == "oven-b"}, "each order from oven-a's buckets is a steal"


@pytest.mark.processes
def test_customer_lanes_hold_across_hosts(shop: TwoHosts) -> None:
    shop.oven("oven-a", "host-a")
    shop.oven("oven-b", "host-b")
    wait_for(lambda: shop.alive() == ["oven-a", "oven-b"], 30, "both ovens")
    k = shop.kitchen
    specs = [{"recipe": "quick", "customer": "hot"} for _ in range(20)]
    specs += [{"recipe": "quick", "customer": f"guest-{i % 10}"} for i in range(30)]
    tickets = [t.number for t in k.submit_many(specs)]
    wait_for(lambda: k.status().orders.done == len(tickets), 60, "every order")
    lanes: dict[str, list] = defaultdict(list)
    for t in orders(k, tickets):
        assert t.attempts == 1
        lanes[t.customer].append(t)
    for customer, lane in lanes.items():
        lane.sort(key=lambda t: t.started_at)
        assert [t.ticket for t in lane] == sorted(t.ticket for t in lane), f"{customer}: out of ticket order"
        for before, after in itertools.pairwise(lane):
            assert after.started_at >= before.finished_at, f"{customer}: #{after.ticket} overlapped #{before.ticket}"
    assert {t.oven for lane in lanes.values() for t in lane} == {"oven-a", "oven-b"}


@pytest.mark.processes
def test_an_order_no_oven_can_cook_waits_for_one_that_can(shop: TwoHosts) -> None:
    shop.oven("oven-a", "host-a")
    wait_for(lambda: shop.alive() == ["oven-a"], 30, "oven-a")
    k = shop.kitchen
    soups = [t.number for t in k.submit_many([{"recipe": "soup"}] * 3)]
    pizza = k.submit("quick")
    wait_for(lambda: k.ticket(pizza.number).state == "done", 30, "the pizza")
    assert k.status().no_oven_can_cook == {"soup": 3}
    assert all((t.state, t.attempts) == ("queued", 0) for t in orders(k, soups)), "never claimed, never burnt"
    shop.oven("oven-b", "host-b", "--recipes", "soup_recipes")  # a rolling deploy adds the recipe
    wait_for(lambda: all(t.state == "done" for t in orders(k, soups)), 30, "the soups")
    assert {t.oven for t in orders(k, soups)} == {"oven-b"}
    assert k.status().no_oven_can_cook == {} and k.status().orders.burnt == 0
