"""Concurrency inside an oven: one ``kitchen run --concurrency N`` process cooks up to N orders at once.

Each slot is a ``Worker`` loop on a thread of its own, with its own claim, fence, prefetch, group commit,
event loop (``async def`` recipes) and work horse (isolated recipes). The slots share what makes them one
oven: one incarnation in the database (one join, one ``leave``), one heartbeat that renews the oven's leases
and carries every slot's progress, one reaper, one watchdog, and the signals: the first SIGTERM drains every
slot (each finishes what it holds, claims nothing new), the second stops them all now. Customer lanes hold
across slots as across ovens: the claim takes only a lane's head, and only while none of the lane cooks.

With ``--concurrency 1`` none of this runs: ``kitchen run`` starts a plain ``Worker``.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import NoReturn

from kitchen.core.errors import KitchenError, OvenLost
from kitchen.protocol import Kitchen, Oven
from kitchen.store import ChangeWaiter

from .heart import started, watch_until
from .oven_log import OvenLog
from .recipes import Menu
from .worker import EXIT_HARD_STOP, HARD_STOP, Worker

log = logging.getLogger("kitchen.oven")
CONCURRENCY_RANGE = (1, 256)
WATCH_SLICE = 0.05  # seconds between an idle slot's looks at its own stop while another slot watches the database


def check_concurrency(value: int) -> int:
    """N itself, or ValueError with the one line to show."""
    low, high = CONCURRENCY_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"concurrency must be a whole number from {low} to {high}, not {value!r}")
    return value


class Doorbell(ChangeWaiter):
    """One change waiter for all of an oven's idle slots: one slot at a time watches the database (one LISTEN
    connection per oven, not per slot). When the queue changes only that slot wakes, and the next waiting slot
    takes over the watch: a change wakes one slot, not N (each empty claim is a write, and N of them after
    every commit would crowd the write gate), and a claim that took work is itself a change, so a burst of
    orders wakes the slots one after another. The others look anyway every ``timeout`` (poll_interval)."""

    def __init__(self, inner: ChangeWaiter) -> None:
        self._inner = inner
        self._watching = threading.Lock()
        self._handover = threading.Condition()

    def wait(self, timeout: float, interrupted: Callable[[], bool]) -> None:
        deadline = time.monotonic() + timeout
        while not interrupted():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self._watching.acquire(blocking=False):
                try:
                    self._inner.wait(left, interrupted)
                finally:
                    self._watching.release()
                    with self._handover:
                        self._handover.notify()  # one waiting slot takes over the watch
                return
            with self._handover:
                self._handover.wait(min(left, WATCH_SLICE))

    def close(self) -> None:
        self._inner.close()


class Slot(Worker):
    """One slot of an oven: a Worker loop that shares its oven's incarnation, stop, heartbeat and log."""

    def __init__(self, crew: Slots, index: int) -> None:
        super().__init__(crew.kitchen, crew.name, crew.menu, burst=crew.burst, prefetch=crew.prefetch)
        self.crew = crew
        self.index = index
        self.stop = crew.stop  # "stop now" interrupts every slot's recipe at once
        self.events = crew.events
        self._waiter = crew.doorbell

    def start(self) -> Oven:
        self.oven = self.crew.current()
        return self.oven

    def _rejoin(self) -> None:
        self.crew.rejoin(self)

    def shutdown(self) -> None:
        """Commit what finished and hand back what this slot holds (by its fences); the oven leaves once, after
        every slot stopped."""
        if self.oven is None:
            return
        try:
            if self.pending:
                self._commit(0)
            for order in self.in_hand:
                self.oven.release(order)
        except KitchenError as exc:
            log.warning("%s slot %d could not hand back its orders: %s (the oven's leave or the reaper will)",
                        self.name, self.index, exc)
        self.in_hand = []

    def close(self) -> None:
        self.shutdown()
        if self._loop is not None:
            self._loop.close()
        if self.horse is not None:
            self.horse.kill()

    def burst_over(self) -> bool:
        if self.crew.burst_done.is_set():
            return True
        if self.burst and self.queue_empty():
            self.crew.end_burst()
            return True
        return False

    def _stop_now(self, now: float) -> None:
        self.crew.stop_now(now)

    def hard_stop(self, code: int = 0) -> None:
        self.crew.hard_stop(code)


class Slots:
    """One oven incarnation cooking on ``concurrency`` slots (threads); ``run()`` is ``kitchen run``'s loop."""

    def __init__(self, kitchen: Kitchen, name: str, menu: Menu, concurrency: int, *, burst: bool = False,
                 prefetch: int | None = None, parent_pid: int | None = None) -> None:
        self.kitchen = kitchen
        self.name = name
        self.menu = menu
        self.burst = burst
        self.prefetch = prefetch or kitchen.settings.prefetch
        self.parent_pid = parent_pid
        self.stop = threading.Event()
        self.burst_done = threading.Event()
        self.finished = threading.Event()
        self.events = OvenLog(log, name)
        self.doorbell = Doorbell(kitchen.waiter())
        self.oven: Oven | None = None
        self.signals = 0
        self.hard_stopped = False
        self.crashed: BaseException | None = None
        self.exit_now: Callable[[int], NoReturn] = os._exit  # tests replace it, as Worker's
        self._lock = threading.Lock()
        self.slots = [Slot(self, i) for i in range(1, check_concurrency(concurrency) + 1)]

    # -- the incarnation, shared ------------------------------------------------------------------------------

    def _join(self) -> Oven:
        self.oven = self.kitchen.join(self.name, self.menu.names())
        log.info("%s joined (#%d, pid %d, host %s, %d slots)", self.name, self.oven.id, os.getpid(), self.oven.host,
                 len(self.slots))
        return self.oven

    def start(self) -> Oven:
        """Join: the one incarnation every slot cooks for."""
        with self._lock:
            oven = self._join()
            for slot in self.slots:
                slot.oven = oven
        return oven

    def _own_id(self) -> int | None:
        """This process's incarnation, which its own reaper never judges."""
        oven = self.oven
        return oven.id if oven is not None else None

    def current(self) -> Oven:
        with self._lock:
            return self.oven if self.oven is not None else self._join()

    def rejoin(self, slot: Slot) -> None:
        """A slot found its incarnation declared dead: the first to ask joins anew, the others adopt it. Under
        the lock the heartbeat marks slots lost with, so a slot is never left marked lost on the new one."""
        with self._lock:
            if self.hard_stopped:  # its own leave made the others' claims fail: exiting, never a new incarnation
                return
            if self.oven is None or self.oven is slot.oven:
                log.warning("%s lost its incarnation (declared dead); rejoining as a new oven", self.name)
                self._join()
            slot.in_hand = []
            slot.oven = self.oven
            slot.lost = False

    def end_burst(self) -> None:
        with self._lock:
            first = not self.burst_done.is_set()
            self.burst_done.set()
        if first:
            log.info("%s: queue empty, burst done (%d cooked)", self.name, self.cooked())

    def cooked(self) -> int:
        return sum(slot.cooked for slot in self.slots)

    @property
    def draining(self) -> bool:
        return any(slot.draining for slot in self.slots)

    def drain(self, why: str, now: float) -> None:
        if not self.draining:
            log.info("%s draining (%s): no new orders; finishing what its %d slots hold", self.name, why,
                     len(self.slots))
        for slot in self.slots:
            if slot.drain_started is None:
                slot.drain_started = now

    def stop_now(self, now: float) -> None:
        for slot in self.slots:
            if slot.stopped_at is None:
                slot.stopped_at = now
        self.stop.set()

    def hard_stop(self, code: int = 0) -> None:
        """A recipe ignored the stop, or overran its timeout: commit what every slot finished, leave (handing
        back the rest), exit. Runs on the watchdog thread."""
        with self._lock:
            if self.hard_stopped:
                return
            self.hard_stopped = True
            for slot in self.slots:
                slot.hard_stopped = True
        self.stop.set()  # every slot: claim nothing more (the leave below would make their claims fail)
        log.warning("%s: a recipe ignored the stop for %gs or overran; handing its orders back and exiting",
                    self.name, HARD_STOP)
        oven = self.oven
        try:
            if oven is not None:
                for slot in self.slots:
                    if slot.pending and slot.oven is oven:
                        oven.complete_many(list(slot.pending))
                oven.leave()
        except KitchenError as exc:
            log.warning("%s could not leave cleanly: %s (the reaper will recover its work)", self.name, exc)
        finally:
            self.exit_now(code or EXIT_HARD_STOP)

    # -- jobs on other threads ----------------------------------------------------------------------------

    def beat(self) -> None:
        """The one heartbeat: liveness, the oven's leases, every slot's progress; cancels go to their slots."""
        oven = self.oven
        if oven is None:
            return
        cooking = [c for slot in self.slots if (c := slot.cooking) is not None and slot.oven is oven]
        try:
            asked = frozenset(oven.heartbeat(orders=[(c.order, c.progress_value) for c in cooking]))
        except OvenLost:
            log.warning("%s was declared dead by the reaper (heartbeat refused)", self.name)
            with self._lock:
                for slot in self.slots:
                    if slot.oven is oven:
                        slot.lost = True
            return
        except KitchenError as exc:
            log.warning("%s heartbeat failed: %s", self.name, exc)
            return
        with self._lock:
            for slot in self.slots:
                if slot.oven is not self.oven:  # still on an incarnation another slot already replaced
                    slot.lost = True
        for slot in self.slots:
            slot.cancel_asked = asked
        for c in cooking:
            if c.order.id in asked and not c.cancel.is_set():
                log.info("%s: order %d was cancelled; telling its recipe", self.name, c.order.id)
                c.cancel.set()

    def watch(self, now: float | None = None) -> None:
        """Watchdog step: signals -> drain / stop every slot; parent gone -> drain; then each slot's own checks
        (grace, a recipe ignoring the stop, a timeout)."""
        now = time.monotonic() if now is None else now
        if self.signals >= 2 and not self.stop.is_set():
            log.info("%s stopping now (second signal): handing its orders back", self.name)
            self.stop_now(now)
        elif self.signals == 1:
            self.drain("signal", now)
        if self.parent_pid is not None and os.getppid() != self.parent_pid:
            self.drain("parent process gone", now)
        for slot in self.slots:
            slot.watch(now)

    # -- the whole run -------------------------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: object) -> None:
        self.signals += 1

    def run(self, install_signals: bool = True) -> int:
        """Cook on every slot until drained, stopped, or (with burst) every slot is idle and nothing is ready."""
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, self._on_signal)
        try:
            with started(self.kitchen, self.name, self.events, self.menu, self._own_id, self.beat, self.start):
                threading.Thread(target=watch_until, args=(self.finished, self.watch, self.name), name="watchdog",
                                 daemon=True).start()
                threads = [threading.Thread(target=self._cook_on, args=(slot,), name=f"slot-{slot.index}",
                                            daemon=True) for slot in self.slots]
                try:
                    for thread in threads:
                        thread.start()
                    for thread in threads:
                        while thread.is_alive():  # in slices: the main thread stays free to run signal handlers
                            thread.join(0.2)
                finally:
                    self.stop.set()
        finally:
            self.close()
            self.finished.set()
        if self.crashed is not None:
            raise self.crashed
        return 0

    def _cook_on(self, slot: Slot) -> None:
        try:
            slot.loop()
        except BaseException as exc:  # a bug, not a kitchen error: stop every slot, then raise it from run()
            self.crashed = exc
            self.stop_now(time.monotonic())
        finally:
            slot.close()
            self.kitchen.store.close()  # this thread's connection

    def close(self) -> None:
        """Leave the ring (anything still held goes back to the queue) and free the shared waiter."""
        if self.oven is not None:
            try:
                self.oven.leave()
                log.info("%s left the kitchen (%d cooked)", self.name, self.cooked())
            except KitchenError as exc:
                log.warning("%s could not leave cleanly: %s (the reaper will recover its work)", self.name, exc)
        self.doorbell.close()
