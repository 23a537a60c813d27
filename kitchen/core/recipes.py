"""What a process knows of its recipes before any oven cooks them: how to check an order's arguments, and its
default priority. The ovens layer declares each ``@recipe`` here, so the order taker (below it) can refuse a
submit that does not fit the recipe's signature, with nothing written.

Also the hook through which ``Kitchen.cook_all`` reaches the ovens layer's in-process cook (the layers forbid
the facade importing it): the ovens layer provides it at import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RecipeSpec:
    """``check(payload)`` raises BadOrder (one line) when the payload's keys do not fit the recipe's arguments."""

    name: str
    check: Callable[[Mapping[str, Any]], None]
    priority: int = 0


_KNOWN: dict[str, RecipeSpec] = {}
_COOKERS: list[Callable[..., int]] = []


def declare(spec: RecipeSpec) -> None:
    """Known to this process from now on (a later declaration of the same name replaces it)."""
    _KNOWN[spec.name] = spec


def known(name: str) -> RecipeSpec | None:
    return _KNOWN.get(name)


def provide_cooker(fn: Callable[..., int]) -> None:
    """The ovens layer's ``cook_all(kitchen, ...)``; the last one provided is used."""
    _COOKERS[:] = [fn]


def cooker() -> Callable[..., int]:
    if not _COOKERS:
        raise RuntimeError("no in-process cook: import kitchen (the package) first")
    return _COOKERS[0]
