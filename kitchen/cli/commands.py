"""What each CLI command does, given parsed arguments and an open Kitchen. Output is for people by
default and for machines with ``--json`` (one object per line for orders, one document otherwise)."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from enum import Enum
from typing import Any, NoReturn

from kitchen.core import words
from kitchen.core.config import Settings
from kitchen.core.errors import OrderBurnt, OrderCancelled
from kitchen.core.views import OvenView, RefusalRow, Snapshot
from kitchen.protocol import Kitchen

from . import logs, metrics
from .failure import report

log = logging.getLogger("kitchen.supervisor")


def _print_json(value: Any) -> None:
    print(json.dumps(value, sort_keys=True, default=str))


def _plain(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return {k: v.value if isinstance(v, Enum) else v for k, v in pairs}


def _as_json(view: Any) -> dict[str, Any]:
    """A read view as a JSON object: its fields as keys, enums as their values."""
    return dataclasses.asdict(view, dict_factory=_plain)


def _reason(row: RefusalRow) -> str:
    return words.refusal(row.code, row.fence, row.current_fence, row.order_state, row.legacy_reason)


def _refusal_json(row: RefusalRow) -> dict[str, Any]:
    """A refused completion as ``kitchen ledger --json`` has always shown it: its code and its reason."""
    out = _as_json(row)
    del out["legacy_reason"]
    out["reason"] = _reason(row)
    return out


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Headless ovens: this process is the oven, or (with --ovens N) a supervisor of N oven processes."""
    listener = logs.install(args.log_level, args.log_json)
    try:
        return _run(args, settings, listener)
    finally:
        logs.stop(listener)


HARD_EXIT_FLUSH = 2.0  # seconds a hard exit waits for another thread's log flush


def _flushing(writer: logs.LogWriter | None, exit_now: Callable[[int], NoReturn]) -> Callable[[int], NoReturn]:
    """The worker's hard exit (os._exit skips atexit), writing out the queued log lines first."""
    def exit_(code: int) -> NoReturn:
        logs.stop(writer, timeout=HARD_EXIT_FLUSH)
        exit_now(code)
    return exit_


def _run(args: argparse.Namespace, settings: Settings, listener: logs.LogWriter | None) -> int:
    from kitchen.ovens.periodic import schedules
    from kitchen.ovens.recipes import build_menu

    modules = [m for m in settings.recipes.split() if m] + list(args.recipes)
    menu = build_menu(settings.menu, settings.burn_rate, modules)
    schedules(menu, settings.schedule)  # a bad every= / cron= / [schedule] line: one line before anything starts
    if args.ovens > 1:
        return _supervise(args, settings, menu, listener)
    with Kitchen.open(settings=settings) as kitchen:
        server = metrics.serve(kitchen, args.metrics_port) if args.metrics_port else None
        try:
            return _cook(kitchen, args, menu, args.name or f"oven-{os.getpid()}", args.parent, listener)
        finally:
            if server is not None:
                server.shutdown()


def _cook(kitchen: Kitchen, args: argparse.Namespace, menu: Any, name: str, parent: int | None,
          listener: logs.LogWriter | None) -> int:
    """This process is one oven (on several slots with --concurrency) until it stops; its exit code."""
    from kitchen.ovens.slots import Slots
    from kitchen.ovens.worker import Worker

    concurrency = args.concurrency or kitchen.settings.concurrency
    oven: Slots | Worker
    if concurrency > 1:
        oven = Slots(kitchen, name, menu, concurrency, burst=args.burst, prefetch=args.prefetch, parent_pid=parent)
    else:
        oven = Worker(kitchen, name, menu, burst=args.burst, prefetch=args.prefetch, parent_pid=parent)
    oven.exit_now = _flushing(listener, oven.exit_now)
    return oven.run()


def _supervise(args: argparse.Namespace, settings: Settings, menu: Any, listener: logs.LogWriter | None) -> int:
    """``--ovens N``: forked ovens by default; exec'd ones with ``oven_start = exec``, where fork is missing,
    or with --metrics-port (its server thread and connection must not be copied into a fork)."""
    from kitchen.ovens.procs import fork_oven, spawn_oven
    from kitchen.ovens.supervisor import Supervisor

    base = args.name or f"oven-{os.getpid()}"
    names = [f"{base}-{i}" for i in range(1, args.ovens + 1)]
    restart = not args.no_restart
    extra = ["--log-level", args.log_level] + (["--log-json"] if args.log_json else [])
    extra += ["--burst"] if args.burst else []
    extra += ["--prefetch", str(args.prefetch)] if args.prefetch else []
    extra += ["--concurrency", str(args.concurrency)] if args.concurrency else []
    extra += ["--recipes", *args.recipes] if args.recipes else []

    def spawn(name: str) -> Any:
        return spawn_oven(name, database=settings.database, config=args.config, extra=extra, inherit_output=True)

    if settings.oven_start == "fork" and hasattr(os, "fork") and not args.metrics_port:
        for module in ("kitchen.ovens.slots", "kitchen.ovens.worker"):
            importlib.import_module(module)  # once here, not again in every fork

        with Kitchen.open(settings=settings):
            pass  # checked (and upgraded) once, then closed: no child may inherit a connection
        parent = os.getpid()
        hold = listener.held if listener is not None else nullcontext

        def fork(name: str) -> Any:
            child = fork_oven(lambda: _forked(args, settings, menu, name, parent), name=name, hold=hold)
            if child is None:  # the log writer is stuck in a line (a full pipe, a paused pager): never wait on it
                log.warning("%s: the log output is not being read; starting it as a new process", name)
                return spawn(name)
            return child

        return Supervisor(names, fork, restart=restart, burst=args.burst).run()
    with Kitchen.open(settings=settings) as kitchen:
        server = metrics.serve(kitchen, args.metrics_port) if args.metrics_port else None
        try:
            return Supervisor(names, spawn, restart=restart, burst=args.burst).run()
        finally:
            if server is not None:
                server.shutdown()


def _forked(args: argparse.Namespace, settings: Settings, menu: Any, name: str, parent: int) -> int:
    """A forked oven's life: its own log writer, its own connection, one line for an error."""
    listener = logs.after_fork(args.log_level, args.log_json)
    try:
        with Kitchen.open(settings=settings) as kitchen:
            return _cook(kitchen, args, menu, name, parent, listener)
    except (Exception, KeyboardInterrupt) as exc:  # as `kitchen` itself reports one
        return report(exc)
    finally:
        logs.stop(listener)


def order(args: argparse.Namespace, kitchen: Kitchen) -> int:
    if args.count == 1:
        tickets = [kitchen.submit(args.recipe, args.payload, customer=args.customer, key=args.key,
                                  priority=args.priority, delay=args.delay)]
    else:
        tickets = kitchen.submit_many(
            {"recipe": args.recipe, "payload": args.payload, "customer": args.customer,
             "key": f"{args.key}-{i}" if args.key else None, "priority": args.priority, "delay": args.delay}
            for i in range(1, args.count + 1))
    for t in tickets:
        if args.json:
            _print_json({"ticket": t.number, "bucket": t.bucket, "duplicate": t.duplicate, "recipe": args.recipe})
        elif t.duplicate:
            print(f"ticket {t.number}: already taken (same key), not queued again; come back later")
        else:
            print(f"ticket {t.number} ({args.recipe}, bucket {t.bucket}): come back later")
    return 0


TRACEBACK_LINES = 6  # the end of a stored traceback `kitchen ticket` shows: where it was raised


def ticket(args: argparse.Namespace, kitchen: Kitchen) -> int:
    """Where an order is; with --wait, block until it is finished: exit 0 done, 1 burnt, cancelled or timed out."""
    code = 0
    if args.wait:
        code = _wait(kitchen, args.number, args.timeout)
    info = kitchen.ticket(args.number)
    if args.json:
        _print_json(_as_json(info))
        return code
    line = f"ticket {info.ticket}: {info.state} ({info.recipe}), attempts {info.attempts}"
    if info.oven:
        line += f", oven {info.oven}"
    if info.state == "cooking":
        line += f", {info.progress}% baked"
    print(line)
    if info.result is not None:
        print(f"  result: {json.dumps(info.result)}")
    if info.error:
        print(f"  error: {info.error}")
    if info.traceback:
        lines = info.traceback.rstrip().splitlines()
        print(f"  traceback (last {min(TRACEBACK_LINES, len(lines))} of {len(lines)} lines):")
        for text in lines[-TRACEBACK_LINES:]:
            print(f"    {text}")
    return code


def _wait(kitchen: Kitchen, number: int, timeout: float | None) -> int:
    try:
        kitchen.result(number, timeout)
    except TimeoutError as exc:
        print(f"kitchen: {exc}", file=sys.stderr)
        return 1
    except (OrderBurnt, OrderCancelled):
        return 1
    return 0


def cancel(args: argparse.Namespace, kitchen: Kitchen) -> int:
    """Exit 0 if every ticket is cancelled (or being stopped), else 1 with one line per ticket that is not."""
    outcome = kitchen.cancel_many(args.tickets)
    refused = 0
    for number in args.tickets:
        state = outcome[number]
        if state == "asked":
            print(f"ticket {number}: cooking; its oven is told to stop (cancelled unless it completes first)")
        elif state == "cancelled":
            print(f"ticket {number}: cancelled")
        else:
            refused += 1
            why = "no such order" if state == "unknown" else f"already {state}, left as it is"
            print(f"kitchen: error: ticket {number} not cancelled: {why}", file=sys.stderr)
    return 1 if refused else 0


STATUS_JSON_KEYS = ("database", "orders", "ovens", "ledger", "bucket_count", "ring_generation", "requeued", "retried",
                    "no_oven_can_cook", "schedule")


def status(args: argparse.Namespace, kitchen: Kitchen) -> int:
    snap = kitchen.status()
    if args.json:
        whole = _as_json(snap)
        _print_json({k: whole[k] for k in STATUS_JSON_KEYS})
        return 0
    o, led = snap.orders, snap.ledger
    print(f"kitchen at {snap.database}")
    print(f"orders: {o.queued} queued, {o.cooking} cooking, {o.done} done, {o.burnt} burnt, {o.cancelled} cancelled")
    for recipe, waiting in sorted(snap.no_oven_can_cook.items()):
        print(f"  {words.no_oven_can_cook(recipe, waiting)}")
    print(f"ledger: {led.completions} completions, {led.duplicate_submissions} duplicate submissions "
          f"absorbed, {led.refused_completions} late completions refused")
    for plan in snap.schedule:
        print(f"schedule: {plan.recipe} {plan.rule}, last slot {_utc(plan.last_slot)}, next {_utc(plan.next_slot)}")
    _print_ovens(snap)
    return 0


def _utc(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at)) if at < float("inf") else "never"


def _print_ovens(snap: Snapshot) -> None:
    alive = [v for v in snap.ovens if v.state == "alive"]
    print(f"ovens: {len(alive)} alive, ring generation {snap.ring_generation}, {snap.bucket_count} buckets")
    for v in snap.ovens:
        print(_oven_line(v))


def _oven_line(v: OvenView) -> str:
    current = f"order {v.current_order} {v.progress}%" if v.current_order else "idle"
    return (f"  {v.name:<16} {v.state:<6} {v.host}:{v.pid:<7} heartbeat {v.heartbeat_age:>6.1f}s"
            f"  {len(v.buckets):>3} buckets  {v.cooked:>6} cooked  {current}")


def ovens(args: argparse.Namespace, kitchen: Kitchen) -> int:
    snap = kitchen.status()
    if args.json:
        _print_json([_as_json(v) for v in snap.ovens])
    else:
        _print_ovens(snap)
    return 0


def ledger(args: argparse.Namespace, kitchen: Kitchen) -> int:
    done, refused = kitchen.ledger(args.limit), kitchen.refusals(args.limit)
    totals = kitchen.status().ledger
    if args.json:
        _print_json({"totals": _as_json(totals), "completions": [_as_json(r) for r in done],
                     "refused": [_refusal_json(r) for r in refused]})
        return 0
    print(f"{totals.completions} completions, {totals.duplicate_submissions} duplicate submissions absorbed, "
          f"{totals.refused_completions} late completions refused")
    for row in done:
        print(f"  done     order {row.order_id:<8} by {row.oven_name:<16} fence {row.fence:<3} "
              f"{time.strftime('%H:%M:%S', time.localtime(row.at))}")
    for r in refused:
        print(f"  REFUSED  order {r.order_id:<8} by {r.oven_name:<16} fence {r.fence:<3} {_reason(r)}")
    return 0


def requeue(args: argparse.Namespace, kitchen: Kitchen) -> int:
    moved = kitchen.requeue(args.tickets, burnt=args.burnt)
    missing = [t for t in args.tickets if t not in moved]
    print(f"requeued {len(moved)} order(s)" + (f": {', '.join(map(str, moved))}" if moved else ""))
    if missing:
        print(f"not burnt (left alone): {', '.join(map(str, missing))}", file=sys.stderr)
        return 1
    return 0


PURGE_JSON_KEYS = ("done", "burnt", "ledger", "refusals", "events", "tombstones", "expired_keys", "reclaimed_pages",
                   "dry_run")


def purge(args: argparse.Namespace, kitchen: Kitchen) -> int:
    """By hand, in the same short batches the reaper uses: ovens keep cooking while it runs."""
    report = kitchen.purge(older_than=args.older_than, dry_run=args.dry_run)
    if args.json:
        whole = _as_json(report)
        _print_json({k: whole[k] for k in PURGE_JSON_KEYS})
    else:
        print(words.purge_summary(report) if report or report.dry_run else "nothing to purge")
    return 0
