"""The chaos run's one recipe, loaded by ovens with ``--recipes tests.reliability.chaos_recipes``.

Its behaviour is fixed by the payload, so the run knows in advance which orders must burn:
``doomed`` always fails (burnt after max_attempts), ``fail_until`` fails every attempt before that number
(then succeeds: a kill only uses an attempt up, it never makes such an order burn), ``ms`` is the bake time.
"""

import os

from kitchen.ovens.recipes import recipe


@recipe("chaos")
def chaos(ctx):
    payload = ctx.payload
    if payload.get("doomed"):
        raise RuntimeError("doomed: this order always fails")
    if ctx.attempt < int(payload.get("fail_until", 0)):
        raise RuntimeError(f"flaky: failed on attempt {ctx.attempt}")
    seconds = float(payload.get("ms", 0)) / 1000
    for step in range(1, 5):
        ctx.wait(seconds / 4)
        ctx.progress(step * 25)
    return {"token": ctx.token, "pid": os.getpid()}
