"""The guided tour: nine scenes, one per idea of the pizza-shop note, and how each is detected.

The words live in ``tour.toml``; this module holds the tour's state (which scene and step, what the
kitchen looked like when the step began) and the detectors: pure functions that read the kitchen's own
events and status — never a timer — and return the facts the step's "done" sentence is filled with.
No Textual and no I/O here, so detection is tested without a screen.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from kitchen.core import words
from kitchen.core.events import EventKind, RingMove
from kitchen.core.views import EventRow, RecentOrder, Snapshot


@dataclass(frozen=True)
class Step:
    todo: str
    do: str
    detect: str
    done: str


@dataclass(frozen=True)
class TourScene:
    id: str
    title: str
    problem: str
    panes: tuple[str, ...]
    guarantee: str
    steps: tuple[Step, ...]


def load_scenes(text: str | None = None) -> list[TourScene]:
    """The scenes of ``tour.toml`` (or of ``text``), checked against the detectors this module knows."""
    data = tomllib.loads(text if text is not None else
                         resources.files("kitchen.tui").joinpath("tour.toml").read_text(encoding="utf-8"))
    out = []
    for s in data["scene"]:
        steps = tuple(Step(st["todo"], st["do"], st["detect"], st["done"]) for st in s["step"])
        for st in steps:
            if st.detect not in DETECTORS:
                raise ValueError(f"tour.toml: scene {s['id']}: no detector {st.detect!r}")
        out.append(TourScene(s["id"], s["title"], s["problem"], tuple(s.get("panes", ())), s["guarantee"], steps))
    return out


@dataclass
class Watch:
    """What a detector sees: the status when the step began, the status now, every event since, the newest
    orders, and notes the tour's own actions left (ticket numbers, keys)."""

    base: Snapshot | None
    now: Snapshot
    events: list[EventRow]
    recent: list[RecentOrder]
    notes: dict[str, Any]

    def of(self, kind: EventKind) -> list[EventRow]:
        return [e for e in self.events if e.kind == kind]


Facts = dict[str, Any]


def _alive(s: Snapshot | None) -> list:
    return [o for o in (s.ovens if s else []) if o.state == "alive"]


def new_orders(w: Watch) -> Facts | None:
    new = w.now.orders.submitted - (w.base.orders.submitted if w.base else 0)
    busy = sum(1 for o in _alive(w.now) if o.cooking)
    if new <= 0 or not busy:  # shown once the ovens are busy and the tickets already handed back
        return None
    return {"new": new, "queued": w.now.orders.queued, "busy": busy}


def all_stopped(w: Watch) -> Facts | None:
    gone = w.of(EventKind.LEAVE) + w.of(EventKind.DEAD)
    if not gone or _alive(w.now) or not w.notes.get("reopened", True):
        return None
    return {"left": len(w.of(EventKind.LEAVE)), "queued": w.now.orders.queued}


def assigned(w: Watch) -> Facts | None:
    after = w.notes.get("after_ticket", w.base.orders.submitted if w.base else 0)
    for o in sorted(w.recent, key=lambda o: o.id):
        if o.id <= after or o.state not in ("cooking", "done"):
            continue
        owner = next((b.oven for b in w.now.buckets if b.bucket == o.bucket), None)
        stole = next((e.oven_name for e in w.of(EventKind.STOLEN) if e.order_id == o.id), None)
        cook = stole or next((v.name for v in w.now.ovens if o.id in v.cooking), None) or owner
        if cook is None or owner is None:
            continue
        how = (f"so {owner} took it" if cook == owner else
               f"but {cook} had nothing in its own buckets and took it first (owner first, then steal: scene 4)")
        return {"ticket": o.id, "customer": o.customer or "nobody", "bucket": o.bucket, "owner": owner,
                "how": how}
    return None


def stolen(w: Watch) -> Facts | None:
    """A steal of one of the step's own orders (``notes["tickets"]``, left by the tour's action): the ovens
    may still be stealing orders queued before the step began, and those must not finish it before it ran."""
    tickets = set(w.notes.get("tickets", ()))
    steals = [e for e in w.of(EventKind.STOLEN) if e.order_id in tickets]
    if not steals:
        return None
    d = steals[0].data or {}
    return {"thief": d.get("thief", steals[0].oven_name), "owner": d.get("owner") or "another oven",
            "ticket": steals[0].order_id, "bucket": d.get("bucket", "?"), "steals": len(steals)}


def recovered(w: Watch) -> Facts | None:
    deaths = w.of(EventKind.DEAD)
    if not deaths:
        return None
    dead = deaths[0]
    moves = [e for e in w.of(EventKind.MOVED) if e.id > dead.id and e.data]
    if not moves:
        return None
    move = RingMove.from_data(moves[0].data or {})
    requeued = sum(1 for e in w.of(EventKind.REQUEUE) if e.oven_name == dead.oven_name)
    timeout = (dead.data or {}).get("timeout", w.now.heartbeat_timeout)
    return {"oven": dead.oven_name, "timeout": f"{timeout:g}", "requeued": requeued, "moved": move.buckets,
            "summary": words.move_summary(move, with_generation=False)}


def duplicate(w: Watch) -> Facts | None:
    before = w.base.ledger.duplicate_submissions if w.base else 0
    dups = w.now.ledger.duplicate_submissions - before
    return {"dups": dups} if dups > 0 else None


def refused(w: Watch) -> Facts | None:
    refusals = w.of(EventKind.REFUSED)
    if not refusals:
        return None
    e = refusals[0]
    d = e.data or {}
    current = d.get("current_fence", "?")
    why = {"recooking": f"claimed again by another oven (fence {current})",
           "already_done": f"finished by another oven (fence {current})",
           "taken_back": f"taken back into the queue when {e.oven_name} was declared dead"}
    return {"oven": e.oven_name, "ticket": e.order_id, "fence": d.get("fence", "?"), "current": current,
            "why": why.get(str(d.get("code")), "taken from it")}


def burnt(w: Watch) -> Facts | None:
    ticket = w.notes.get("ticket")
    for e in w.of(EventKind.BURNT):
        if ticket is None or e.order_id == ticket:
            retries = sum(1 for r in w.of(EventKind.RETRY) if r.order_id == e.order_id)
            return {"ticket": e.order_id, "retries": retries, "attempts": (e.data or {}).get("attempts", retries + 1)}
    return None


def requeued(w: Watch) -> Facts | None:
    ticket = w.notes.get("ticket")
    for e in w.of(EventKind.REQUEUE):
        if (e.data or {}).get("why") == "by_hand" and (ticket is None or e.order_id == ticket):
            return {"ticket": e.order_id}
    return None


def scaled(w: Watch) -> Facts | None:
    joins = w.of(EventKind.JOIN)
    moves = [e for e in w.of(EventKind.MOVED) if e.data]
    alive = sorted(_alive(w.now), key=lambda o: (o.name.split("-")[0], o.id))
    shop = w.notes.get("shop")
    if not joins or not moves or len(alive) <= len(_alive(w.base)):
        return None
    if shop and not any(o.name.startswith(f"{shop}-") and o.buckets for o in alive):
        return None  # the tour opened a second shop: wait until its ovens have joined the ring
    moved = sum(RingMove.from_data(e.data or {}).buckets for e in moves)
    shares = ", ".join(f"{o.name} {len(o.buckets)}" for o in alive)
    others = sorted({o.name.rsplit("-", 1)[0] for o in alive} - {"oven"})
    shops = f"The second shop ({', '.join(others)}) is another process on the same database." if others else ""
    return {"ovens": len(alive), "buckets": w.now.bucket_count, "shares": shares, "moved": moved, "shops": shops}


DETECTORS: dict[str, Callable[[Watch], Facts | None]] = {
    "new_orders": new_orders, "all_stopped": all_stopped, "assigned": assigned, "stolen": stolen,
    "recovered": recovered, "duplicate": duplicate, "refused": refused, "burnt": burnt, "requeued": requeued,
    "scaled": scaled}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def fill(text: str, facts: Facts) -> str:
    """A sentence of tour.toml with its {facts}; a fact the detector did not find reads '?'."""
    return text.format_map(_Blank(facts))


@dataclass(frozen=True)
class TourStart:
    """Where a tour opens: scene ``index`` (0-based), its ``step``; the status and newest event id the step
    is measured from (None/0: the first refresh), and notes its action would have left (seeded scenes)."""

    index: int = 0
    step: int = 0
    base: Snapshot | None = None
    after: int = 0
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TourCard:
    """What the tour pane shows (attributes down): empty when no tour runs."""

    progress: str = ""
    title: str = ""
    problem: str = ""
    todo: str = ""
    done: str = ""
    guarantee: str = ""
    panes: tuple[str, ...] = ()
    finished: bool = False


@dataclass
class Tour:
    """Where the tour is: scene index, step index, whether the step happened, and what it found."""

    scenes: list[TourScene]
    index: int = 0
    step: int = 0
    facts: Facts | None = None
    base: Snapshot | None = None
    events: list[EventRow] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    started_event: int = 0
    over: bool = False
    acting: bool = False  # the tour did the step's action; the kitchen has not shown it yet

    @property
    def scene(self) -> TourScene:
        return self.scenes[self.index]

    @property
    def current(self) -> Step:
        return self.scene.steps[self.step]

    @property
    def step_done(self) -> bool:
        return self.facts is not None

    @property
    def scene_done(self) -> bool:
        return self.step_done and self.step == len(self.scene.steps) - 1

    def begin(self, index: int, base: Snapshot | None, last_event: int, step: int = 0) -> None:
        """Start (or repeat) a scene's step: from now on, only events after ``last_event`` count."""
        self.index, self.step, self.over = max(0, min(index, len(self.scenes) - 1)), step, False
        self.facts, self.base, self.events, self.started_event = None, base, [], last_event
        self.acting = False
        if step == 0:
            self.notes = {}

    def observe(self, status: Snapshot, events: list[EventRow], recent: list[RecentOrder]) -> bool:
        """Feed one refresh; True when this refresh completed the step."""
        if self.over or self.step_done:
            return False
        self.events += [e for e in events if e.id > self.started_event]
        if self.base is None:
            self.base = status
        facts = DETECTORS[self.current.detect](Watch(self.base, status, self.events, recent, self.notes))
        if facts is None:
            return False
        self.facts = {**self.notes, **facts}
        return True

    def card(self) -> TourCard:
        if self.over:
            return TourCard(progress="tour over", title="That was every idea of the note.",
                            todo="Press t to start again, escape to leave the tour; the kitchen keeps running.",
                            finished=True)
        s, step = self.scene, self.current
        progress = f"{self.index + 1} / {len(self.scenes)}"
        if len(s.steps) > 1:
            progress += f" · step {self.step + 1} of {len(s.steps)}"
        done = fill(step.done, self.facts) if self.facts is not None else ""
        todo = fill(step.todo, self.notes)
        if self.acting and not done:
            todo += " … the tour did it: watching the kitchen for it to happen."
        return TourCard(progress, s.title, s.problem, todo, done, s.guarantee if self.scene_done else "", s.panes)
