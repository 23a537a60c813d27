"""Every statement kitchen runs, written once in shared SQL and compiled per dialect when a store opens.

Conventions (where to add a statement: a constant here, a field on ``Statements``, its row mapping beside
its column list):
- Each order transition is one conditional UPDATE: the WHERE clause is the compare, the SET is the swap.
- LOCK ORDER, kept by every write transaction so PostgreSQL never deadlocks: ovens rows, then orders rows,
  then tally rows in bucket order, then kitchen_meta (the ring generation) and buckets; ledger, refusals and
  events are only inserted; claims skip locked rows and never wait. tally_inbox rows are inserted by submits
  on an application's connection (which lock no shared row: that transaction may stay open for long) and
  deleted only by the fold, which then takes tally rows in bucket order; no one holding a tally row waits for
  an inbox row. A heartbeat touches its oven row and at
  most the progress of one order (after it); leases are renewed by the oven row, not order by order.
- State tests are literals (``state = 'queued'``), never parameters: SQLite only uses a partial index when
  the query's WHERE visibly implies the index's WHERE.
- Parameters are ``?`` for statements of one to three values and ``:name`` beyond that; a dialect turns
  both into its driver's paramstyle. The oven loop's few named statements (``Args``) are called through a
  binder, which lets SQLite take them by position (``positional``), a dict of names costing it ~5% of an
  order. A dialect replaces a whole statement where its SQL differs (see
  ``POSTGRES_TEXT`` in postgres.py); there is no templating inside statements. The one exception is the
  claim's four variants (own buckets or steal, with or without a menu), composed once at import by
  ``claim_text`` from named fragments, so the variants cannot drift apart; a dialect composes its own with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from operator import itemgetter
from typing import Any

from kitchen.core.orders import Order

# -- orders: the columns an oven needs, and the row -> Order mapping beside them -------------------------------------

ORDER_COLUMNS = "id, recipe, customer, payload, priority, bucket, attempt, fence, dedup_key"


def order_from_row(row: tuple) -> Order:
    """A claimed row (``ORDER_COLUMNS``) as an Order; the payload is decoded later, outside the transaction."""
    order_id, recipe, customer, payload, priority, bucket, attempt, fence, key = row
    return Order(int(order_id), recipe, payload, int(attempt), int(fence), int(bucket), int(priority), customer, key)


# Taking an order back (its oven died, left, or its lease ran out): queued again, or burnt on its last attempt;
# cancelled if a cancel was asked while it cooked (schema v5).
_REQUEUE_SET = (
    "UPDATE orders SET state = CASE WHEN cancel_at IS NOT NULL THEN 'cancelled'"
    " WHEN attempt >= :max_attempts THEN 'burnt' ELSE 'queued' END,"
    " run_at = :now, lease_until = NULL, progress = 0,"
    " error = CASE WHEN cancel_at IS NULL AND attempt >= :max_attempts THEN :error ELSE error END,"
    " finished_at = CASE WHEN cancel_at IS NOT NULL OR attempt >= :max_attempts THEN :now ELSE NULL END")

# -- the order taker -------------------------------------------------------------------------------------------------

INSERT_ORDER = (
    "INSERT INTO orders (dedup_key, recipe, customer, payload, priority, bucket, state, run_at, created_at,"
    " attempt, fence, progress) VALUES (:key, :recipe, :customer, :payload, :priority, :bucket, 'queued',"
    " :run_at, :now, 0, 0, 0)"
    " ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING RETURNING id")
INSERT_PLAIN = (
    "INSERT INTO orders (recipe, customer, payload, priority, bucket, state, run_at, created_at, attempt, fence,"
    " progress) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, 0, 0, 0)")
INSERT_PLAIN_RETURNING = INSERT_PLAIN + " RETURNING id"
MAX_ORDER_ID = "SELECT max(id) FROM orders"
FIND_KEY = "SELECT id, bucket, state, finished_at FROM orders WHERE dedup_key = ? AND dedup_key IS NOT NULL"
# Dedup windows: a key dedups while its order is unfinished and for ``dedup_window`` after it finished. Past
# that, the key is taken off its (kept) order at the next submit of it, or its tombstone is dropped.
TOMBSTONE = "SELECT order_id, bucket, until FROM dedup_tombstones WHERE dedup_key = ?"
DROP_TOMBSTONE = "DELETE FROM dedup_tombstones WHERE dedup_key = ? AND until <= ?"
RELEASE_KEY = (
    "UPDATE orders SET dedup_key = NULL"
    " WHERE id = ? AND state IN ('done', 'burnt') AND finished_at <= ? RETURNING id")

# -- the per-bucket tally (status stays O(buckets)) ------------------------------------------------------------------

TALLY_SUBMIT = "UPDATE tally SET submitted = submitted + ?, duplicates = duplicates + ? WHERE bucket = ?"
TALLY_DONE = "UPDATE tally SET done = done + ? WHERE bucket = ?"
TALLY_BURNT = "UPDATE tally SET burnt = burnt + ? WHERE bucket = ?"
TALLY_REFUSED = "UPDATE tally SET refused = refused + 1 WHERE bucket = ?"
TALLY_REQUEUED = "UPDATE tally SET requeued = requeued + ? WHERE bucket = ?"
TALLY_RETRIED = "UPDATE tally SET retried = retried + 1 WHERE bucket = ?"
TALLY_CANCELLED = "UPDATE tally SET cancelled = cancelled + ? WHERE bucket = ?"
# A submit on an application's connection counts into the insert-only inbox (schema v7), never into a tally
# row; readers add the inbox to the tally, and the reaper folds it in: each row is deleted by exactly one fold
# (DELETE ... RETURNING is the compare-and-set), which adds it to the tally in the same short transaction.
INBOX_SUBMIT = "INSERT INTO tally_inbox (bucket, submitted, duplicates) VALUES (?, ?, ?)"
INBOX_TAKE = (
    "DELETE FROM tally_inbox WHERE id IN (SELECT id FROM tally_inbox ORDER BY id LIMIT ?)"
    " RETURNING bucket, submitted, duplicates")
ANY_INBOX = "SELECT 1 FROM tally_inbox LIMIT 1"

# -- an oven's side --------------------------------------------------------------------------------------------------

# Claims. Every variant is the same conditional UPDATE (WHERE: still queued, ready, its oven alive; SET: a new
# fence) over a different walk of the ready index, priority then age:
# - CLAIM walks this oven's own buckets: ownership is checked per candidate with a primary-key lookup (the first
#   candidates usually match): ~35% cheaper than materialising the bucket set. STEAL walks every bucket; an oven
#   runs it only when its own buckets gave nothing, so owner-first costs no extra statement when they have work.
# - ``_MENU`` variants take only recipes in ``:menu`` (a JSON list of names, ``["noop","pizza"]``), matched as a
#   quoted name inside that text: recipe names are ``[a-z][a-z0-9_]*`` (check_recipe_name, at submit and for
#   menus), so ``"name"`` occurs in the list exactly when the name is one of its items. Not ``IN (SELECT value
#   FROM json_each(:menu))``: SQLite builds that list as an ephemeral table, a b-tree with its own pager and two
#   zeroed 4 KiB pages, at every claim (~32k instructions of an oven loop's ~435k per order at prefetch 1).
#   A function of the row is no index constraint, so SQLite still walks orders_ready, which holds the recipe.
#   In CLAIM_MENU the name is looked for only in the oven's own candidates (CASE: owner first): a walk past
#   another oven's orders (two ovens, one of them behind) then costs no more than without a menu, where a
#   separate term is tested on every row (measured, 10,000 rows passed: 1.3 ms against 2.3 ms a claim).
# - Customer lanes: a candidate with a customer is taken only if no older order of its customer is queued and
#   none is cooking (orders_lane, orders_lane_cooking); ``customer IS NULL OR`` skips both lookups otherwise.
#   The unique index orders_lane_cooking is the backstop: two orders of one lane can never be cooking.
_CLAIM_SET = (
    "UPDATE orders SET state = 'cooking', oven_id = :oven, lease_until = :lease_until, started_at = :now,"
    " attempt = attempt + 1, fence = fence + 1, progress = 0, finished_at = NULL")
_OWNER = "(SELECT b.oven_id FROM buckets b WHERE b.bucket = o.bucket) = :oven"
_OWN = " AND " + _OWNER
_ALIVE = " AND EXISTS (SELECT 1 FROM ovens WHERE id = :oven AND state = 'alive')"
_MENU_HAS = "instr(:menu, '\"' || o.recipe || '\"') > 0"
_ON_MENU = " AND " + _MENU_HAS
_OWN_ON_MENU = f" AND CASE WHEN {_OWNER} THEN {_MENU_HAS} ELSE 0 END"
_LANE_FREE = (
    " AND (o.customer IS NULL OR (NOT EXISTS (SELECT 1 FROM orders l WHERE l.customer = o.customer"
    " AND l.state = 'queued' AND l.id < o.id) AND NOT EXISTS (SELECT 1 FROM orders l WHERE l.customer = o.customer"
    " AND l.state = 'cooking')))")
# A steal also returns the bucket's owner at the claim (for the 'stolen' event); None: the bucket has no owner.
STEAL_RETURNING = f" RETURNING {ORDER_COLUMNS}, (SELECT b.oven_id FROM buckets b WHERE b.bucket = orders.bucket)"


def claim_text(*, own: bool, on_menu: str | None, lock: str = "", owner: str = _OWN) -> str:
    """One claim variant: own buckets (``owner``: the test) or any; with a menu check (its SQL) or none;
    ``lock`` after the LIMIT."""
    where = "o.state = 'queued' AND o.run_at <= :now" + (owner if own else "") + _ALIVE + (on_menu or "")
    returning = f" RETURNING {ORDER_COLUMNS}" if own else STEAL_RETURNING
    return (f"{_CLAIM_SET} WHERE id IN (SELECT o.id FROM orders o WHERE {where}{_LANE_FREE}"
            f" ORDER BY o.priority DESC, o.id LIMIT :limit{lock}){returning}")


# Are this oven's buckets empty (ready or delayed)? From the per-bucket tally and the (few) cooking orders, not
# the queue: asked only by an oven whose last claim found nothing of its own, so it does not walk the whole
# ready index in the own-buckets claim before every steal.
OWN_WAITING = (
    "SELECT (SELECT coalesce(sum(t.submitted - t.done - t.burnt - t.cancelled), 0) FROM tally t"
    " JOIN buckets b ON b.bucket = t.bucket WHERE b.oven_id = :oven)"
    " + (SELECT coalesce(sum(i.submitted), 0) FROM tally_inbox i JOIN buckets b ON b.bucket = i.bucket"
    " WHERE b.oven_id = :oven)"
    " - (SELECT count(*) FROM orders o JOIN buckets b ON b.bucket = o.bucket"
    " WHERE o.state = 'cooking' AND b.oven_id = :oven)")
CLAIM = claim_text(own=True, on_menu=None)
CLAIM_MENU = claim_text(own=True, on_menu=None, owner=_OWN_ON_MENU)
STEAL = claim_text(own=False, on_menu=None)
STEAL_MENU = claim_text(own=False, on_menu=_ON_MENU)
OVEN_BEAT = "UPDATE ovens SET heartbeat_at = ? WHERE id = ? AND state = 'alive'"
PROGRESS = (
    "UPDATE orders SET progress = :progress"
    " WHERE id = :id AND oven_id = :oven AND fence = :fence AND state = 'cooking'")
COMPLETE = (
    "UPDATE orders SET state = 'done', finished_at = :now, result = :result, lease_until = NULL, progress = 100,"
    " error = NULL, traceback = NULL WHERE id = :id AND state = 'cooking' AND oven_id = :oven AND fence = :fence")
LEDGER = (
    "INSERT INTO ledger (order_id, oven_id, oven_name, fence, at) VALUES (:id, :oven, :name, :fence, :now)"
    " ON CONFLICT (order_id) DO NOTHING")
# A dialect that can write several tables in one statement offers a completion in one round trip: COMPLETE and
# its LEDGER row (COMPLETE_LEDGER, one row back when accepted), and for a transaction completing one order, also
# its OVEN_COOKED (of one), TALLY_DONE and the finished-notification (COMPLETE_ONE), in LOCK ORDER. Empty here:
# SQLite runs them one by one (no round trips to save in process).
COMPLETE_LEDGER = ""
COMPLETE_ONE = ""
# The same dialects count a group commit's completions in all its buckets at once: TALLY_LOCK takes the rows in
# bucket order (LOCK ORDER), then one TALLY_DONE_MANY adds to each. Empty here: TALLY_DONE per bucket.
TALLY_LOCK = ""
TALLY_DONE_MANY = ""
# First in a completion (see LOCK ORDER). A completion proves its oven alive as a heartbeat does: an oven whose
# loop keeps the write lock busy cannot starve its own heartbeat thread into a false death.
# A dead oven's last heartbeat is history: a zombie's (refused) completion leaves it as it was.
OVEN_COOKED = (
    "UPDATE ovens SET cooked = cooked + ?,"
    " heartbeat_at = CASE WHEN state = 'alive' THEN max(heartbeat_at, ?) ELSE heartbeat_at END WHERE id = ?")
ORDER_NOW = "SELECT state, oven_id, fence FROM orders WHERE id = ?"
REFUSAL = (
    "INSERT INTO refusals (order_id, oven_id, oven_name, fence, at, reason, code, current_fence, order_state)"
    " VALUES (:id, :oven, :name, :fence, :now, '', :code, :current_fence, :order_state)")
FAIL = (
    "UPDATE orders SET state = CASE WHEN cancel_at IS NOT NULL THEN 'cancelled'"
    " WHEN attempt >= :max_attempts THEN 'burnt' ELSE 'queued' END,"
    " run_at = :run_at, error = :error, traceback = :traceback, lease_until = NULL, progress = 0,"
    " finished_at = CASE WHEN cancel_at IS NOT NULL OR attempt >= :max_attempts THEN :now ELSE NULL END"
    " WHERE id = :id AND state = 'cooking' AND oven_id = :oven AND fence = :fence RETURNING state")
# Cancel: a queued order at once; a cooking one is asked (its oven hears it at its next heartbeat, and ends it
# cancelled unless it completes first: both are compare-and-set on the claim's fence).
CANCEL_QUEUED = (
    "UPDATE orders SET state = 'cancelled', cancel_at = ?, finished_at = ? WHERE id = ? AND state = 'queued'"
    " RETURNING bucket")
CANCEL_COOKING = "UPDATE orders SET cancel_at = ? WHERE id = ? AND state = 'cooking'"
CANCEL_ASKED = "SELECT id FROM orders WHERE oven_id = ? AND state = 'cooking' AND cancel_at IS NOT NULL"
CANCELLED = (
    "UPDATE orders SET state = 'cancelled', finished_at = :now, lease_until = NULL"
    " WHERE id = :id AND state = 'cooking' AND oven_id = :oven AND fence = :fence AND cancel_at IS NOT NULL"
    " RETURNING bucket")
# Handing orders back (graceful shutdown): queued again, no attempt counted; cancelled if a cancel was asked.
_RELEASE_SET = (
    "UPDATE orders SET state = CASE WHEN cancel_at IS NOT NULL THEN 'cancelled' ELSE 'queued' END,"
    " finished_at = CASE WHEN cancel_at IS NOT NULL THEN :now ELSE NULL END,"
    " run_at = :now, lease_until = NULL, progress = 0, attempt = attempt - 1")
RELEASE_ONE = (
    _RELEASE_SET + " WHERE id = :id AND state = 'cooking' AND oven_id = :oven AND fence = :fence"
    " RETURNING id, bucket, state")
RELEASE_OVEN = _RELEASE_SET + " WHERE oven_id = :oven AND state = 'cooking' RETURNING id, bucket, state"
JOIN = (
    "INSERT INTO ovens (name, host, pid, state, joined_at, heartbeat_at, cooked)"
    " VALUES (:name, :host, :pid, 'alive', :now, :now, 0) RETURNING id")
OVEN_MENU = "UPDATE ovens SET menu = ? WHERE id = ?"  # in the join's transaction, only for an oven with a menu
OVEN_LEAVE = "UPDATE ovens SET state = 'left', died_at = ? WHERE id = ? AND state = 'alive'"
OVEN_STATE = "SELECT state FROM ovens WHERE id = ?"
EVENT = (
    "INSERT INTO events (at, kind, oven_name, order_id, detail, data)"
    " VALUES (:now, :kind, :oven, :order, '', :data)")

# -- the reaper ------------------------------------------------------------------------------------------------------

# ``spare``: the reaper's own oven (or -1), never judged by itself: a reaper that runs proves its process alive.
DECLARE_DEAD = (
    "UPDATE ovens SET state = 'dead', died_at = ? WHERE state = 'alive' AND heartbeat_at < ? AND id <> ?"
    " RETURNING id, name")
REQUEUE_OVEN = _REQUEUE_SET + " WHERE oven_id = :oven AND state = 'cooking' RETURNING id, state, bucket"
# A claim's lease runs from the claim and is renewed by its oven's heartbeat (never row by row): an order is
# taken back once both its claim lease and its oven's last heartbeat are older than ``lease``.
EXPIRE_LEASES = (
    _REQUEUE_SET + " WHERE state = 'cooking' AND lease_until < :now"
    " AND EXISTS (SELECT 1 FROM ovens WHERE ovens.id = orders.oven_id AND ovens.heartbeat_at < :stale)"
    " RETURNING id, state, bucket")
REQUEUE_STRANDED = (
    _REQUEUE_SET + " WHERE state = 'cooking'"
    " AND NOT EXISTS (SELECT 1 FROM ovens WHERE ovens.id = orders.oven_id AND ovens.state = 'alive')"
    " RETURNING id, state, bucket")
ANY_SILENT = "SELECT 1 FROM ovens WHERE state = 'alive' AND heartbeat_at < ? AND id <> ? LIMIT 1"
ANY_EXPIRED = (
    "SELECT 1 FROM orders WHERE state = 'cooking' AND lease_until < ?"
    " AND EXISTS (SELECT 1 FROM ovens WHERE ovens.id = orders.oven_id AND ovens.heartbeat_at < ?) LIMIT 1")
ORPHAN_BUCKETS = (
    "SELECT count(*) FROM buckets b LEFT JOIN ovens o ON o.id = b.oven_id AND o.state = 'alive'"
    " WHERE o.id IS NULL")
ALIVE_COUNT = "SELECT count(*) FROM ovens WHERE state = 'alive'"
ANY_STRANDED = (
    "SELECT 1 FROM orders WHERE state = 'cooking'"
    " AND NOT EXISTS (SELECT 1 FROM ovens WHERE ovens.id = orders.oven_id AND ovens.state = 'alive') LIMIT 1")

# -- the ring --------------------------------------------------------------------------------------------------------

RING_GENERATION = "SELECT value FROM kitchen_meta WHERE key = 'ring_generation'"
RING_CAS = "UPDATE kitchen_meta SET value = ? WHERE key = 'ring_generation' AND value = ?"
ALIVE_OVENS = "SELECT id, name FROM ovens WHERE state = 'alive' ORDER BY id"
OWNERS = "SELECT bucket, oven_id FROM buckets ORDER BY bucket"
MOVE_BUCKET = (
    "UPDATE buckets SET oven_id = :after, prev_oven_id = :before, generation = :generation, moved_at = :now"
    " WHERE bucket = :bucket AND oven_id IS :before")

# -- dead letters ----------------------------------------------------------------------------------------------------

REQUEUE_BURNT = (
    "UPDATE orders SET state = 'queued', run_at = ?, attempt = 0, error = NULL, finished_at = NULL,"
    " oven_id = NULL WHERE id = ? AND state = 'burnt' RETURNING bucket")
ALL_BURNT = "SELECT id FROM orders WHERE state = 'burnt' ORDER BY id"

# -- retention (kitchen.protocol.retention) ---------------------------------------------------------------------------

# The newest order is never purged: SQLite (no AUTOINCREMENT in the first release's table) numbers a new order
# max(id) + 1, so keeping the highest id keeps ticket numbers from ever being handed out twice.
# Done orders are found through the ledger: one row per done order, appended in completion order, so its first
# rows are the oldest completions and the completion path keeps no extra index for the purge. Each window is
# bounded (the first :limit rows), so a pass with nothing old enough reads :limit rows, never the whole table.
PURGE_DONE = (
    "DELETE FROM orders WHERE id IN (SELECT w.order_id FROM (SELECT order_id, at FROM ledger ORDER BY id"
    " LIMIT :limit) AS w WHERE w.at < :before) AND state = 'done' AND id < (SELECT max(id) FROM orders)"
    " RETURNING id, dedup_key, finished_at, bucket")
PURGE_BURNT = (
    "DELETE FROM orders WHERE id IN (SELECT id FROM orders WHERE state = 'burnt' AND finished_at < :before"
    " ORDER BY finished_at LIMIT :limit) AND state = 'burnt' AND id < (SELECT max(id) FROM orders)"
    " RETURNING id, dedup_key, finished_at, bucket")
PURGE_LEDGER_OF = "DELETE FROM ledger WHERE order_id = ?"
PURGE_REFUSALS_OF = "DELETE FROM refusals WHERE order_id = ?"
PURGE_EVENTS_OF = "DELETE FROM events WHERE order_id = ?"
PURGE_EVENTS = (
    "DELETE FROM events WHERE id IN (SELECT w.id FROM (SELECT id, at FROM events ORDER BY id LIMIT ?) AS w"
    " WHERE w.at < ?)")
PURGE_REFUSALS = (
    "DELETE FROM refusals WHERE id IN (SELECT w.id FROM (SELECT id, at FROM refusals ORDER BY id LIMIT ?) AS w"
    " WHERE w.at < ?)")
TOMBSTONE_PUT = (
    "INSERT INTO dedup_tombstones (dedup_key, order_id, bucket, until) VALUES (:key, :id, :bucket, :until)"
    " ON CONFLICT (dedup_key) DO UPDATE SET order_id = excluded.order_id, bucket = excluded.bucket,"
    " until = excluded.until")
PURGE_TOMBSTONES = (
    "DELETE FROM dedup_tombstones WHERE dedup_key IN (SELECT dedup_key FROM dedup_tombstones WHERE until <= ?"
    " ORDER BY until LIMIT ?)")
# Is there anything to purge? Cheap reads (the head of each window), so an idle reaper takes no write lock.
_NOT_NEWEST = " AND order_id < (SELECT max(id) FROM orders)"
OLDEST_COMPLETION = "SELECT at FROM ledger WHERE +order_id < (SELECT max(id) FROM orders) ORDER BY id LIMIT 1"
OLDEST_BURNT = "SELECT min(finished_at) FROM orders WHERE state = 'burnt' AND id < (SELECT max(id) FROM orders)"
OLDEST_EVENT = "SELECT at FROM events ORDER BY id LIMIT 1"
OLDEST_REFUSAL = "SELECT at FROM refusals ORDER BY id LIMIT 1"
OLDEST_TOMBSTONE = "SELECT min(until) FROM dedup_tombstones"
# --dry-run: what a purge would take (reads; the ledger and events counts read those tables).
COUNT_DONE_BEFORE = "SELECT count(*) FROM ledger WHERE at < ?" + _NOT_NEWEST
COUNT_BURNT_BEFORE = (
    "SELECT count(*) FROM orders WHERE state = 'burnt' AND finished_at < ? AND id < (SELECT max(id) FROM orders)")
COUNT_EVENTS_BEFORE = "SELECT count(*) FROM events WHERE at < ?"

# -- periodic orders (kitchen.protocol.periodic) ---------------------------------------------------------------------

# One kitchen_meta row per periodic recipe, 'slot:<recipe>' -> '<last slot> <next slot> <rule>', the slots as
# fixed-width text so the compare-and-set compares times: a slot is taken once, by whichever oven gets there.
SLOT_INIT = "INSERT INTO kitchen_meta (key, value) VALUES (?, '') ON CONFLICT (key) DO NOTHING"
SLOT_TAKE = "UPDATE kitchen_meta SET value = ? WHERE key = ? AND substr(value, 1, 17) < ? RETURNING key"
SLOT_ROWS = "SELECT key, value FROM kitchen_meta WHERE key > 'slot:' AND key < 'slot;' ORDER BY key"  # ';' follows ':'

# -- reads (see kitchen.protocol.reads for the row mappings) ---------------------------------------------------------

TALLY_TOTALS = (
    "SELECT sum(submitted), sum(done), sum(burnt), sum(duplicates), sum(refused), sum(requeued), sum(retried),"
    " sum(cancelled) FROM (SELECT submitted, done, burnt, duplicates, refused, requeued, retried, cancelled"
    " FROM tally UNION ALL SELECT submitted, 0, 0, duplicates, 0, 0, 0, 0 FROM tally_inbox) AS t")  # + the inbox
COOKING_ORDERS = (
    "SELECT id, oven_id, recipe, customer, progress, attempt, fence, bucket, started_at FROM orders"
    " WHERE state = 'cooking' ORDER BY +id")  # +id: SQLite keeps the orders_cooking index (8dcab8b)
OVEN_COLUMNS = "id, name, host, pid, state, joined_at, heartbeat_at, died_at, cooked, menu"
ALIVE_OVEN_ROWS = f"SELECT {OVEN_COLUMNS} FROM ovens WHERE state = 'alive' ORDER BY id"
GONE_OVEN_ROWS = f"SELECT {OVEN_COLUMNS} FROM ovens WHERE state <> 'alive' ORDER BY id DESC LIMIT ?"
BUCKET_ROWS = "SELECT bucket, oven_id, prev_oven_id, generation, moved_at FROM buckets ORDER BY bucket"
OVEN_NAME = "SELECT name FROM ovens WHERE id = ?"
TICKET_COLUMNS = (
    "id, state, recipe, customer, dedup_key, priority, bucket, attempt, fence, oven_id, progress, payload,"
    " result, error, created_at, run_at, started_at, finished_at, traceback")
TICKET = f"SELECT {TICKET_COLUMNS} FROM orders WHERE id = ?"
LEDGER_ROWS = "SELECT id, order_id, oven_id, oven_name, fence, at FROM ledger ORDER BY id DESC LIMIT ?"
REFUSAL_ROWS = (
    "SELECT id, order_id, oven_id, oven_name, fence, at, reason, code, current_fence, order_state FROM refusals"
    " ORDER BY id DESC LIMIT ?")
EVENT_COLUMNS = "id, at, kind, oven_name, order_id, detail, data"
EVENTS_AFTER = f"SELECT {EVENT_COLUMNS} FROM events WHERE id > ? ORDER BY id DESC LIMIT ?"
LAST_EVENT_OF_KIND = f"SELECT {EVENT_COLUMNS} FROM events WHERE kind = ? ORDER BY id DESC LIMIT 1"
RECENT_ORDERS = (
    "SELECT id, recipe, customer, state, attempt, bucket, progress, priority, error FROM orders"
    " ORDER BY id DESC LIMIT ?")
BURNT_ORDERS = (
    "SELECT id, recipe, customer, attempt, error, finished_at FROM orders WHERE state = 'burnt'"
    " ORDER BY id LIMIT ?")
LEDGER_TIMES = "SELECT at FROM ledger ORDER BY id DESC LIMIT ?"
META = "SELECT key, value FROM kitchen_meta"
# Metrics' latency histograms: each completion after a ledger id, with its order's wait for a claim (claimed at
# minus ready at) and its time from order to done (ledger at minus created at).
LATENCIES = (
    "SELECT l.id, o.started_at - o.run_at, l.at - o.created_at FROM ledger l JOIN orders o ON o.id = l.order_id"
    " WHERE l.id > ? ORDER BY l.id LIMIT ?")
# The log summary's "oldest waiting": the next ready order (priority, then age) and since when it is ready.
NEXT_READY = "SELECT run_at FROM orders WHERE state = 'queued' AND run_at <= ? ORDER BY priority DESC, id LIMIT 1"
# Status's "no oven can cook": recipe and count over the next ``?`` queued orders (WAITING_COUNT_CAP), read
# from orders_ready alone (it carries the recipe: no table reads, never the whole queue).
WAITING_RECIPES = (
    "SELECT recipe, count(*) FROM (SELECT recipe FROM orders WHERE state = 'queued'"
    " ORDER BY priority DESC, id LIMIT ?) AS next_up GROUP BY recipe")
CURRENT_GENERATION = RING_GENERATION  # for reads: never overridden with a row lock


NAMED = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")  # a :name parameter (not a PostgreSQL ::cast)
Binder = Callable[[Mapping[str, Any]], Any]


def _as_is(params: Mapping[str, Any]) -> Mapping[str, Any]:
    return params


@dataclass(frozen=True)
class Args:
    """How the oven loop's statements get their parameters: ``cur.execute(st.claim, st.args.claim(params))``.

    The text and the call sites name every parameter. A dialect that binds names slowly compiles these few to
    positions (``positional``); for the others each binder hands the dict on as it is.
    """

    claim: Binder = _as_is
    claim_menu: Binder = _as_is
    steal: Binder = _as_is
    steal_menu: Binder = _as_is
    complete: Binder = _as_is
    ledger: Binder = _as_is


def positional(text: str) -> tuple[str, Binder]:
    """``:name`` -> ``?``, and the binder that makes the matching tuple from a dict of names.

    Python's sqlite3 binds a dict by asking SQLite each parameter's name and looking it up, ~1.4k instructions
    a name on Python 3.11; a tuple is bound by position. On the oven loop's claim, completion and ledger row
    that was 5% of an order's cost (callgrind, prefetch 1).
    """
    names = NAMED.findall(text)
    pick = itemgetter(*names)
    return NAMED.sub("?", text), (pick if len(names) > 1 else lambda params: (pick(params),))


@dataclass(frozen=True)
class Statements:
    """The statements above, compiled for one dialect. Each field is the constant of the same name, upper-case
    (``args`` excepted: see Args)."""

    insert_order: str
    insert_plain: str
    insert_plain_returning: str
    max_order_id: str
    find_key: str
    tombstone: str
    drop_tombstone: str
    release_key: str
    tally_submit: str
    tally_done: str
    tally_burnt: str
    tally_refused: str
    tally_requeued: str
    tally_retried: str
    tally_cancelled: str
    inbox_submit: str
    inbox_take: str
    any_inbox: str
    claim: str
    claim_menu: str
    own_waiting: str
    steal: str
    steal_menu: str
    oven_beat: str
    progress: str
    complete: str
    ledger: str
    complete_ledger: str
    complete_one: str
    tally_lock: str
    tally_done_many: str
    oven_cooked: str
    order_now: str
    refusal: str
    fail: str
    cancel_queued: str
    cancel_cooking: str
    cancel_asked: str
    cancelled: str
    release_one: str
    release_oven: str
    join: str
    oven_menu: str
    oven_leave: str
    oven_state: str
    event: str
    declare_dead: str
    requeue_oven: str
    expire_leases: str
    requeue_stranded: str
    any_silent: str
    any_expired: str
    orphan_buckets: str
    alive_count: str
    any_stranded: str
    ring_generation: str
    ring_cas: str
    alive_ovens: str
    owners: str
    move_bucket: str
    requeue_burnt: str
    all_burnt: str
    tally_totals: str
    cooking_orders: str
    alive_oven_rows: str
    gone_oven_rows: str
    bucket_rows: str
    oven_name: str
    ticket: str
    ledger_rows: str
    refusal_rows: str
    events_after: str
    last_event_of_kind: str
    recent_orders: str
    burnt_orders: str
    ledger_times: str
    meta: str
    next_ready: str
    latencies: str
    slot_init: str
    slot_take: str
    slot_rows: str
    waiting_recipes: str
    current_generation: str
    purge_done: str
    purge_burnt: str
    purge_ledger_of: str
    purge_refusals_of: str
    purge_events_of: str
    purge_events: str
    purge_refusals: str
    tombstone_put: str
    purge_tombstones: str
    oldest_completion: str
    oldest_burnt: str
    oldest_event: str
    oldest_refusal: str
    oldest_tombstone: str
    count_done_before: str
    count_burnt_before: str
    count_events_before: str

    args: Args = field(default_factory=Args)

    @classmethod
    def build(cls, compile_sql: Callable[[str], str], overrides: Mapping[str, str],
              bind_by_position: bool = False) -> Statements:
        """Shared text (or the dialect's own, by field name) through the dialect's compiler; with
        ``bind_by_position`` the statements named in Args are compiled to positions, with their binders."""
        shared: dict[str, Any] = globals()
        text = {f.name: compile_sql(overrides.get(f.name, shared[f.name.upper()])) for f in fields(cls)
                if f.name != "args"}
        binders: dict[str, Binder] = {}
        if bind_by_position:
            for name in (f.name for f in fields(Args)):
                text[name], binders[name] = positional(text[name])
        return cls(**text, args=Args(**binders))
