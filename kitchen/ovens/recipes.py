"""Recipes: Python callables registered by name. Only registered names ever run.

A recipe name read from the database is looked up in the menu, never imported: a stored order cannot make
an oven run anything but a recipe this oven registered at start (built-ins, or modules named in
kitchen.ini ``recipes`` / ``--recipes``).
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kitchen.core import recipes as known_recipes
from kitchen.core.errors import BadOrder, ConfigError
from kitchen.core.orders import PRIORITY_RANGE, Order, Ticket, check_recipe_name

if TYPE_CHECKING:
    from kitchen.protocol import Kitchen

WAIT_SLICE = 0.05  # seconds between looks at a cancel while a recipe waits


class Interrupted(Exception):
    """Raised inside a recipe's cooperative wait when the oven must stop now."""


class Cancelled(Exception):
    """Raised inside a recipe's cooperative wait when its order was cancelled: it ends ``cancelled``."""


class RecipeTimeout(TimeoutError):
    """An ``async def`` recipe ran past its ``timeout`` and was cancelled on its loop: the attempt fails (counted,
    retried or burnt like any failure) and the oven goes on; no restart is needed, unlike a blocked thread."""


class Burnt(Exception):
    """A bake went wrong on purpose (burn_rate); the order is retried or burnt like any failure."""


class Flag:
    """A set-once flag, polled (``Cooking.wait`` looks every slice): an Event's lock and condition per order
    cost the oven loop ~10% at prefetch 32."""

    __slots__ = ("_on",)

    def __init__(self) -> None:
        self._on = False

    def set(self) -> None:
        self._on = True

    def is_set(self) -> bool:
        return self._on


@dataclass
class Cooking:
    """What a recipe receives: its order, and ways to report progress and notice a hard stop."""

    order: Order
    speed: float = 1.0
    stop: threading.Event = field(default_factory=threading.Event)
    progress_value: int = 0
    on_progress: Callable[[int], None] | None = None  # the work horse sends progress to its oven
    cancel: Flag = field(default_factory=Flag)  # set when the order is cancelled

    @property
    def payload(self) -> dict[str, Any]:
        return self.order.payload or {}  # never None here: the oven burns an undecodable payload first

    @property
    def attempt(self) -> int:
        return self.order.attempt

    @property
    def token(self) -> str:
        """Idempotency token (order id + fence): unique per claim, stable for side effects."""
        return self.order.idempotency_token

    def progress(self, percent: int) -> None:
        """Report 0-100; the next heartbeat persists it for the TUI."""
        self.progress_value = max(0, min(100, int(percent)))
        if self.on_progress is not None:
            self.on_progress(self.progress_value)

    @property
    def cancelled(self) -> bool:
        """True once the order was cancelled (``Kitchen.cancel``): stop, and it ends ``cancelled``."""
        return self.cancel.is_set()

    def wait(self, seconds: float) -> None:
        """Sleep, but return early with Interrupted if the oven is told to stop now, or Cancelled if the order
        was cancelled."""
        deadline = time.monotonic() + max(0.0, seconds)
        while True:
            if self.cancel.is_set():
                raise Cancelled("cancelled while cooking")
            left = deadline - time.monotonic()
            if self.stop.wait(max(0.0, min(left, WAIT_SLICE))):
                raise Interrupted("stopped while cooking")
            if left <= WAIT_SLICE:
                if self.cancel.is_set():
                    raise Cancelled("cancelled while cooking")
                return


@dataclass(frozen=True)
class RecipeOptions:
    """How a recipe is cooked.

    ``isolated``: in a child process the oven supervises (RQ's work horse, Celery's prefork), so a recipe
    that holds the GIL, blocks in C or never returns cannot starve the oven's heartbeat, and its timeout or
    a stop kills only that child. ``timeout``: seconds one attempt may run; overrun fails the attempt (an
    isolated recipe loses its child; an in-process one takes its oven down with it, to be restarted).
    """

    isolated: bool = False
    timeout: float | None = None
    max_attempts: int | None = None  # None: the kitchen's max_attempts
    retry_on: tuple[type[BaseException], ...] = (Exception,)  # other exceptions burn at once
    priority: int = 0  # the default priority of its orders
    every: str | None = None  # periodic orders: see kitchen.ovens.periodic
    cron: str | None = None


def checked_options(name: str, isolated: bool = False, timeout: float | None = None,
                    max_attempts: int | None = None, retry_on: Any = (Exception,), priority: int = 0,
                    every: str | None = None, cron: str | None = None) -> RecipeOptions:
    """The decorator's options, or one ConfigError line naming the recipe."""
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not 0 < timeout < float("inf")):
        raise ConfigError(f"recipe {name}: timeout must be a positive number of seconds, not {timeout!r}")
    if max_attempts is not None and (type(max_attempts) is not int or max_attempts < 1):
        raise ConfigError(f"recipe {name}: max_attempts must be a whole number of at least 1, not {max_attempts!r}")
    kinds = retry_on if isinstance(retry_on, tuple) else (retry_on,)
    if not all(isinstance(k, type) and issubclass(k, BaseException) for k in kinds):
        raise ConfigError(f"recipe {name}: retry_on must be exception classes, not {retry_on!r}")
    if type(priority) is not int or not PRIORITY_RANGE[0] <= priority <= PRIORITY_RANGE[1]:
        raise ConfigError(f"recipe {name}: priority must be a whole number from {PRIORITY_RANGE[0]} to "
                          f"{PRIORITY_RANGE[1]}, not {priority!r}")
    return RecipeOptions(bool(isolated), None if timeout is None else float(timeout), max_attempts, kinds, priority,
                         every, cron)


class Recipe:
    """A registered recipe: call it like the function; ``submit`` queues an order of it, its arguments checked.

    Its arguments are the payload's keys (``def soup(bowls: int = 1)``); a parameter named ``ctx`` is given the
    ``Cooking`` (progress, wait, token, attempt, cancelled) and only if it is asked for. A function whose only
    parameter is ``ctx`` reads the payload itself (``ctx.payload``), as recipes did before arguments.
    """

    def __init__(self, fn: Callable[..., Any], name: str, options: RecipeOptions) -> None:
        self.fn: Callable[..., Any] = fn.fn if isinstance(fn, Recipe) else fn
        self.name = name
        self.options = options
        signature = inspect.signature(self.fn)
        self.wants_ctx = "ctx" in signature.parameters
        self._ctx_by_position = self.wants_ctx and signature.parameters["ctx"].kind is inspect.Parameter.POSITIONAL_ONLY
        arguments = [p for p in signature.parameters.values() if p.name != "ctx"]
        self.reads_payload = self.wants_ctx and not arguments
        self.arguments = signature.replace(parameters=arguments)
        self.is_async = inspect.iscoroutinefunction(self.fn)
        functools.update_wrapper(self, self.fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<recipe {self.name}>"

    def check(self, payload: Mapping[str, Any]) -> None:
        """BadOrder (one line) when the payload's keys are not arguments this recipe takes, or miss one."""
        if self.reads_payload:
            return
        try:
            self.arguments.bind(**payload)
        except TypeError as exc:
            raise BadOrder(f"recipe {self.name}: {exc}") from None

    def submit(self, kitchen: Kitchen, *, customer: str | None = None, key: str | None = None,
               priority: int | None = None, delay: float = 0.0, connection: Any = None, **arguments: Any) -> Ticket:
        """Queue an order of this recipe; its arguments are checked against the signature before anything is
        written (BadOrder). ``connection``: the application's psycopg connection (see ``Kitchen.submit``)."""
        self.check(arguments)
        return kitchen.submit(self.name, arguments, customer=customer, key=key,
                              priority=self.options.priority if priority is None else priority, delay=delay,
                              connection=connection)

    def cook(self, ctx: Cooking, loop: asyncio.AbstractEventLoop | None = None) -> Any:
        """Run it for one order: the payload's keys as arguments (BadOrder if they do not fit), ``ctx`` if
        asked for; an ``async def`` recipe runs on ``loop`` (the oven's own) until it completes or its ``timeout``
        (RecipeTimeout)."""
        if self.reads_payload:
            value = self.fn(ctx) if self._ctx_by_position else self.fn(ctx=ctx)
        else:
            payload = ctx.payload
            try:
                value = self.fn(**payload, ctx=ctx) if self.wants_ctx else self.fn(**payload)
            except TypeError:
                self.check(payload)  # arguments that do not fit: BadOrder (the call never entered the recipe)
                raise  # they fit: the recipe's own TypeError
        if value is not None and type(value) not in _PLAIN and inspect.isawaitable(value):
            if loop is None:
                return asyncio.run(_awaited(value, self.options.timeout))
            return loop.run_until_complete(_awaited(value, self.options.timeout))
        return value


_PLAIN = frozenset({dict, list, str, int, float, bool})  # results that cannot be awaitables: skip the check


async def _awaited(value: Any, timeout: float | None) -> Any:
    if timeout is None:
        return await value
    scope = asyncio.timeout(timeout)
    try:
        async with scope:
            return await value
    except TimeoutError:
        if scope.expired():
            raise RecipeTimeout(f"timed out after {timeout:g} s") from None
        raise


class Menu:
    """Name -> recipe (and its options). Ovens share one menu per process."""

    def __init__(self) -> None:
        self._recipes: dict[str, Recipe] = {}

    def register(self, name: str, fn: Callable[..., Any], **options: Any) -> Recipe:
        """Register ``fn`` under ``name`` with the decorator's options (see ``recipe``)."""
        check_recipe_name(name)
        registered = Recipe(fn, name, checked_options(name, **options))
        self._recipes[name] = registered
        return registered

    def add(self, registered: Recipe) -> Recipe:
        self._recipes[registered.name] = registered
        return registered

    def recipe(self, name: str | None = None, **options: Any) -> Callable[[Callable[..., Any]], Recipe]:
        """Decorator: ``@menu.recipe("calzone")`` (defaults to the function's name)."""
        def deco(fn: Callable[..., Any]) -> Recipe:
            return self.register(name or fn.__name__, fn, **options)
        return deco

    def get(self, name: str) -> Recipe | None:
        return self._recipes.get(name)

    def options(self, name: str) -> RecipeOptions:
        found = self._recipes.get(name)
        return found.options if found is not None else RecipeOptions()

    def names(self) -> list[str]:
        return sorted(self._recipes)

    def __contains__(self, name: str) -> bool:
        return name in self._recipes


menu = Menu()


def recipe(name: str | Callable[..., Any] | None = None, *, isolated: bool = False, timeout: float | None = None,
           max_attempts: int | None = None, retry_on: Any = (Exception,), priority: int = 0,
           every: str | None = None, cron: str | None = None) -> Any:
    """Register a user recipe on the process-wide menu: ``@recipe``, ``@recipe("soup")`` or
    ``@recipe(max_attempts=3, timeout=30.0, retry_on=(IOError,), priority=5, isolated=False)``.

    ``timeout``: seconds one attempt may run (default: no limit). ``max_attempts``: this recipe's own limit
    (default: the kitchen's). ``retry_on``: only these exceptions retry, others burn at once (default: every
    exception retries; ``GiveUp`` never does). ``priority``: its orders' default priority. ``every="5m"`` or
    ``cron="0 3 * * *"`` also orders it on a schedule (kitchen.ovens.periodic).
    """
    options = {"isolated": isolated, "timeout": timeout, "max_attempts": max_attempts, "retry_on": retry_on,
               "priority": priority, "every": every, "cron": cron}

    def deco(fn: Callable[..., Any]) -> Recipe:
        registered = menu.recipe(None if callable(name) else name, **options)(fn)
        known_recipes.declare(known_recipes.RecipeSpec(registered.name, registered.check, registered.options.priority))
        return registered

    return deco(name) if callable(name) else deco


def bake(seconds: float, burn_rate: float, rng: random.Random) -> Callable[..., Any]:
    """A built-in pizza: bakes for ``seconds`` / speed, reporting progress, sometimes burning. Its arguments are
    ``slices`` (a whole number, else 8) and any toppings (``size``, ...), which it takes and ignores."""
    def cook(*, ctx: Cooking, slices: Any = 8, **toppings: Any) -> dict[str, Any]:
        total = seconds / ctx.speed
        steps = max(1, min(20, int(total / 0.1)))
        started = time.monotonic()
        for i in range(1, steps + 1):
            ctx.wait(started + total * i / steps - time.monotonic())
            ctx.progress(100 * i // steps)
        if burn_rate and rng.random() < burn_rate:
            raise Burnt("burnt the crust")
        return {"baked_seconds": round(total, 3), "slices": int(slices) if isinstance(slices, int) else 8}
    return cook


def charcoal(ctx: Cooking) -> None:
    """A built-in recipe that always burns: how retries, backoff and the burnt shelf are shown (the tour)."""
    ctx.progress(50)
    raise Burnt("burnt to charcoal")


def build_menu(bake_times: Mapping[str, float], burn_rate: float = 0.0, modules: Iterable[str] = (),
               base: Menu | None = None) -> Menu:
    """The menu an oven cooks from: built-in pizzas (``[menu]``'s bake times), ``noop``, ``charcoal``, then user
    recipe modules.
    The pizzas go through the same decorator as a user's recipes (``Menu.recipe``), with its default options."""
    out = Menu()
    rng = random.Random()
    for name, seconds in bake_times.items():
        out.recipe(name)(bake(seconds, burn_rate, rng))
    out.recipe("noop")(lambda ctx: None)
    out.recipe("charcoal")(charcoal)
    modules = list(modules)
    if modules and os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # `kitchen run --recipes tasks` finds ./tasks.py, as Celery and RQ do
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:
            raise ConfigError(f"cannot import recipe module {module!r}: {exc.__class__.__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    source = base or menu
    for name in source.names():
        registered = source.get(name)
        if registered is not None:
            out.add(registered)
    return out
