"""Recipes for real oven processes in tests, loaded with ``--recipes tests.support.recipes`` (``Shop`` does)."""

import os
import signal
import time

from kitchen.ovens.recipes import recipe


@recipe("slow")
def slow(ctx):
    """Bakes for payload['seconds'], reporting progress; the pid in the result shows who cooked it."""
    seconds = float(ctx.payload.get("seconds", 1.0))
    for i in range(1, 11):
        ctx.wait(seconds / 10)
        ctx.progress(i * 10)
    return {"pid": os.getpid(), "token": ctx.token}


@recipe("poison")
def poison(ctx):
    """Kills its own oven every time: must end burnt after max_attempts, never loop forever."""
    os.kill(os.getpid(), signal.SIGKILL)


@recipe("boom")
def boom(ctx):
    raise RuntimeError("the oven caught fire")


@recipe("flaky")
def flaky(ctx):
    if ctx.attempt < int(ctx.payload.get("succeed_on", 2)):
        raise RuntimeError(f"flaked on attempt {ctx.attempt}")
    return {"attempt": ctx.attempt}


@recipe("stubborn")
def stubborn(ctx):
    """Ignores every stop: blocks without ever calling ctx.wait (an uncooperative recipe)."""
    time.sleep(float(ctx.payload.get("seconds", 1e9)))
    return {"pid": os.getpid()}
