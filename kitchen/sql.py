"""Every hot-path statement, written once for SQLite and compiled per dialect when a kitchen opens.

Each order transition is one conditional UPDATE: the WHERE clause is the compare, the SET is the swap.
State tests are literals (``state = 'queued'``), never parameters: SQLite only uses a partial index when
the query's WHERE visibly implies the index's WHERE.

The claim checks bucket ownership per candidate with a primary-key lookup (the ready index is walked in
priority order, so the first candidates usually match); that is ~35% cheaper than materialising the
oven's bucket set on every claim.
"""

from __future__ import annotations

from .db import Backend

ORDER_COLUMNS = "id, recipe, customer, payload, priority, bucket, attempt, fence, dedup_key"

# Taking an order back (its oven died, left, or its lease ran out): queued again, or burnt on its last attempt.
REQUEUE_SET = (
    "UPDATE orders SET state = CASE WHEN attempt >= ? THEN 'burnt' ELSE 'queued' END,"
    " run_at = ?, lease_until = NULL, progress = 0,"
    " error = CASE WHEN attempt >= ? THEN ? ELSE error END,"
    " finished_at = CASE WHEN attempt >= ? THEN ? ELSE NULL END")

TEXT = {
    "insert_order": (
        "INSERT INTO orders (dedup_key, recipe, customer, payload, priority, bucket, state, run_at, created_at,"
        " attempt, fence, progress) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, 0, 0, 0)"
        " ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING RETURNING id"),
    "insert_plain": (
        "INSERT INTO orders (recipe, customer, payload, priority, bucket, state, run_at, created_at, attempt, fence,"
        " progress) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, 0, 0, 0)"),
    "insert_plain_returning": (
        "INSERT INTO orders (recipe, customer, payload, priority, bucket, state, run_at, created_at, attempt, fence,"
        " progress) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, 0, 0, 0) RETURNING id"),
    "max_order_id": "SELECT max(id) FROM orders",
    "find_key": "SELECT id, bucket FROM orders WHERE dedup_key = ? AND dedup_key IS NOT NULL",
    "tally_submit": "UPDATE tally SET submitted = submitted + ?, duplicates = duplicates + ? WHERE bucket = ?",
    "tally_done": "UPDATE tally SET done = done + ? WHERE bucket = ?",
    "tally_burnt": "UPDATE tally SET burnt = burnt + ? WHERE bucket = ?",
    "tally_refused": "UPDATE tally SET refused = refused + 1 WHERE bucket = ?",
    "tally_requeued": "UPDATE tally SET requeued = requeued + ? WHERE bucket = ?",
    "tally_retried": "UPDATE tally SET retried = retried + 1 WHERE bucket = ?",
    "claim": (
        "UPDATE orders SET state = 'cooking', oven_id = ?, lease_until = ?, started_at = ?,"
        " attempt = attempt + 1, fence = fence + 1, progress = 0, finished_at = NULL"
        " WHERE id IN (SELECT id FROM orders WHERE state = 'queued' AND run_at <= ?"
        " AND (SELECT b.oven_id FROM buckets b WHERE b.bucket = orders.bucket) = ?"
        " AND EXISTS (SELECT 1 FROM ovens WHERE id = ? AND state = 'alive')"
        " ORDER BY priority DESC, id LIMIT ?{skip_locked})"
        f" RETURNING {ORDER_COLUMNS}"),
    "oven_beat": "UPDATE ovens SET heartbeat_at = ? WHERE id = ? AND state = 'alive'",
    "renew_leases": "UPDATE orders SET lease_until = ? WHERE oven_id = ? AND state = 'cooking'",
    "progress": "UPDATE orders SET progress = ? WHERE id = ? AND oven_id = ? AND fence = ? AND state = 'cooking'",
    "complete": (
        "UPDATE orders SET state = 'done', finished_at = ?, result = ?, lease_until = NULL, progress = 100"
        " WHERE id = ? AND state = 'cooking' AND oven_id = ? AND fence = ?"),
    "ledger": (
        "INSERT INTO ledger (order_id, oven_id, oven_name, fence, at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (order_id) DO NOTHING"),
    "oven_cooked": "UPDATE ovens SET cooked = cooked + ? WHERE id = ?",
    "order_now": "SELECT state, oven_id, fence FROM orders WHERE id = ?",
    "refusal": (
        "INSERT INTO refusals (order_id, oven_id, oven_name, fence, at, reason) VALUES (?, ?, ?, ?, ?, ?)"),
    "event": "INSERT INTO events (at, kind, oven_name, order_id, detail) VALUES (?, ?, ?, ?, ?)",
    "fail": (
        "UPDATE orders SET state = CASE WHEN attempt >= ? THEN 'burnt' ELSE 'queued' END,"
        " run_at = ?, error = ?, lease_until = NULL, progress = 0,"
        " finished_at = CASE WHEN attempt >= ? THEN ? ELSE NULL END"
        " WHERE id = ? AND state = 'cooking' AND oven_id = ? AND fence = ? RETURNING state"),
    "release_one": (
        "UPDATE orders SET state = 'queued', run_at = ?, lease_until = NULL, progress = 0, attempt = attempt - 1"
        " WHERE id = ? AND state = 'cooking' AND oven_id = ? AND fence = ? RETURNING bucket"),
    "release_oven": (
        "UPDATE orders SET state = 'queued', run_at = ?, lease_until = NULL, progress = 0, attempt = attempt - 1"
        " WHERE oven_id = ? AND state = 'cooking' RETURNING id, bucket"),
    "join": (
        "INSERT INTO ovens (name, host, pid, state, joined_at, heartbeat_at, cooked)"
        " VALUES (?, ?, ?, 'alive', ?, ?, 0) RETURNING id"),
    "oven_leave": "UPDATE ovens SET state = 'left', died_at = ? WHERE id = ? AND state = 'alive'",
    "oven_state": "SELECT state FROM ovens WHERE id = ?",
    "declare_dead": (
        "UPDATE ovens SET state = 'dead', died_at = ? WHERE state = 'alive' AND heartbeat_at < ?"
        " RETURNING id, name"),
    "requeue_oven": (
        REQUEUE_SET +
        " WHERE oven_id = ? AND state = 'cooking' RETURNING id, state, bucket"),
    "expire_leases": (
        REQUEUE_SET +
        " WHERE state = 'cooking' AND lease_until < ? RETURNING id, state, bucket, oven_id"),
    "requeue_stranded": (
        REQUEUE_SET +
        " WHERE state = 'cooking'"
        " AND NOT EXISTS (SELECT 1 FROM ovens WHERE ovens.id = orders.oven_id AND ovens.state = 'alive')"
        " RETURNING id, state, bucket"),
    "any_silent": "SELECT 1 FROM ovens WHERE state = 'alive' AND heartbeat_at < ? LIMIT 1",
    "any_expired": "SELECT 1 FROM orders WHERE state = 'cooking' AND lease_until < ? LIMIT 1",
    "orphan_buckets": (
        "SELECT count(*) FROM buckets b LEFT JOIN ovens o ON o.id = b.oven_id AND o.state = 'alive'"
        " WHERE o.id IS NULL"),
    "alive_count": "SELECT count(*) FROM ovens WHERE state = 'alive'",
    "any_stranded": (
        "SELECT 1 FROM orders WHERE state = 'cooking'"
        " AND NOT EXISTS (SELECT 1 FROM ovens WHERE ovens.id = orders.oven_id AND ovens.state = 'alive') LIMIT 1"),
    "ring_generation": "SELECT value FROM kitchen_meta WHERE key = 'ring_generation'{for_update}",
    "ring_cas": "UPDATE kitchen_meta SET value = ? WHERE key = 'ring_generation' AND value = ?",
    "alive_ovens": "SELECT id, name FROM ovens WHERE state = 'alive' ORDER BY id",
    "owners": "SELECT bucket, oven_id FROM buckets ORDER BY bucket",
    "move_bucket": (
        "UPDATE buckets SET oven_id = ?, prev_oven_id = ?, generation = ?, moved_at = ?"
        " WHERE bucket = ? AND oven_id IS ?"),
    "oven_names": "SELECT id, name FROM ovens WHERE id IN ({ids})",
    "requeue_burnt": (
        "UPDATE orders SET state = 'queued', run_at = ?, attempt = 0, error = NULL, finished_at = NULL,"
        " oven_id = NULL WHERE id = ? AND state = 'burnt' RETURNING bucket"),
    "all_burnt": "SELECT id FROM orders WHERE state = 'burnt' ORDER BY id",
}


class Statements:
    """The statements above, compiled for one backend; attribute access is a dict lookup."""

    def __init__(self, backend: Backend) -> None:
        for name, text in TEXT.items():
            setattr(self, name, backend.sql(text) if "{ids}" not in text else text)
        self._backend = backend

    def with_ids(self, name: str, count: int) -> str:
        """A statement taking a list of ids (only off the hot path)."""
        marks = ", ".join(["?"] * count)
        return self._backend.sql(TEXT[name].replace("{ids}", marks))
