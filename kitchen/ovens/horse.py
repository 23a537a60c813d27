"""The work horse: a child process that cooks an oven's isolated recipes, one order at a time.

Like RQ's work horse and Celery's prefork children, it keeps the oven process free: whatever the recipe does
(holds the GIL, blocks in C, never returns), the oven's heartbeat thread keeps running, a timeout or a stop
kills only the horse, and the next isolated order starts a fresh one. The horse is reused between orders
(one process start per horse, not per order) and dies with its oven (PR_SET_PDEATHSIG).

Protocol, one JSON object per line: the oven writes an order (recipe name, the module that registered it,
payload text, attempt, fence, ...); the horse answers ``{"started": true}`` as the recipe begins (its timeout
counts from there), ``{"progress": n}`` lines, then ``{"ok": result}`` or
``{"error": "Type: message", "traceback": ..., "retry": bool}`` (the failure policy, decided where it ran).
The horse looks recipes up by name in modules the oven named itself, never in anything read from the database.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from typing import IO, Any

from kitchen.core.errors import BadOrder
from kitchen.core.orders import Order, dumps_json

from . import failure
from .procs import die_with_parent
from .recipes import Cooking, menu

POLL = 0.05  # seconds between looks at a stop or a timeout while the horse cooks
# Seconds a horse may take to start (a fresh interpreter, kitchen and the recipe's module imported) before its
# recipe's timeout starts counting, at ``{"started": true}``: under load a cold start alone can outlast a short
# timeout, and counting it would fail every attempt (each timeout kills the horse, so the next starts cold too).
START_ALLOWANCE = 30.0


class Horse:
    """The oven's side: start the child on first use, hand it an order, watch it, kill it when told."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self.proc: subprocess.Popen | None = None
        self._buffer = b""

    def _start(self) -> subprocess.Popen:
        self.proc = subprocess.Popen([sys.executable, "-m", "kitchen.ovens.horse"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, start_new_session=True, preexec_fn=die_with_parent())
        self._buffer = b""
        return self.proc

    def cook(self, order: Order, module: str, timeout: float | None, stopping: Callable[[], bool],
             progress: Callable[[int], None]) -> tuple[str, Any]:
        """('done', result) | ('failed', Failure or 'Type: message') | ('timeout', seconds) | ('interrupted', None)."""
        proc = self.proc if self.proc is not None and self.proc.poll() is None else self._start()
        request = {"recipe": order.recipe, "module": module, "id": order.id, "attempt": order.attempt,
                   "fence": order.fence, "bucket": order.bucket, "priority": order.priority,
                   "customer": order.customer, "key": order.key, "speed": self.speed,
                   "body": order.body if isinstance(order.body, str) else json.dumps(order.payload)}
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()
        except OSError:
            self.kill()
            return "failed", "WorkHorseLost: the recipe's process could not be started"
        started = time.monotonic()
        cooking = False  # until the horse says the recipe started, its start-up time is not the recipe's
        while True:
            if stopping():
                self.kill()
                return "interrupted", None
            limit = timeout if cooking or timeout is None else timeout + START_ALLOWANCE
            if limit is not None and time.monotonic() - started > limit:
                self.kill()
                return "timeout", timeout
            for line in self._lines(proc.stdout):
                answer = json.loads(line)
                if "started" in answer:
                    cooking, started = True, time.monotonic()
                elif "progress" in answer:
                    progress(int(answer["progress"]))
                elif "ok" in answer:
                    return "done", answer["ok"]
                else:
                    return "failed", failure.Failure(str(answer.get("error") or "failed"), answer.get("traceback"),
                                                     bool(answer.get("retry", True)))
            if proc.poll() is not None:
                self.proc = None
                how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"code {proc.returncode}"
                return "failed", f"WorkHorseLost: the recipe's process exited ({how})"

    def _lines(self, pipe: IO[bytes]) -> list[bytes]:
        ready, _, _ = select.select([pipe], [], [], POLL)
        if ready:
            chunk = os.read(pipe.fileno(), 65536)
            self._buffer += chunk
        lines = self._buffer.split(b"\n")
        self._buffer = lines.pop()
        return [line for line in lines if line.strip()]

    def kill(self) -> None:
        """Kill the child (its recipe's work is abandoned, as after a SIGKILL); a new one starts when needed."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


def _serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """The horse's loop: read an order, cook it, answer; until the oven closes the pipe."""
    def say(obj: dict[str, Any]) -> None:
        answers.write(json.dumps(obj).encode() + b"\n")
        answers.flush()

    for raw in requests:
        req = json.loads(raw)
        order = Order(req["id"], req["recipe"], req["body"], req["attempt"], req["fence"], req["bucket"],
                      req["priority"], req["customer"], req["key"])
        fn = None
        try:
            importlib.import_module(req["module"])
            fn = menu.get(req["recipe"])
            if fn is None:
                raise LookupError(f"recipe {req['recipe']!r} is not registered by module {req['module']!r}")
            ctx = Cooking(order, speed=float(req["speed"]), on_progress=lambda p: say({"progress": p}))
            say({"started": True})
            value = fn.cook(ctx)
        except Exception as exc:
            opts = fn.options if fn is not None else menu.options("")
            what = failure.of_exception(exc, opts)
            say({"error": what.error, "traceback": what.traceback, "retry": what.retry})
            continue
        try:
            say({"ok": json.loads(dumps_json(value, "result")) if value is not None else None})
        except BadOrder as exc:
            what = failure.of_result(exc)
            say({"error": what.error, "traceback": None, "retry": False})


if __name__ == "__main__":
    # Answers go to the original stdout; anything a recipe prints goes to stderr, never into the protocol.
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _serve(sys.stdin.buffer, protocol_out)
