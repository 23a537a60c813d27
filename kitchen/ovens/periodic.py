"""Periodic orders: ``@recipe(every="5m")``, ``@recipe(cron="0 3 * * *")`` and kitchen.ini ``[schedule]`` lines,
fired by every live oven's scheduler, one order per slot (``Kitchen.fire``'s compare-and-set).

Slots come from APScheduler's triggers, computed on the kitchen's shared clock so every host agrees:
``every`` slots are aligned to the Unix epoch (every 10s: :00, :10, :20 ...), ``cron`` is in UTC.

**Catch-up rule**: an oven fires only the latest slot that has come (the newest slot <= now). Slots missed
while no oven ran are not replayed: the first oven back fires one order, for the latest missed slot, then
follows the schedule. A slot is never fired twice, even after its order was purged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from kitchen.core.config import parse_duration
from kitchen.core.errors import ConfigError, KitchenError
from kitchen.protocol import Kitchen

from .recipes import Menu

log = logging.getLogger("kitchen.schedule")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LOOK_BACK = (60.0, 3600.0, 86400.0, 32 * 86400.0, 367 * 86400.0)  # seconds: how far back to find the latest slot
CHECK_EVERY = 1.0  # seconds between an oven's looks at its schedules


@dataclass(frozen=True)
class Schedule:
    """One periodic recipe: its rule as written ('every 10s', 'cron 0 3 * * *') and its trigger."""

    recipe: str
    rule: str
    trigger: BaseTrigger

    def latest(self, now: float) -> float | None:
        """The newest slot at or before ``now`` (None: none within a year)."""
        at = datetime.fromtimestamp(now, UTC)
        for back in LOOK_BACK:
            slot = self.trigger.get_next_fire_time(None, at - timedelta(seconds=back))
            if slot is None or slot > at:
                continue
            while (following := self._after(slot)) is not None and following <= at:
                slot = following
            return slot.timestamp()
        return None

    def after(self, slot: float) -> float:
        """The slot after ``slot``."""
        following = self._after(datetime.fromtimestamp(slot, UTC))
        return following.timestamp() if following is not None else float("inf")

    def _after(self, slot: datetime) -> datetime | None:
        return self.trigger.get_next_fire_time(slot, slot + timedelta(microseconds=1))


def parse(recipe: str, every: str | None = None, cron: str | None = None) -> Schedule:
    """A schedule from ``every`` (a duration) or ``cron`` (five crontab fields, UTC); one line if bad."""
    if (every is None) == (cron is None):
        raise ConfigError(f"recipe {recipe}: give one of every= or cron=")
    if every is not None:
        seconds = parse_duration(every, f"recipe {recipe}: every")
        if seconds == float("inf"):
            raise ConfigError(f"recipe {recipe}: every must be a duration, not forever")
        return Schedule(recipe, f"every {every}", IntervalTrigger(seconds=seconds, start_date=EPOCH,
                                                                  timezone=UTC))
    try:
        trigger = CronTrigger.from_crontab(str(cron), timezone=UTC)
    except ValueError as exc:
        raise ConfigError(f"recipe {recipe}: cron {cron!r} is not a crontab line ({exc})") from None
    return Schedule(recipe, f"cron {cron}", trigger)


def parse_line(recipe: str, text: str) -> Schedule:
    """A kitchen.ini ``[schedule]`` line's value: 'every 5m' or 'cron 0 3 * * *'."""
    word, _, rest = text.strip().partition(" ")
    if word == "every":
        return parse(recipe, every=rest.strip())
    if word == "cron":
        return parse(recipe, cron=rest.strip())
    raise ConfigError(f"[schedule] {recipe}: expected 'every DURATION' or 'cron M H DOM MON DOW', not {text!r}")


def schedules(menu: Menu, lines: Mapping[str, str]) -> list[Schedule]:
    """The recipes' own schedules, then kitchen.ini's ``[schedule]`` (which wins for the same recipe); only
    recipes on this oven's menu."""
    found = {name: parse(name, menu.options(name).every, menu.options(name).cron) for name in menu.names()
             if menu.options(name).every or menu.options(name).cron}
    for name, text in lines.items():
        if name not in menu:
            raise ConfigError(f"[schedule] {name}: no such recipe on this oven's menu")
        found[name] = parse_line(name, text)
    return [found[name] for name in sorted(found)]


class Periodic:
    """An oven's side of the schedules: fire each slot once from this process (the database decides who wins)."""

    def __init__(self, kitchen: Kitchen, plan: list[Schedule]) -> None:
        self.kitchen = kitchen
        self.plan = plan
        self.tried: dict[str, float] = {}

    def check(self, now: float | None = None) -> list[int]:
        """Fire every schedule whose latest slot this process has not tried yet; returns tickets queued."""
        now = self.kitchen.clock() if now is None else now
        queued = []
        for s in self.plan:
            slot = s.latest(now)
            if slot is None or self.tried.get(s.recipe, float("-inf")) >= slot:
                continue
            try:
                ticket = self.kitchen.fire(s.recipe, slot, s.after(slot), s.rule)
            except KitchenError as exc:
                log.warning("schedule %s: %s (trying again)", s.recipe, exc)
                continue
            self.tried[s.recipe] = slot
            if ticket is not None:
                queued.append(ticket.number)
                log.info("scheduled %s: order %d for the slot at %s", s.recipe, ticket.number,
                         datetime.fromtimestamp(slot, UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                         extra={"order": ticket.number, "recipe": s.recipe, "event": "scheduled"})
        return queued


def add_periodic(scheduler: BackgroundScheduler, kitchen: Kitchen, plan: list[Schedule]) -> Periodic | None:
    """The schedules as one scheduler job (nothing when this oven has none)."""
    if not plan:
        return None
    periodic = Periodic(kitchen, plan)
    scheduler.add_job(periodic.check, "interval", seconds=CHECK_EVERY, id="periodic", name="periodic orders")
    return periodic
