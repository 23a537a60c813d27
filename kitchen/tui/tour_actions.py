"""What "press space and the tour does it" does, scene by scene: run in a worker thread, never on the UI.

Each action calls the Kitchen facade or the oven launcher, leaves notes for the detector (ticket numbers),
and returns lines for the event log. Signals that must follow the kitchen's state (freeze the oven that is
cooking, thaw it once declared dead) are not sent here: the app sends them when a refresh shows the moment.
No Textual here.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kitchen.core.hashing import bucket_for
from kitchen.core.views import Snapshot

from . import counter
from .launcher import Launcher
from .present import next_oven_name

if TYPE_CHECKING:
    from kitchen.protocol import Kitchen

Lines = list[str]
TOUR_OVENS = 3  # ovens the tour keeps alive between scenes
OVENS_WAIT = 30.0  # seconds an action waits for ovens that are still starting


def _alive(status: Snapshot | None) -> list:
    return [o for o in (status.ovens if status else []) if o.state == "alive"]


def rush(k: Kitchen, launcher: Launcher, status: Snapshot | None, notes: dict[str, Any], rng: random.Random) -> Lines:
    tickets = counter.rush(k, rng, sorted(k.settings.menu))
    return [f"tour: rush hour, tickets #{tickets[0]}-#{tickets[-1]} handed back at once"]


def persist(k: Kitchen, launcher: Launcher, status: Snapshot | None, notes: dict[str, Any],
            rng: random.Random) -> Lines:
    """Orders in, every oven out, then a brand-new connection to the reopened database counts them."""
    from kitchen.protocol import Kitchen as Fresh

    notes["reopened"] = False
    tickets = counter.rush(k, rng, sorted(k.settings.menu))
    launcher.stop_all()
    with Fresh.open(settings=k.settings) as again:
        found = again.status().orders
    notes["reopened"] = True
    return [f"tour: took tickets #{tickets[0]}-#{tickets[-1]}, stopped every oven, closed and reopened "
            f"the database: it holds {found.queued} queued orders, {found.done} done"]


def assign(k: Kitchen, launcher: Launcher, status: Snapshot | None, notes: dict[str, Any],
           rng: random.Random) -> Lines:
    t = k.submit("margherita", {"size": "M"}, customer="grace")
    notes["after_ticket"] = t.number - 1
    return [f"tour: ticket #{t.number} for grace, bucket {t.bucket}"]


def balance(k: Kitchen, launcher: Launcher, status: Snapshot | None, notes: dict[str, Any],
            rng: random.Random) -> Lines:
    """A calzone and four quick pizzas, all routed to the buckets of one oven: the others have nothing.

    The scene needs the other ovens idle, so it first waits (a while) for orders left from earlier scenes to
    be cooked; if some are still queued then (a loaded machine), its own orders go ahead of them (priority 1),
    else an idle oven would steal the older leftovers first and the scene's own pizzas never."""
    deadline = time.monotonic() + OVENS_WAIT
    while True:  # ovens restarted for this scene may still be starting (a worker thread: waiting is fine)
        fresh = k.status()
        ovens = [o for o in _alive(fresh) if o.buckets]
        if (len(ovens) >= 2 and fresh.orders.queued == 0) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if len(ovens) < 2:
        return ["tour: this scene needs two ovens: press a to add one, then . to repeat the scene"]
    owner = ovens[0]
    names = [c for c in counter.CUSTOMERS if bucket_for(c, fresh.bucket_count) in set(owner.buckets)]
    names += [f"guest-{i}" for i in range(400) if bucket_for(f"guest-{i}", fresh.bucket_count) in set(owner.buckets)]
    ahead = 1 if fresh.orders.queued else None
    tickets = [k.submit("calzone", {"size": "L"}, customer=names[0], priority=ahead).number]
    tickets += [k.submit("margherita", {"size": "S"}, customer=name, priority=ahead).number for name in names[1:5]]
    notes["tickets"] = tickets  # the detector counts steals of these only
    lines = [f"tour: a calzone and four margheritas, all in {owner.name}'s buckets"]
    if ahead:
        lines.append(f"tour: {fresh.orders.queued} earlier orders still wait: these go ahead of them (priority 1)")
    return lines


def calzones(k: Kitchen, launcher: Launcher, status: Snapshot | None, notes: dict[str, Any],
             rng: random.Random) -> Lines:
    """Long bakes for the fence scene: the app freezes an oven while it is cooking one."""
    return [f"tour: ticket #{k.submit('calzone', {'size': 'L'}, customer=c).number}, a calzone"
            for c in ("ada", "grace", "ken")]


def dedup(k: Kitchen, launcher: Launcher, status: Snapshot | None, notes: dict[str, Any],
          rng: random.Random) -> Lines:
    key = f"table-4-{rng.randrange(1000)}"
    first = k.submit("margherita", {"size": "M"}, customer="ada", key=key)
    again = k.submit("margherita", {"size": "M"}, customer="ada", key=key)
    notes.update(key=key, ticket=first.number)
    return [f"tour: key {key!r} sent twice: ticket #{first.number}, then #{again.number} "
            f"({'the same ticket' if again.duplicate else 'a new ticket?'})"]


def charcoal(k: Kitchen, launcher: Launcher, status: Snapshot | None, notes: dict[str, Any],
             rng: random.Random) -> Lines:
    t = k.submit("charcoal", {"size": "M"}, customer="linus")
    notes["ticket"] = t.number
    return [f"tour: ticket #{t.number}, a charcoal pizza (it always burns)"]


def requeue(k: Kitchen, launcher: Launcher, status: Snapshot | None, notes: dict[str, Any],
            rng: random.Random) -> Lines:
    ticket = notes.get("ticket")
    done = k.requeue([ticket]) if ticket else k.requeue(burnt=True)
    return [f"tour: requeued {', '.join(f'#{t}' for t in done) or 'nothing'} from the burnt shelf"]


def scale(k: Kitchen, launcher: Launcher, status: Snapshot | None, notes: dict[str, Any],
          rng: random.Random) -> Lines:
    """One more oven here, and a second shop: another `kitchen run --ovens 2` process on this database."""
    name = next_oven_name(o.name for o in _alive(status))
    launcher.start(name)
    lines = [f"tour: started {name}"]
    second = getattr(launcher, "start_shop", None)
    if second is not None:
        notes["shop"] = "annex"
        pid = second("annex", 2)
        lines.append(f"tour: opened a second shop, annex (pid {pid}): two ovens on the same database")
    tickets = counter.rush(k, rng, sorted(k.settings.menu), count=20)
    lines.append(f"tour: a bigger rush, tickets #{tickets[0]}-#{tickets[-1]}")
    return lines


def ensure_ovens(k: Kitchen, launcher: Launcher, status: Snapshot | None, notes: dict[str, Any],
                 rng: random.Random) -> Lines:
    """Between scenes the tour keeps three ovens alive, so a scene never waits for one."""
    ovens = _alive(k.status())
    alive, pids = [o.name for o in ovens], {o.pid for o in ovens}
    starting = [p for p in getattr(launcher, "pids", list)() if launcher.owns(p) and p not in pids]
    lines = []
    for _ in range(TOUR_OVENS - len(alive) - len(starting)):
        name = next_oven_name(alive)
        alive.append(name)
        launcher.start(name)
        lines.append(f"tour: started {name} for the next scene")
    return lines


ACTIONS: dict[str, Callable[..., Lines]] = {
    "rush": rush, "persist": persist, "assign": assign, "balance": balance, "dedup": dedup,
    "charcoal": charcoal, "requeue": requeue, "scale": scale, "ensure_ovens": ensure_ovens, "calzones": calzones}
# kill and freeze send signals to the oven a refresh shows cooking: the app does those (see touring.py)
SIGNALLED = {"kill", "freeze"}
