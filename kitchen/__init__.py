"""kitchen: a durable task queue for Python with a live terminal kitchen on top.

    from kitchen import Kitchen
    k = Kitchen.open("data/kitchen.db")
    ticket = k.submit("margherita", {"size": "L"}, customer="ada", key="ada-1")

This package and everything it imports at the top level is headless: no Textual.
"""

from .clock import FrozenClock
from .config import Settings, load_settings
from .engine import Kitchen, ReapReport
from .errors import (BadOrder, ConfigError, DatabaseBusy, DatabaseError, KitchenError, OvenLost, SchemaError,
                     UnknownTicket)
from .orders import Order, Ticket
from .oven import Oven

__all__ = ["Kitchen", "Oven", "Order", "Ticket", "ReapReport", "Settings", "load_settings", "FrozenClock",
           "KitchenError", "ConfigError", "BadOrder", "DatabaseError", "DatabaseBusy", "SchemaError", "OvenLost",
           "UnknownTicket"]
__version__ = "0.1.0"
