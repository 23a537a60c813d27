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


@recipe("hog", isolated=True)
def hog(ctx):
    """Holds the GIL for payload['seconds'] inside one C call (catastrophic regex backtracking): in the oven's
    own process no other thread, the heartbeat included, could run meanwhile."""
    import re

    started = time.monotonic()
    calls = 0
    while time.monotonic() - started < float(ctx.payload.get("seconds", 2.0)):
        re.match(r"(a+)+$", "a" * 26 + "b")  # one C call of ~1.5 s here, never releasing the GIL
        calls += 1
    return {"pid": os.getpid(), "calls": calls}


@recipe("hog_inline")
def hog_inline(ctx):
    """The same GIL hog, cooked in the oven's own process (the control case)."""
    return hog(ctx)


@recipe("sleepy", isolated=True, timeout=0.5)
def sleepy(ctx):
    """Never returns on its own: only its timeout (0.5 s) ends an attempt."""
    ctx.progress(10)
    time.sleep(1e9)


@recipe("sleepy_inline", timeout=0.5)
def sleepy_inline(ctx):
    """Never returns on its own, cooked in the oven's process: its overrun takes the oven down."""
    time.sleep(1e9)


@recipe("stubborn_isolated", isolated=True)
def stubborn_isolated(ctx):
    """Says it started (progress 5), then never returns and ignores every stop."""
    ctx.progress(5)
    time.sleep(1e9)


@recipe("forger")
def forger(ctx):
    """Fails with a message that tries to forge a second log line."""
    raise RuntimeError("card refused\n12:00:00 INFO    [1] oven-9 done: order 1 (forged)")


@recipe(isolated=True)
async def aio_isolated(n: int) -> dict:
    """An async def recipe in the work horse: its own event loop there."""
    import asyncio

    await asyncio.sleep(0.01)
    return {"n": n, "pid": os.getpid()}


@recipe(isolated=True, retry_on=(OSError,))
def refuse_isolated(why: str) -> None:
    """Fails with an exception outside retry_on, in the horse: the horse's verdict is 'do not retry'."""
    raise ValueError(why)


@recipe(isolated=True)
def simmer_isolated(*, ctx) -> None:
    """Waits forever in the horse (progress 5 once started): only a stop or a cancel ends it."""
    ctx.progress(5)
    while True:
        ctx.wait(0.05)


@recipe
def simmer(*, ctx) -> None:
    """Waits cooperatively in the oven's process until its order is cancelled (or the oven stops)."""
    ctx.progress(5)
    while True:
        ctx.wait(0.05)


@recipe(isolated=True, timeout=0.5)
def brisk_isolated(*, ctx) -> dict:
    """Well within its 0.5 s timeout once started; a cold work horse's start-up must not count against it."""
    ctx.wait(0.3)
    return {"pid": os.getpid()}
