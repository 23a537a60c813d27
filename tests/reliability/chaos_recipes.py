"""The chaos run's recipes, loaded by ovens with ``--recipes tests.reliability.chaos_recipes``.

``chaos``: its behaviour is fixed by the payload, so the run knows in advance which orders must burn:
``doomed`` always fails (burnt after max_attempts), ``fail_until`` fails every attempt before that number
(then succeeds: a kill only uses an attempt up, it never makes such an order burn), ``ms`` is the bake time.

``chaos_timed`` (isolated, in a work horse) and ``chaos_timed_inline`` (in the oven's process): every attempt
before ``overrun_until`` never returns, so only the recipe's ``timeout`` (TIMED_LIMIT) ends it: the attempt
fails by design (counted, retried), in the horse by killing the horse, in process by taking the oven down (its
supervisor starts a new one). Later attempts return at once.

``chaos_hog``: an isolated recipe (cooked in the oven's work horse) that holds the GIL for one long C call
(``sum(range(n))`` never returns to the interpreter loop, so no other thread of its process runs meanwhile)
of about ``seconds``: ``n`` is sized just before, from the fastest of three short probes timed on this
thread's CPU clock, so sharing the CPU with other processes only makes the call longer. Its result says how
long the call really took.

Every start of a recipe is appended to the file named by ``CHAOS_STARTS`` (one line, one ``write``, so a
SIGKILL leaves it whole or absent): order id, fence, attempt, the pid of the oven holding the order, whether
this attempt fails by design, and the monotonic and wall clocks of the cooking process. The run judges
every re-cook from these lines. Every end of a recipe (it returned, raised, or was stopped; not a kill) is
appended to ``CHAOS_ENDS``: order id, fence, monotonic clock (one clock for every process of the machine), so
the run can check from the data that a customer's orders never cooked at the same time.
"""

import functools
import os
import time

from kitchen.ovens.recipes import recipe

STARTS = os.environ.get("CHAOS_STARTS")
ENDS = os.environ.get("CHAOS_ENDS")
TIMED_LIMIT = 0.5  # seconds: the timed recipes' timeout
# In a work horse this module is imported for the horse's first order, while its oven waits for the answer:
# the parent now is that oven (after the oven's death the horse is re-parented, then killed by PDEATHSIG).
PARENT_AT_IMPORT = os.getppid()


def _append(path: str | None, line: str) -> None:
    if not path:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def started(ctx, oven_pid: int, fails: bool) -> None:
    _append(STARTS, f"{ctx.order.id} {ctx.order.fence} {ctx.attempt} {oven_pid} {int(fails)}"
                    f" {time.monotonic():.6f} {time.time():.6f}\n")


def ended(ctx) -> None:
    _append(ENDS, f"{ctx.order.id} {ctx.order.fence} {time.monotonic():.6f}\n")


def recorded(fn):
    """The recipe, with its end appended to CHAOS_ENDS however it ends (but for a kill of its process)."""
    @functools.wraps(fn)
    def cook(ctx):
        try:
            return fn(ctx)
        finally:
            ended(ctx)
    return cook


@recipe("chaos")
@recorded
def chaos(ctx):
    payload = ctx.payload
    doomed = bool(payload.get("doomed"))
    flaky = ctx.attempt < int(payload.get("fail_until", 0))
    started(ctx, os.getpid(), doomed or flaky)
    if doomed:
        raise RuntimeError("doomed: this order always fails")
    if flaky:
        raise RuntimeError(f"flaky: failed on attempt {ctx.attempt}")
    seconds = float(payload.get("ms", 0)) / 1000
    for step in range(1, 5):
        ctx.wait(seconds / 4)
        ctx.progress(step * 25)
    return {"token": ctx.token, "pid": os.getpid()}


def timed_sum(n: int) -> float:
    """CPU seconds (this thread's) of ``sum(range(n))``: waiting for a CPU does not count."""
    begun = time.thread_time()
    sum(range(n))
    return time.thread_time() - begun


@recipe("chaos_hog", isolated=True)
@recorded
def chaos_hog(ctx):
    started(ctx, PARENT_AT_IMPORT, False)
    probe = 1_000_000
    fastest = min(timed_sum(probe) for _ in range(3))
    n = int(probe * float(ctx.payload["seconds"]) / max(fastest, 1e-6))
    begun = time.monotonic()
    sum(range(n))  # one C call holding the GIL throughout
    return {"call_seconds": round(time.monotonic() - begun, 3), "pid": os.getpid()}


def overruns(ctx) -> bool:
    return ctx.attempt < int(ctx.payload.get("overrun_until", 0))


@recipe("chaos_timed", isolated=True, timeout=TIMED_LIMIT)
@recorded
def chaos_timed(ctx):
    late = overruns(ctx)
    started(ctx, PARENT_AT_IMPORT, late)
    while late:  # only the timeout ends this attempt: the oven kills its work horse
        ctx.wait(3600)  # (not time.sleep: under libfaketime's stepped clocks it fails with EINVAL)
    return {"token": ctx.token, "pid": os.getpid()}


@recipe("chaos_timed_inline", timeout=TIMED_LIMIT)
@recorded
def chaos_timed_inline(ctx):
    late = overruns(ctx)
    started(ctx, os.getpid(), late)
    while late:  # only the timeout ends this attempt: the oven fails it, hands back the rest and exits
        ctx.wait(3600)
    return {"token": ctx.token, "pid": os.getpid()}
