"""The failure policy: what a recipe's exception (or result) means for its order.

``GiveUp`` burns at once; so does an exception outside the recipe's ``retry_on`` (default: every exception
retries), a payload that does not fit the recipe's arguments, and a result that is not JSON (it would not be
JSON the next time either: running it again only repeats its side effects). Everything else retries with
backoff up to ``max_attempts``. The error keeps the exception's type and message; the traceback is kept too.
"""

from __future__ import annotations

import traceback as tb
from dataclasses import dataclass

from kitchen.core.errors import BadOrder, GiveUp

from .recipes import RecipeOptions, RecipeTimeout


@dataclass(frozen=True)
class Failure:
    """``error``: 'Type: message'; ``traceback``: where it was raised (None for a result that is not JSON)."""

    error: str
    traceback: str | None
    retry: bool


def described(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__


def of_exception(exc: BaseException, options: RecipeOptions) -> Failure:
    """An exception the recipe raised (or its arguments' check). Its timeout retries like a sync recipe's,
    whatever ``retry_on`` says."""
    if isinstance(exc, RecipeTimeout):
        return Failure(f"TimeoutError: {exc}", "".join(tb.format_exception(exc)), True)
    retry = isinstance(exc, options.retry_on) and not isinstance(exc, (GiveUp, BadOrder))
    return Failure(described(exc), "".join(tb.format_exception(exc)), retry)


def of_result(exc: BadOrder) -> Failure:
    """The recipe returned something that is not JSON: burnt after this one run, the error naming the type."""
    return Failure(f"BadResult: {exc}", None, False)
