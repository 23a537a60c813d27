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
                          GiveUp,
                          KitchenError,
                          OrderBurnt,
                          OrderCancelled,
                          OvenLost,
                          SchemaError,
                          UnknownTicket,
)
from .core.events import EventKind, ReapReport, RefusalCode, RingMove
from .core.orders import Order, Ticket
from .ovens import immediate
from .ovens.recipes import Cooking, Recipe, recipe
from .protocol import Kitchen, Oven

immediate.provide()  # Kitchen.cook_all cooks through the ovens layer (the layers forbid the facade importing it)

__all__ = [
                          "BadOrder",
                          "ConfigError",
                          "Cooking",
                          "DatabaseBusy",
                          "DatabaseError",
                          "EventKind",
                          "FrozenClock",
                          "GiveUp",
                          "Kitchen",
                          "KitchenError",
                          "Order",
                          "OrderBurnt",
                          "OrderCancelled",
                          "Oven",
                          "OvenLost",
                          "ReapReport",
                          "Recipe",
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
