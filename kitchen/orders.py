"""What crosses the order taker's counter: tickets, orders, and the checks made before anything is written."""

from __future__ import annotations

import json
import math
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import BadOrder

RECIPE_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_KEY = 200
MAX_CUSTOMER = 200
PRIORITY_RANGE = (-100, 100)
_CONTROL = re.compile(r"[\x00-\x1f]")
_ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode


@dataclass(frozen=True)
class Ticket:
    """What the order taker hands back at once: "come back later" with this number."""

    number: int
    bucket: int
    duplicate: bool = False


@dataclass(frozen=True)
class Order:
    """An order as an oven holds it while cooking; ``fence`` proves which claim this is."""

    id: int
    recipe: str
    payload: dict[str, Any] | None  # None: the stored payload is not JSON; the oven burns the order
    attempt: int
    fence: int
    bucket: int
    priority: int = 0
    customer: str | None = None
    key: str | None = None

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
    return value


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
        try:
            payload_json = _ENCODE(payload if isinstance(payload, dict) else dict(payload))
        except (TypeError, ValueError) as exc:
            raise BadOrder(f"payload is not plain JSON: {str(exc).splitlines()[0]}") from None
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


def loads_payload(text: str | bytes | None) -> dict[str, Any] | None:
    """Payloads are JSON and only JSON: nothing stored can make an oven run code.

    Returns None for a stored payload that is not JSON (written by something other than kitchen): the
    oven burns that order instead of crashing on it.
    """
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else {"value": value}
