"""Exactly-once commits over a lossy network: when the reply to a COMMIT is lost (the server committed,
the client never heard), no transaction is blindly run again — each is settled by what it wrote."""

from __future__ import annotations

import pytest

from kitchen import FrozenClock, Kitchen
from tests.engine.helpers import scalar
from tests.support.lossy import LossyProxy


@pytest.fixture
def lossy(backend: str, backend_url: str):
    if backend != "postgresql":
        pytest.skip("SQLite has no network between kitchen and its database")
    proxy = LossyProxy()
    url = backend_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/")
    k = Kitchen.open(url, clock=FrozenClock(), heartbeat_timeout=5.0)
    yield k, proxy
    k.close()
    proxy.close()


def lose_next_commit(k: Kitchen, proxy: LossyProxy) -> None:
    proxy.swallow_next_commit()


def assert_lost_one(k: Kitchen, proxy: LossyProxy, before: int) -> None:
    assert proxy.swallowed == before + 1, "the test lost no COMMIT reply: it proves nothing"
    assert k.store.retried["commit-unknown"] >= 1


def test_a_keyless_submit_is_not_inserted_twice(lossy) -> None:
    k, proxy = lossy
    lose_next_commit(k, proxy)
    t = k.submit("noop")
    assert_lost_one(k, proxy, 0)
    assert scalar(k, "SELECT count(*) FROM orders") == 1 and not t.duplicate
    assert k.ticket(t.number).state == "queued" and k.status().orders.submitted == 1


def test_a_new_key_is_not_answered_as_a_duplicate(lossy) -> None:
    k, proxy = lossy
    lose_next_commit(k, proxy)
    t = k.submit("noop", key="k-1")
    assert_lost_one(k, proxy, 0)
    assert not t.duplicate and scalar(k, "SELECT count(*) FROM orders") == 1
    assert k.submit("noop", key="k-1").duplicate


def test_a_claim_does_not_strand_its_order(lossy) -> None:
    k, proxy = lossy
    oven = k.join("oven-1")
    k.submit_many([{"recipe": "noop"} for _ in range(3)])
    lose_next_commit(k, proxy)
    order = oven.claim()
    assert_lost_one(k, proxy, 0)
    assert order is not None and k.status().orders.cooking == 1, "one claim, one order cooking: none stranded"
    assert oven.complete(order) is True


def test_a_good_completion_is_not_recorded_as_refused(lossy) -> None:
    k, proxy = lossy
    oven = k.join("oven-1")
    k.submit("noop")
    order = oven.claim()
    lose_next_commit(k, proxy)
    assert oven.complete(order, {"ok": True}) is True
    assert_lost_one(k, proxy, 0)
    snap = k.status()
    assert snap.ledger.completions == 1 and snap.ledger.refused_completions == 0
    assert scalar(k, "SELECT count(*) FROM refusals") == 0


def test_a_failure_counts_one_retry(lossy) -> None:
    k, proxy = lossy
    oven = k.join("oven-1")
    k.submit("noop")
    order = oven.claim()
    lose_next_commit(k, proxy)
    assert oven.fail(order, "flaky") == "queued"
    assert_lost_one(k, proxy, 0)
    assert k.status().retried == 1 and k.ticket(order.id).state == "queued"


def test_a_heartbeat_and_a_join_survive_a_lost_reply(lossy) -> None:
    k, proxy = lossy
    lose_next_commit(k, proxy)
    oven = k.join("oven-1")
    assert_lost_one(k, proxy, 0)
    assert [o.name for o in k.status().ovens] == ["oven-1"], "joined once"
    lose_next_commit(k, proxy)
    oven.heartbeat()
    assert_lost_one(k, proxy, 1)
    assert oven.alive()
