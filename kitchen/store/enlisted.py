"""Transactional enqueue: a transaction body run on the application's own psycopg connection, inside its
transaction, so what kitchen writes there commits or rolls back with the application's work.

The application owns that transaction: kitchen never commits or rolls it back, and never retries it. Its
body runs inside a savepoint (an error rolls back kitchen's part only, the application's transaction stays
usable), with kitchen's schema first on the search path for that savepoint alone (the application's own
tables and search path are untouched afterwards; ``pg_temp`` is named last so an application's temporary
table of kitchen's names is not found first). NOTIFY is transactional in PostgreSQL: idle ovens are woken
at the application's commit, never for a rollback.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

from kitchen.core.errors import BadOrder, DatabaseBusy, DatabaseError

from .dialect import Conflict, driver_error

T = TypeVar("T")
SAVEPOINT = "kitchen_enlisted"
ATTEMPTS = 5  # a body that lost a compare-and-set (a dedup key freed meanwhile) runs again in a new savepoint


def run_enlisted(conn: Any, schema: str, label: str, body: Callable[[Any], T]) -> T:
    """``body(cursor)`` on ``conn`` inside its transaction (one it is in, or the one it begins; a connection
    in autocommit mode outside a transaction block gets a transaction of its own, committed on return)."""
    import psycopg
    from psycopg.pq import TransactionStatus
    from psycopg.rows import tuple_row

    if not isinstance(conn, psycopg.Connection):
        kind = f"{type(conn).__module__}.{type(conn).__qualname__}"
        raise BadOrder(f"connection= takes an open psycopg (3) Connection to {label}, not {kind}; nothing was written")
    if conn.closed:
        raise DatabaseError("the application's connection is closed; nothing was written")
    status = conn.info.transaction_status
    if status == TransactionStatus.INERROR:
        raise DatabaseError("the application's transaction has already failed (roll it back first); nothing was"
                            " written")
    if status not in (TransactionStatus.IDLE, TransactionStatus.INTRANS):
        raise DatabaseError(f"the application's connection is not ready ({status.name}); nothing was written")
    outer: AbstractContextManager[Any] = (conn.transaction() if conn.autocommit and status == TransactionStatus.IDLE
                                          else nullcontext())
    with outer:
        cur: Any = psycopg.Cursor(conn, row_factory=tuple_row)  # not the row factory or cursor class the app chose
        try:
            for _ in range(ATTEMPTS):
                cur.execute(f"SAVEPOINT {SAVEPOINT}")
                try:
                    cur.execute("SELECT current_setting('search_path'), set_config('search_path', %s, true)",
                                (f"{schema}, pg_temp",))
                    previous = cur.fetchone()[0]
                    result = body(cur)
                    cur.execute("SELECT set_config('search_path', %s, true)", (previous,))
                except Conflict:
                    _undo(cur)
                    continue
                except BaseException:
                    _undo(cur)
                    raise
                cur.execute(f"RELEASE SAVEPOINT {SAVEPOINT}")
                return result
        except psycopg.Error as exc:
            if getattr(driver_error(exc), "sqlstate", None) == "42P01":  # undefined table
                raise DatabaseError(f"the application's connection finds no kitchen in schema {schema}: connect it"
                                    f" to {label}; nothing was written") from None
            raise
        finally:
            cur.close()
    raise DatabaseBusy(f"a dedup key kept changing hands during {ATTEMPTS} tries; nothing was written")


def _undo(cur: Any) -> None:
    """Roll back kitchen's part (the search path with it); the application's transaction goes on."""
    try:
        cur.execute(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}")
        cur.execute(f"RELEASE SAVEPOINT {SAVEPOINT}")
    except Exception:
        pass  # the connection broke: the application hears it from its own next statement
