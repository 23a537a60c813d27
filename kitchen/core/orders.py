"""What crosses the order taker's counter: tickets, orders, and the checks made before anything is written."""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .errors import BadOrder, ConfigError

RECIPE_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_KEY = 200
MAX_CUSTOMER = 200
PRIORITY_RANGE = (-100, 100)
_CONTROL = re.compile(r"[\x00-\x1f]")
_DECODE = json.JSONDecoder().decode  # json.loads without its own frame, for text (bytes go through json.loads)
_ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode
MAX_DEPTH = 64  # nesting a payload or result may have: deeper JSON is refused before it is stored


OVEN_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def check_oven_name(name: Any) -> str:
    """Oven names appear in logs, events and `kitchen ovens`: a plain word, so none can forge a line."""
    if not isinstance(name, str) or not OVEN_NAME_RE.fullmatch(name):
        shown = name.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")[:70] \
            if isinstance(name, str) else repr(name)
        raise ConfigError(f"oven name {shown!r} must be 1 to 64 letters, digits and . _ - @, starting with a"
                          " letter or digit")
    return name


def utf8(text: str, what: str) -> str:
    """Text that came from bytes that were not UTF-8 (lone surrogates) cannot be stored: refuse it here."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadOrder(f"{what} is not valid UTF-8 text") from None
    return text


def check_recipe_name(name: Any, where: str = "recipe name") -> str:
    """The one rule for recipe names (orders, menus, kitchen.ini): a ConfigError names the offender."""
    if not isinstance(name, str) or not RECIPE_RE.fullmatch(name):
        raise ConfigError(f"{where} {str(name)[:70]!r} must be lowercase letters, digits and _ (up to 64)")
    return name


def _depth_ok(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Iterative, so a hostile 100,000-deep value cannot exhaust the stack while being checked."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list, tuple)))
    return True


def dumps_json(value: Any, what: str = "value") -> str:
    """Canonical compact JSON for payloads and results; BadOrder (one line) for anything else."""
    if not _depth_ok(value):
        raise BadOrder(f"{what} is nested more than {MAX_DEPTH} levels deep")
    try:
        text = _ENCODE(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise BadOrder(f"{what} is not plain JSON: {str(exc).splitlines()[0]}") from None
    return text if text.isascii() else utf8(text, what)


class Results(Protocol):
    """Where a ticket waits for its order's result (the Kitchen that took it)."""

    def result(self, number: int, timeout: float | None = None) -> Any: ...


@dataclass(frozen=True)
class Ticket:
    """What the order taker hands back at once: "come back later" with this number."""

    number: int
    bucket: int
    duplicate: bool = False

    def bound(self, counter: Results) -> Ticket:
        """This ticket, able to wait for its result at ``counter`` (the Kitchen that handed it out). Kept off the
        fields, so equality, ``repr`` and ``dataclasses.asdict`` see the ticket alone."""
        object.__setattr__(self, "_counter", counter)
        return self

    def result(self, timeout: float | None = None) -> Any:
        """Wait until the order is finished and return its result: ``OrderBurnt`` (with the stored error),
        ``OrderCancelled``, or ``TimeoutError`` after ``timeout`` seconds (None: wait as long as it takes)."""
        counter: Results | None = getattr(self, "_counter", None)
        if counter is None:
            raise RuntimeError("this ticket was not handed out by a Kitchen: use Kitchen.result(number)")
        return counter.result(self.number, timeout)


class Decoded:
    """``Order.payload``: the stored body decoded on first use and kept as an instance attribute, where later
    reads find it before this (non-data) descriptor. functools.cached_property does the same on Python 3.11
    behind a lock per property, taken at every first use: a third of the decode's cost in the oven loop. Stored
    by ``object.__setattr__``, not into ``__dict__``: asking for the dict turns the order's inline attributes
    into a real dict, and every later field read into a dict lookup (~2.4k instructions an order). Two threads
    decoding one order at once each get an equal dict, and one of them is kept."""

    def __get__(self, order: Any, owner: type | None = None) -> Any:
        if order is None:
            return self
        value = loads_payload(order.body)
        object.__setattr__(order, "payload", value)
        return value


@dataclass(frozen=True)
class Order:
    """An order as an oven holds it while cooking; ``fence`` proves which claim this is.

    ``body`` is the payload as stored; it is decoded on first use of ``payload``, outside the claim's
    transaction, so the write lock is never held for JSON work.
    """

    id: int
    recipe: str
    body: str | bytes | dict[str, Any] | None
    attempt: int
    fence: int
    bucket: int
    priority: int = 0
    customer: str | None = None
    key: str | None = None

    payload = Decoded()  # the payload as a dict; None when the stored text is not JSON (the oven burns it)

    @property
    def idempotency_token(self) -> str:
        """Unique per claim: a recipe with side effects can use it to do them once."""
        return f"{self.id}:{self.fence}"


@dataclass(frozen=True)
class NewOrder:
    """A validated order, ready to insert."""

    recipe: str
    payload_json: str
    customer: str | None
    key: str | None
    priority: int
    delay: float
    routing: str = field(default="")  # customer, else key, else a random token: what the bucket hashes


def _text(name: str, value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadOrder(f"{name} must be text, not {type(value).__name__}")
    if not value.strip():
        raise BadOrder(f"{name} must not be empty")
    if len(value) > limit:
        raise BadOrder(f"{name} is {len(value)} characters; the limit is {limit}")
    if _CONTROL.search(value):
        raise BadOrder(f"{name} must not contain control characters")
    return utf8(value, name)


def validate(recipe: Any, payload: Any = None, *, customer: Any = None, key: Any = None,
             priority: Any = 0, delay: Any = 0.0, payload_limit: int = 65536) -> NewOrder:
    """Check one order; raise BadOrder with a one-line reason, before anything touches the database."""
    if not isinstance(recipe, str) or not recipe:
        raise BadOrder("recipe must be a non-empty name")
    if not RECIPE_RE.fullmatch(recipe):
        raise BadOrder(f"recipe {recipe[:70]!r} is not a recipe name (lowercase letters, digits and _, up to 64)")
    if not payload and (payload is None or type(payload) is dict):
        payload_json = "{}"
    else:
        if isinstance(payload, (str, bytes)):
            raise BadOrder("payload must be a JSON object, not a string (decode it first)")
        if not isinstance(payload, dict) and not isinstance(payload, Mapping):
            raise BadOrder(f"payload must be a JSON object, not {type(payload).__name__}")
        payload_json = dumps_json(payload if isinstance(payload, dict) else dict(payload), "payload")
        if len(payload_json) * 4 > payload_limit:
            size = len(payload_json.encode("utf-8"))
            if size > payload_limit:
                raise BadOrder(f"payload is {size} bytes; the limit is {payload_limit}")
    customer = _text("customer", customer, MAX_CUSTOMER)
    key = _text("key", key, MAX_KEY)
    if type(priority) is not int:
        raise BadOrder(f"priority must be a whole number, not {priority!r}")
    if not PRIORITY_RANGE[0] <= priority <= PRIORITY_RANGE[1]:
        raise BadOrder(f"priority must be between {PRIORITY_RANGE[0]} and {PRIORITY_RANGE[1]}, not {priority}")
    if delay:
        if type(delay) not in (int, float) or not math.isfinite(delay):
            raise BadOrder(f"delay must be a number of seconds, not {delay!r}")
        if delay < 0:
            raise BadOrder(f"delay must not be negative, not {delay}")
    elif type(delay) not in (int, float):
        raise BadOrder(f"delay must be a number of seconds, not {delay!r}")
    return NewOrder(recipe, payload_json, customer, key, priority, float(delay),
                    customer or key or secrets.token_hex(8))


def loads_payload(text: str | bytes | dict[str, Any] | None) -> dict[str, Any] | None:
    """Payloads are JSON and only JSON: nothing stored can make an oven run code.

    Returns None for a stored payload that is not JSON (written by something other than kitchen): the
    oven burns that order instead of crashing on it.
    """
    if not text:
        return {}
    if isinstance(text, dict):
        return text
    try:
        value = _DECODE(text) if isinstance(text, str) else json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return None
    return value if isinstance(value, dict) else {"value": value}
