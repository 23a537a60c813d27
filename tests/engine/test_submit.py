"""The order taker: committed tickets, submission dedup, all-or-nothing batches, stable routing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kitchen import BadOrder, Kitchen
from kitchen.core.hashing import bucket_for, stable_hash
from kitchen.protocol.submit import insert_many, prepare_many
from tests.engine.helpers import in_threads, rows, scalar, table_counts
from tests.support.processes import child_env


def test_submit_returns_a_committed_ticket(kitchen: Kitchen, open_kitchen) -> None:
    ticket = kitchen.submit("margherita", {"size": "L"}, customer="ada", key="ada-1")
    assert ticket.number > 0 and not ticket.duplicate
    other = open_kitchen()  # another process would see exactly this: a separate connection
    seen = other.ticket(ticket.number)
    assert seen.state == "queued"
    assert seen.payload == {"size": "L"}
    assert (seen.customer, seen.key, seen.bucket) == ("ada", "ada-1", ticket.bucket)
    assert other.status().orders.queued == 1


def test_duplicate_key_returns_first_ticket_and_is_counted(kitchen: Kitchen) -> None:
    first = kitchen.submit("margherita", {"n": 1}, customer="ada", key="k-1")
    again = kitchen.submit("marinara", {"n": 2}, customer="bob", key="k-1")
    assert again.duplicate and not first.duplicate
    assert (again.number, again.bucket) == (first.number, first.bucket)
    assert scalar(kitchen, "SELECT count(*) FROM orders") == 1
    assert kitchen.ticket(first.number).recipe == "margherita"
    status = kitchen.status()
    assert status.ledger.duplicate_submissions == 1
    assert status.orders.submitted == 1 and status.orders.queued == 1


def test_duplicates_inside_one_batch_and_across_batches(kitchen: Kitchen) -> None:
    tickets = kitchen.submit_many([{"recipe": "margherita", "key": "a"}, {"recipe": "margherita", "key": "a"},
                                   {"recipe": "margherita", "key": "b"}])
    assert [t.duplicate for t in tickets] == [False, True, False]
    assert tickets[0].number == tickets[1].number != tickets[2].number
    later = kitchen.submit_many([{"recipe": "margherita", "key": "b"}, {"recipe": "marinara"}])
    assert later[0].duplicate and later[0].number == tickets[2].number and not later[1].duplicate
    assert scalar(kitchen, "SELECT count(*) FROM orders") == 3
    assert kitchen.status().ledger.duplicate_submissions == 2


def test_concurrent_duplicate_submits_make_one_order(kitchen: Kitchen) -> None:
    tickets = in_threads(4, lambda i: kitchen.submit("margherita", {"i": i}, key="same"))
    assert len({t.number for t in tickets}) == 1
    assert sorted(t.duplicate for t in tickets) == [False, True, True, True]
    assert scalar(kitchen, "SELECT count(*) FROM orders") == 1
    assert kitchen.status().ledger.duplicate_submissions == 3


def test_submit_many_is_all_or_nothing(kitchen: Kitchen) -> None:
    good = {"recipe": "margherita", "payload": {"ok": True}}
    for bad in ({"recipe": "margherita", "payload": []}, {"recipe": "Bad Name"}, {"recipe": "margherita", "x": 1},
                {"recipe": "margherita", "priority": 1000}, "margherita"):
        with pytest.raises(BadOrder, match=r"^order 2: ") as info:
            kitchen.submit_many([good, dict(good, key="g"), bad, good])
        assert "\n" not in str(info.value)
    assert table_counts(kitchen)["orders"] == 0
    assert kitchen.status().orders.submitted == 0
    assert kitchen.submit_many([]) == []
    assert len(kitchen.submit_many([good] * 5)) == 5


def test_submit_many_rolls_back_when_the_database_refuses(kitchen: Kitchen) -> None:
    """A crash inside the submit transaction, after the inserts, leaves no order behind."""
    kitchen.submit("margherita", customer="ada")
    before = scalar(kitchen, "SELECT count(*) FROM orders")

    def boom(cur, *args):
        insert_many(cur, kitchen._ctx, *args)
        raise RuntimeError("crash after the inserts, before commit")

    prepared = prepare_many([{"recipe": "margherita", "customer": f"c{i}"} for i in range(10)], 65536)
    with pytest.raises(RuntimeError):
        kitchen.store.write(boom, prepared, kitchen.clock())
    assert scalar(kitchen, "SELECT count(*) FROM orders") == before


@pytest.mark.processes
def test_routing_is_stable_across_processes(open_kitchen) -> None:
    customers = ["ada", "bob", "ümlaut-kunde", "x" * 200]
    k = open_kitchen(buckets=64)
    buckets = [k.submit("margherita", customer=c).bucket for c in customers]
    assert buckets == [bucket_for(c, 64) for c in customers] == [stable_hash(c) % 64 for c in customers]
    code = ("import json, sys; from kitchen.core.hashing import stable_hash; names = sys.argv[1:];"
            " print(json.dumps([[stable_hash(c) % 64 for c in names], [hash(c) for c in names]]))")
    salted = []
    for seed in ("1", "4242"):
        env = child_env(PYTHONHASHSEED=seed)
        out = subprocess.run([sys.executable, "-c", code, *customers], env=env, capture_output=True, text=True,
                             check=True).stdout
        theirs, hashes = json.loads(out)
        assert theirs == buckets, f"PYTHONHASHSEED={seed} routed differently"
        salted.append(hashes)
    assert salted[0] != salted[1], "the seeds should salt hash(); otherwise this test proves nothing"


def test_routing_by_key_then_random_and_bucket_count_fixed(open_kitchen) -> None:
    k = open_kitchen(buckets=16)
    assert k.submit("margherita", key="only-key").bucket == bucket_for("only-key", 16)
    same_customer = {k.submit("margherita", customer="ada", key=f"ada-{i}").bucket for i in range(5)}
    assert same_customer == {bucket_for("ada", 16)}
    anonymous = {k.submit("margherita").bucket for _ in range(40)}
    assert anonymous <= set(range(16)) and len(anonymous) > 1
    again = open_kitchen(buckets=64)  # B is fixed when the database is created
    assert again.buckets == 16 and again.submit("margherita", customer="ada").bucket == bucket_for("ada", 16)
    assert rows(k, "SELECT count(*) FROM buckets") == [(16,)]
