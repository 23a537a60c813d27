"""A completion's statements: every bucket's tally counted in a group commit, and on PostgreSQL one statement
per completion (its ledger row, tally and finished-notification ride along), so an oven at prefetch 1 spends four
round trips per order: BEGIN, the completion (with its oven row), the next claim, COMMIT."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kitchen import Kitchen
from tests.engine.helpers import execute, rows


def _tally_matches_orders(k: Kitchen) -> None:
    done = dict(rows(k, "SELECT bucket, count(*) FROM orders WHERE state = 'done' GROUP BY bucket"))
    tally = {b: n for b, n in rows(k, "SELECT bucket, done FROM tally") if n}
    assert tally == done


def test_group_commit_counts_every_bucket_once(kitchen: Kitchen) -> None:
    oven = kitchen.join("oven-1")
    kitchen.submit_many([{"recipe": "margherita", "customer": f"c{i}"} for i in range(12)])
    hand = oven.claim_many(12)
    assert len({o.bucket for o in hand}) > 1, "the orders should span several buckets"
    stale = hand[3]
    execute(kitchen, "UPDATE orders SET fence = fence + 1 WHERE id = ?", stale.id)  # as if re-claimed elsewhere
    accepted, _ = oven.complete_many([(o, {"n": o.id}) for o in hand])
    assert accepted == [o is not stale for o in hand]
    _tally_matches_orders(kitchen)
    assert rows(kitchen, "SELECT count(*) FROM ledger") == [(11,)]
    assert kitchen.status().orders.done == 11 and kitchen.status().ledger.refused_completions == 1
    [again] = oven.claim_many(1) or [None]
    assert again is None
    assert oven.complete(hand[0]) is False, "a second completion of one order is refused"
    _tally_matches_orders(kitchen)


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement psycopg cursors execute from now on (their first word or two)."""
    import psycopg

    seen: list[str] = []
    real = psycopg.Cursor.execute

    def execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(" ".join(re.findall(r"\w+", str(query))[:2]))
        return real(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", execute)
    return seen


def test_one_statement_per_completion_on_postgres(backend: str, kitchen: Kitchen, statements: list[str]) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite runs in process: no round trips to save")
    import psycopg

    from tests.support.postgres import PG_SERVER

    oven = kitchen.join("oven-1")
    kitchen.submit_many([{"recipe": "margherita", "customer": f"c{i}"} for i in range(6)])
    first = oven.claim()
    schema = rows(kitchen, "SELECT current_schema()")[0][0]
    with psycopg.connect(PG_SERVER, autocommit=True) as listener:
        listener.execute("LISTEN kitchen_finished")
        statements.clear()
        accepted, hand = oven.complete_many([(first, {"ok": 1})], claim=1)
        assert accepted == [True] and len(hand) == 1
        assert statements == ["BEGIN", "WITH ov", "UPDATE orders", "COMMIT"], statements
        heard = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
        assert heard == [schema], "the completion's statement sends the finished-notification"
        statements.clear()
        accepted, _ = oven.complete_many([(hand[0], None)], claim=0)
        assert accepted == [True]
        assert oven.complete(hand[0]) is False, "a second completion is refused: no ledger row, no tally"
    assert kitchen.status().ovens[0].cooked == 2, "the lone completions counted on the oven row, the refusal not"
    statements.clear()
    more = oven.claim_many(4)
    accepted, _ = oven.complete_many([(o, None) for o in more])
    assert accepted == [True] * 4
    buckets = len({o.bucket for o in more})
    per_bucket = ["SELECT bucket", "UPDATE tally"] if buckets > 1 else ["UPDATE tally"]
    assert statements[statements.index("UPDATE ovens"):] == [
        "UPDATE ovens", *["WITH fin"] * 4, *per_bucket, "SELECT pg_notify", "COMMIT"], statements
    _tally_matches_orders(kitchen)
    assert rows(kitchen, "SELECT count(*) FROM ledger") == [(6,)]
