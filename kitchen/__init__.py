"""kitchen: a durable task queue for Python with a live terminal kitchen on top.

    from kitchen import Kitchen
    k = Kitchen.open("data/kitchen.db")
    ticket = k.submit("margherita", {"size": "L"}, customer="ada", key="ada-1")

Layers, each importing only those below it: faces (``kitchen.cli``, ``kitchen.tui``) -> ``kitchen.ovens``
-> ``kitchen.protocol`` -> ``kitchen.store`` -> ``kitchen.core``. This package and everything it imports
at the top level is headless: no Textual.
"""

from .core.clock import FrozenClock
from .core.config import Settings, load_settings
from .core.errors import (
                          BadOrder,
                          ConfigError,
                          DatabaseBusy,
                          DatabaseError,
                          KitchenError,
                          OvenLost,
                          SchemaError,
                          UnknownTicket,
)
from .core.events import EventKind, ReapReport, RefusalCode, RingMove
from .core.orders import Order, Ticket
from .ovens.recipes import Cooking, recipe
from .protocol import Kitchen, Oven

__all__ = [
                          "BadOrder",
                          "ConfigError",
                          "Cooking",
                          "DatabaseBusy",
                          "DatabaseError",
                          "EventKind",
                          "FrozenClock",
                          "Kitchen",
                          "KitchenError",
                          "Order",
                          "Oven",
                          "OvenLost",
                          "ReapReport",
                          "RefusalCode",
                          "RingMove",
                          "SchemaError",
                          "Settings",
                          "Ticket",
                          "UnknownTicket",
                          "load_settings",
                          "recipe",
]
__version__ = "0.1.0"
