"""Every failure a caller can act on is a KitchenError with a one-line message.

The CLI prints ``str(error)`` and exits non-zero; nothing else ever reaches a user as a traceback.
"""


class KitchenError(Exception):
    """Base class: the message is one line, meant for a person."""

    exit_code = 1


class ConfigError(KitchenError):
    """kitchen.ini, an environment variable or a setting is wrong."""


class BadOrder(KitchenError, ValueError):
    """An order (recipe, payload, key, customer, priority, delay) was refused before anything was written."""


class DatabaseError(KitchenError):
    """The database cannot be opened or written: missing, read-only, corrupt, full, locked or unreachable."""


class SchemaError(DatabaseError):
    """The database was made by another (newer) kitchen, or is not a kitchen database."""


class DatabaseBusy(DatabaseError):
    """Another process held the write lock for longer than we are willing to wait."""


class OvenLost(KitchenError):
    """This oven incarnation was declared dead (or left); it must rejoin as a new one."""


class UnknownTicket(KitchenError):
    """No order has that ticket number."""


class GiveUp(Exception):
    """Raised by a recipe: this order cannot succeed (a refused card, a bad address). Burnt at once, no retry."""


class OrderBurnt(KitchenError):
    """``Ticket.result()`` of an order that ended burnt: ``error`` and ``traceback`` are what was stored."""

    def __init__(self, ticket: int, error: str | None, traceback: str | None = None) -> None:
        super().__init__(f"order {ticket} burnt: {error or 'no error recorded'}")
        self.ticket = ticket
        self.error = error
        self.traceback = traceback


class OrderCancelled(KitchenError):
    """``Ticket.result()`` of an order that was cancelled: it has no result and never will."""

    def __init__(self, ticket: int) -> None:
        super().__init__(f"order {ticket} was cancelled")
        self.ticket = ticket
