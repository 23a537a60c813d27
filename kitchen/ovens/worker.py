"""The oven loop, like huey's consumer: ``tick()`` is one iteration that tests call directly, without threads.

Signals only set flags. First SIGTERM/SIGINT/SIGHUP drains (no new claims; the current order may finish within
``grace`` seconds, else it is handed back); a second one stops now (like rq). A small watchdog thread turns
flags into actions that a signal handler must not do itself (waking a recipe's wait, checking the parent).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

from kitchen.core.errors import BadOrder, KitchenError, OvenLost
from kitchen.core.orders import Order
from kitchen.protocol import Kitchen, Oven, result_json

from . import failure
from .heart import started, watch_until
from .horse import Horse
from .oven_log import OvenLog
from .recipes import Cancelled, Cooking, Interrupted, Menu, Recipe, RecipeOptions

log = logging.getLogger("kitchen.oven")
HARD_STOP = 1.0  # seconds a recipe may ignore "stop now" before the oven hands its orders back and exits
ASYNC_GRACE = 1.0  # seconds past its timeout an async recipe's loop has to cancel it before the oven exits
EXIT_HARD_STOP = 3
EXIT_TIMEOUT = 4


class Worker:
    """One oven incarnation's loop over a Kitchen, with a recipe menu."""

    def __init__(self, kitchen: Kitchen, name: str, menu: Menu, *, burst: bool = False,
                 prefetch: int | None = None, parent_pid: int | None = None, retry_at_once: bool = False) -> None:
        self.kitchen = kitchen
        self.name = name
        self.menu = menu
        self.burst = burst
        self.prefetch = prefetch or kitchen.settings.prefetch
        self.parent_pid = parent_pid
        self.retry_at_once = retry_at_once  # cook_all: a failed order is ready again at once (no backoff)
        self.oven: Oven | None = None
        self.in_hand: list[Order] = []
        self.pending: list[tuple[Order, Any]] = []
        self.cooking: Cooking | None = None
        self.stop = threading.Event()
        self.signals = 0
        self.lost = False
        self.drain_started: float | None = None
        self.stopped_at: float | None = None
        self.hard_stopped = False
        self.finished = threading.Event()
        self.horse: Horse | None = None  # the work horse for isolated recipes, started on first use
        self.cooking_since = 0.0
        self.cooking_options: RecipeOptions | None = None
        # tests replace it to watch a hard stop without losing the test process
        self.exit_now: Callable[[int], NoReturn] = os._exit
        self.cooked = 0
        self.events = OvenLog(log, name)
        self._waiter = kitchen.waiter()
        self._loop: asyncio.AbstractEventLoop | None = None  # for async def recipes: one per oven, made on first use
        self.cancel_asked: frozenset[int] = frozenset()  # orders it holds that the last heartbeat said to cancel
        self._debug = False  # is DEBUG on? (read at each tick)

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> Oven:
        self.oven = self.kitchen.join(self.name, self.menu.names())  # claims only what it can cook
        log.info("%s joined (#%d, pid %d, host %s)", self.name, self.oven.id, os.getpid(), self.oven.host)
        return self.oven

    def _joined(self) -> Oven:
        if self.oven is None:
            raise RuntimeError("the worker has not joined yet: call start() or tick()")
        return self.oven

    @property
    def draining(self) -> bool:
        return self.drain_started is not None

    def drain(self, why: str, now: float | None = None) -> None:
        if self.drain_started is None:
            self.drain_started = time.monotonic() if now is None else now
            log.info("%s draining (%s): no new orders; finishing the one in the oven", self.name, why)

    def shutdown(self) -> None:
        """Hand back anything unfinished and leave the ring (graceful; buckets move to the others)."""
        if self.oven is None:
            return
        try:
            if self.pending:
                self._commit(0)
            released = self.oven.release() if self.in_hand else 0
            self.oven.leave()
            log.info("%s left the kitchen%s", self.name, f" ({released} order(s) handed back)" if released else "")
        except KitchenError as exc:
            log.warning("%s could not leave cleanly: %s (the reaper will recover its work)", self.name, exc)
        self.in_hand = []

    def close(self) -> None:
        """After ticks driven by hand (``cook_all``, tests): leave, and free the waiter and the event loop."""
        self.shutdown()
        self._waiter.close()
        if self._loop is not None:
            self._loop.close()
        if self.horse is not None:
            self.horse.kill()

    # -- one iteration ----------------------------------------------------------------------------------------

    def tick(self) -> str:
        """One iteration: 'cooked' (did work), 'idle' (nothing ready), or 'exit' (stop the loop)."""
        if self.oven is None:
            self.start()
        if self.lost:
            self._rejoin()
        if self.pending:
            self._commit(0)
        if self.stop.is_set() or (self.drain_started is not None and not self.in_hand):
            return "exit"
        if not self.in_hand:
            self.in_hand = self._joined().claim_many(self.prefetch)
            if not self.in_hand:
                return "idle"
        self._debug = log.isEnabledFor(logging.DEBUG)  # asked once a tick, not once an order
        while self.in_hand and not self.stop.is_set():
            order = self.in_hand[0]
            outcome, value = self._cook(order)
            if outcome == "interrupted":
                break
            self.in_hand.pop(0)
            if outcome == "done":
                self.pending.append((order, value))
        # drain_started: ``draining`` without its call (a drain may start while the order cooked)
        claim = 0 if (self.drain_started is not None or self.stop.is_set() or self.in_hand) else self.prefetch
        if self.pending or claim:
            self._commit(claim)
        return "cooked"

    def _commit(self, claim: int) -> None:
        """Group commit of finished orders (+ the next claim). On a database error they stay pending and the
        next tick commits them again: finished work is never silently dropped."""
        oven = self.oven or self._joined()
        accepted, claimed = oven.complete_many(self.pending, claim=claim)
        finished, self.pending = self.pending, []
        self.in_hand += claimed
        done = sum(accepted)
        self.cooked += done
        self.events.count("done", done)  # once per batch: the per-order DEBUG lines cost nothing when off
        debug = log.isEnabledFor(logging.DEBUG)
        if not debug and done == len(finished):
            return
        for (order, _), ok in zip(finished, accepted):
            if ok:
                if debug:
                    self.events.line(logging.DEBUG, "done", order, "%s done: order %d (%s)", self.name, order.id,
                                     order.recipe)
            else:
                self.events.order(logging.WARNING, "refused", order, "%s: completion of order %d refused (stale"
                                  " fence %d: it was taken back)", self.name, order.id, order.fence)

    def _cook(self, order: Order) -> tuple[str, Any]:
        fn = self.menu.get(order.recipe)
        if self._debug:
            log.debug("%s cooking order %d (%s, attempt %d)", self.name, order.id, order.recipe, order.attempt)
        if order.payload is None:
            state = self._joined().fail(order, "payload is not JSON: refused without cooking", retry=False)
            log.warning("%s: order %d has a payload that is not JSON -> %s", self.name, order.id, state)
            return "failed", None
        if fn is None:  # claims are menu-aware, so only a handle joined without this menu gets here: never burn
            self._joined().release(order)
            log.error("%s: order %d (%r) is not on this oven's menu; handed back uncooked", self.name, order.id,
                      order.recipe)
            return "failed", None
        if order.id in self.cancel_asked:  # cancelled while it waited in hand: never cooked
            return self._cancel(order)
        opts = fn.options
        cooking = self.cooking = Cooking(order, speed=self.kitchen.settings.speed, stop=self.stop)
        self.cooking_since, self.cooking_options = time.monotonic(), opts
        try:
            if opts.isolated:
                return self._in_horse(order, fn, opts)
            value = fn.cook(cooking, self._event_loop() if fn.is_async else None)
        except Interrupted:
            return "interrupted", None
        except Cancelled:
            return self._cancel(order)
        except Exception as exc:
            if cooking.cancelled:
                return self._cancel(order)
            return self._failed(order, failure.of_exception(exc, opts), opts)
        finally:
            self.cooking = None
            self.cooking_options = None
        try:
            # a result that is not plain JSON fails this order now; found later, at the group commit, it
            # would crash the oven, hand the order back uncounted, and crash every oven after it in a loop
            if value is not None:
                result_json(value)
        except BadOrder as exc:
            return self._failed(order, failure.of_result(exc), opts)
        return "done", value

    def _failed(self, order: Order, what: failure.Failure, opts: RecipeOptions) -> tuple[str, Any]:
        state = self._joined().fail(order, what.error, retry=what.retry, traceback=what.traceback,
                                    max_attempts=opts.max_attempts, backoff=0.0 if self.retry_at_once else None)
        self.events.order(logging.WARNING, "burnt" if state == "burnt" else "retry", order,
                          "%s: order %d failed (%s) -> %s", self.name, order.id, what.error,
                          {"queued": "will retry", "burnt": "burnt (dead letter)", "cancelled": "cancelled"}.get(
                              state or "", "already taken back"), traceback=what.traceback)
        return "failed", None

    def _cancel(self, order: Order) -> tuple[str, Any]:
        """The recipe stopped for a cancel: the order ends cancelled (if this claim still holds it)."""
        ended = self._joined().cancelled(order)
        log.info("%s: order %d %s", self.name, order.id, "cancelled while cooking" if ended else
                 "stopped for a cancel, but its claim was already taken back")
        return "failed", None

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        return self._loop

    def _in_horse(self, order: Order, fn: Recipe, opts: RecipeOptions) -> tuple[str, Any]:
        """Cook in the work horse; the oven's own threads (heartbeat, watchdog) stay free meanwhile."""
        if self.horse is None:
            self.horse = Horse(self.kitchen.settings.speed)
        cooking = self.cooking
        assert cooking is not None
        outcome, value = self.horse.cook(order, fn.fn.__module__, opts.timeout,
                                         lambda: self.stop.is_set() or cooking.cancelled,
                                         lambda p: setattr(cooking, "progress_value", p))
        if outcome == "done":
            try:
                result_json(value)
            except BadOrder as exc:
                return self._failed(order, failure.of_result(exc), opts)
            return "done", value
        if cooking.cancelled:
            return self._cancel(order)
        if outcome == "interrupted":
            return "interrupted", None
        if outcome == "timeout":
            what = failure.Failure(f"TimeoutError: timed out after {value:g} s", None, True)
        elif isinstance(value, failure.Failure):
            what = value
        else:
            what = failure.Failure(str(value), None, True)
        return self._failed(order, what, opts)

    def _rejoin(self) -> None:
        log.warning("%s lost its incarnation (declared dead); rejoining as a new oven", self.name)
        self.in_hand = []
        self.lost = False
        self.start()

    # -- jobs on other threads ----------------------------------------------------------------------------

    def beat(self) -> None:
        """Heartbeat job: liveness, lease renewal, progress of the current order."""
        oven, cooking = self.oven, self.cooking
        if oven is None or self.lost:
            return
        try:
            if cooking is not None:
                asked = oven.heartbeat(progress=cooking.progress_value, order=cooking.order)
                if cooking.order.id in asked and not cooking.cancel.is_set():
                    log.info("%s: order %d was cancelled; telling its recipe", self.name, cooking.order.id)
                    cooking.cancel.set()
            else:
                asked = oven.heartbeat()
            self.cancel_asked = frozenset(asked)  # orders in hand (prefetched) are then not cooked at all
        except OvenLost:
            if oven is self.oven:
                self.lost = True
                log.warning("%s was declared dead by the reaper (heartbeat refused)", self.name)
        except KitchenError as exc:
            log.warning("%s heartbeat failed: %s", self.name, exc)

    def watch(self, now: float | None = None) -> None:
        """Watchdog step: signals -> drain/stop, parent gone -> drain, grace over -> stop, a recipe that
        ignores the stop -> hand everything back and exit at once."""
        now = time.monotonic() if now is None else now
        if self.signals >= 2 and not self.stop.is_set():
            log.info("%s stopping now (second signal): handing its order back", self.name)
            self._stop_now(now)
        elif self.signals == 1:
            self.drain("signal", now)
        if self.parent_pid is not None and os.getppid() != self.parent_pid:
            self.drain("parent process gone", now)
        if (self.draining and not self.stop.is_set() and self.drain_started is not None
                and now - self.drain_started > self.kitchen.settings.grace):
            log.info("%s grace period over: handing its order back", self.name)
            self._stop_now(now)
        cooking = self.cooking  # read once: the main thread sets it back to None when the recipe returns
        if (self.stopped_at is not None and cooking is not None and now - self.stopped_at > HARD_STOP
                and not self.hard_stopped):
            self.hard_stop()
        opts, order = self.cooking_options, cooking.order if cooking is not None else None
        fn = self.menu.get(order.recipe) if order is not None else None
        grace = ASYNC_GRACE if fn is not None and fn.is_async else 0.0  # its loop cancels it first (RecipeTimeout)
        if (opts is not None and order is not None and opts.timeout is not None and not opts.isolated
                and now - self.cooking_since > opts.timeout + grace and not self.hard_stopped):
            self.overran(order, opts.timeout)

    def overran(self, order: Order, timeout: float) -> None:
        """An in-process recipe ran past its timeout: fail this attempt, hand the rest back, exit (a thread
        cannot be killed; the supervisor starts a fresh oven). Isolated recipes lose only their work horse."""
        log.warning("%s: order %d ran over its %gs limit; failing it and exiting", self.name, order.id, timeout)
        opts = self.cooking_options
        try:
            self._joined().fail(order, f"TimeoutError: timed out after {timeout:g} s",
                                max_attempts=opts.max_attempts if opts is not None else None)
        except KitchenError as exc:
            log.warning("%s could not fail order %d: %s", self.name, order.id, exc)
        self.hard_stop(EXIT_TIMEOUT)

    def _stop_now(self, now: float) -> None:
        self.stopped_at = now
        self.stop.set()

    def hard_stop(self, code: int = 0) -> None:
        """The recipe did not return after the stop: commit what finished, hand the rest back, leave, exit.

        Runs on the watchdog thread while the main thread is stuck inside the recipe (which never touches
        ``pending``); the recipe's own half-done work is the same as after a kill.
        """
        self.hard_stopped = True
        log.warning("%s: recipe ignored the stop for %gs; handing its orders back and exiting", self.name, HARD_STOP)
        try:
            if self.pending and self.oven is not None:
                self.oven.complete_many(list(self.pending))
            if self.oven is not None:
                self.oven.leave()
        except KitchenError as exc:
            log.warning("%s could not leave cleanly: %s (the reaper will recover its work)", self.name, exc)
        finally:
            self.exit_now(code or EXIT_HARD_STOP)

    # -- the whole run -------------------------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: object) -> None:
        self.signals += 1

    def queue_empty(self) -> bool:
        snap = self.kitchen.status()  # orders no live oven can cook wait for one that can: they do not count
        return snap.orders.queued - sum(snap.no_oven_can_cook.values()) <= 0 and snap.orders.cooking == 0

    def run(self, install_signals: bool = True) -> int:
        """Cook until drained, stopped, or (with burst) the queue is empty; returns the exit code."""
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, self._on_signal)
        try:
            with started(self.kitchen, self.name, self.events, self.menu, self._own_id, self.beat, self.start):
                threading.Thread(target=watch_until, args=(self.finished, self.watch, self.name), name="watchdog",
                                 daemon=True).start()
                try:
                    self.loop()
                finally:
                    self.stop.set()
        finally:
            self.close()
            self.finished.set()
        return 0

    def loop(self) -> None:
        """Tick until told to exit; wait for the queue to change while idle (an oven's slot runs this too)."""
        failing = 0.0
        poll = self.kitchen.settings.poll_interval
        while True:
            try:
                state = self.tick()
                failing = 0.0
            except OvenLost:
                self.lost = True
                continue
            except KitchenError as exc:
                failing = min(max(failing * 2, 0.1), 2.0)
                log.warning("%s: %s; trying again in %.1fs", self.name, exc, failing)
                if self.stop.wait(failing):
                    break
                continue
            if state == "exit":
                break
            if state == "idle":
                if self.burst_over():
                    break
                self._waiter.wait(poll, lambda: self.signals > 0 or self.stop.is_set() or self.lost or self.draining)

    def burst_over(self) -> bool:
        """With --burst: nothing this oven could cook is queued, and nothing is cooking anywhere."""
        if self.burst and self.queue_empty():
            log.info("%s: queue empty, burst done (%d cooked)", self.name, self.cooked)
            return True
        return False

    def _own_id(self) -> int | None:
        return self.oven.id if self.oven is not None and not self.lost else None
