"""The store: one database behind one dialect seam (SQLite or PostgreSQL), its statements and its schema.

Nothing above this package builds SQL text or asks which database it is talking to.
"""

from .dialect import ChangeWaiter, Conflict, ErrorKind
from .schema import SCHEMA_VERSION, ensure_schema
from .sql import Statements, order_from_row
from .store import RERUN, Settle, Store

__all__ = ["RERUN", "SCHEMA_VERSION", "ChangeWaiter", "Conflict", "ErrorKind", "Settle", "Statements", "Store",
           "ensure_schema", "order_from_row"]
