"""How a command that failed ends: one line on stderr and an exit code, never a traceback (unless asked).

Shared by ``kitchen`` itself and by a forked oven, which never returns into the CLI's own handler."""

from __future__ import annotations

import os
import sys

from kitchen.core.errors import KitchenError

from .logs import one_line

PROG = "kitchen"


def report(exc: BaseException) -> int:
    """Print ``exc`` as one line (KITCHEN_DEBUG=1: re-raise it) and return the exit code it means."""
    if isinstance(exc, KitchenError):
        print(one_line(f"{PROG}: error: {exc}"), file=sys.stderr)
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, BrokenPipeError):
        return 1
    if os.environ.get("KITCHEN_DEBUG"):
        raise exc
    print(one_line(f"{PROG}: internal error: {exc.__class__.__name__}: {exc} (KITCHEN_DEBUG=1 shows more)"),
          file=sys.stderr)
    return 1
