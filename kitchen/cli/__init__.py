"""The ``kitchen`` command: a thin face over the Kitchen facade.

Bad arguments: a usage message and exit 2. Runtime errors: one line on stderr and exit 1. Never a
traceback (set KITCHEN_DEBUG=1 to see one). ``kitchen run`` never imports Textual.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from kitchen.core.errors import BadOrder, KitchenError
from kitchen.core.orders import MAX_DEPTH, PRIORITY_RANGE, check_oven_name

from .failure import PROG, report
from .logs import one_line


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None


def _concurrency(text: str) -> int:
    value = _whole(text)
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"must be from 1 to 256, not {value}")
    return value


def _positive_int(text: str) -> int:
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _priority(text: str) -> int:
    value = _whole(text)
    lo, hi = PRIORITY_RANGE
    if not lo <= value <= hi:
        raise argparse.ArgumentTypeError(f"must be between {lo} and {hi}, not {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, not {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be zero or more seconds, not {text}")
    return value


def _duration(text: str) -> float:
    from kitchen.core.config import parse_duration

    try:
        return parse_duration(text, "--older-than")
    except KitchenError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _port(text: str) -> int:
    value = _whole(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port, 1 to 65535, not {value}")
    return value


def _oven_name(text: str) -> str:
    try:
        return check_oven_name(text)
    except KitchenError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _payload(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise argparse.ArgumentTypeError(f"nested more than {MAX_DEPTH} levels deep") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object, not {type(value).__name__}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="A durable task queue with a live terminal kitchen. "
                                "With no command, opens the kitchen (the TUI).")
    p.add_argument("--config", metavar="PATH", help="kitchen.ini to read (default: $KITCHEN_CONFIG, ./kitchen.ini)")
    p.add_argument("--db", metavar="URL", help="database: a path, sqlite:///path or postgresql://... "
                   "(default: $KITCHEN_DB, then kitchen.ini)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("tui", help="open the kitchen: order taker, ovens, ring, ledger (the default)")
    sub.add_parser("tour", help="a guided tour of every idea, in a fresh kitchen of its own (a temporary database)")

    r = sub.add_parser("run", help="run oven(s) headless: claim, cook, heartbeat, reap")
    r.add_argument("--ovens", type=_positive_int, default=1, help="oven processes to run (default 1: this process)")
    r.add_argument("--name", type=_oven_name, help="oven name (default oven-PID; with --ovens N: NAME-1..NAME-N)")
    r.add_argument("--burst", action="store_true", help="exit 0 once no order is queued or cooking")
    r.add_argument("--recipes", nargs="+", metavar="MODULE", default=[], help="import these recipe modules")
    r.add_argument("--prefetch", type=_positive_int, help="orders claimed per transaction (default: kitchen.ini)")
    r.add_argument("--concurrency", type=_concurrency, metavar="N",
                   help="orders one oven process cooks at once, on N slots (1..256; default: kitchen.ini)")
    r.add_argument("--no-restart", action="store_true", help="with --ovens N: do not restart crashed ovens")
    r.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    r.add_argument("--log-json", action="store_true", help="one JSON object per log line")
    r.add_argument("--metrics-port", type=_port, metavar="PORT",
                   help="serve Prometheus metrics on this port (needs kitchen-queue[metrics])")
    r.add_argument("--parent", type=int, help=argparse.SUPPRESS)

    o = sub.add_parser("order", help="take an order; returns the ticket at once (come back later)")
    o.add_argument("recipe")
    o.add_argument("--customer", help="routes the order: a customer's orders share a bucket")
    o.add_argument("--key", help="dedup key: the same key never queues twice (with --count N: KEY-1..KEY-N)")
    o.add_argument("--payload", type=_payload, default=None, metavar="JSON", help="a JSON object")
    o.add_argument("--priority", type=_priority, default=0, help=f"{PRIORITY_RANGE[0]}..{PRIORITY_RANGE[1]}, "
                   "higher first (default 0)")
    o.add_argument("--delay", type=_seconds, default=0.0, metavar="SECONDS", help="not before this many seconds")
    o.add_argument("--count", type=_positive_int, default=1, help="how many orders (one transaction)")
    o.add_argument("--json", action="store_true", help="one JSON object per order per line")

    t = sub.add_parser("ticket", help="where an order is: state, oven, attempts, result or error")
    t.add_argument("number", type=_positive_int)
    t.add_argument("--json", action="store_true")
    t.add_argument("--wait", action="store_true", help="block until the order is finished: exit 0 when done, "
                   "1 when burnt, cancelled or timed out")
    t.add_argument("--timeout", type=_seconds, metavar="SECONDS", help="with --wait: give up after this long")

    c = sub.add_parser("cancel", help="cancel orders: queued ones never cook, cooking ones are stopped")
    c.add_argument("tickets", nargs="+", type=_positive_int, metavar="TICKET")

    s = sub.add_parser("status", help="counts per state, ovens, ledger totals")
    s.add_argument("--json", action="store_true")

    v = sub.add_parser("ovens", help="ovens, their heartbeats and buckets")
    v.add_argument("--json", action="store_true")

    g = sub.add_parser("ledger", help="recent completions and refused (late) completions")
    g.add_argument("--limit", type=_positive_int, default=20)
    g.add_argument("--json", action="store_true")

    q = sub.add_parser("requeue", help="put burnt (dead-lettered) orders back in the queue")
    q.add_argument("--burnt", action="store_true", help="every burnt order")
    q.add_argument("tickets", nargs="*", type=_positive_int, metavar="TICKET")
    u = sub.add_parser("purge", help="delete finished orders, ledger rows and events past their keep time now")
    u.add_argument("--older-than", type=_duration, metavar="DURATION",
                   help="finished (done or burnt) orders older than this, e.g. 7d, 12h, 30m "
                   "(default: keep_done and keep_burnt from kitchen.ini)")
    u.add_argument("--dry-run", action="store_true", help="count what would go; delete nothing")
    u.add_argument("--json", action="store_true")
    for command in sub.choices.values():
        command.set_defaults(usage_of=command)
    return p


def _settings(args: argparse.Namespace, **overrides: Any):
    from kitchen.core.config import DEFAULT_DATABASE, load_settings

    settings = load_settings(config=args.config, database=args.db, **overrides)
    if settings.database == DEFAULT_DATABASE:
        _private_dir(os.path.dirname(DEFAULT_DATABASE))
    return settings


def _private_dir(path: str) -> None:
    """The embedded default's folder (data/) is made, or kept, owner-only: 0700 (its files are 0600)."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)
    except OSError:
        pass


def _open(args: argparse.Namespace):
    from kitchen.protocol import Kitchen

    return Kitchen.open(settings=_settings(args))


def main(argv: Sequence[str] | None = None) -> int:
    warnings.showwarning = lambda msg, *a, **k: print(f"{PROG}: warning: {msg}", file=sys.stderr)
    parser = build_parser()
    args: argparse.Namespace | None = None
    try:
        words = list(sys.argv[1:] if argv is None else argv)
        for word in words:
            try:
                word.encode("utf-8")
            except UnicodeEncodeError:
                parser.error(f"argument {one_line(word)!r} is not valid UTF-8 text")
        args = parser.parse_args(words)
        return _dispatch(parser, args)
    except BadOrder as exc:  # an argument the order checks refused (recipe name, key, payload size): usage, 2
        getattr(args, "usage_of", parser).error(str(exc))
        return 2
    except (Exception, KeyboardInterrupt) as exc:
        return report(exc)


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from . import commands

    command = args.command or "tui"
    if command == "tui":
        settings = _settings(args)
        from kitchen.tui import run as run_tui

        return run_tui(settings, args.config)
    if command == "tour":
        from kitchen.tui import run_tour

        return run_tour(_settings(args))
    if command == "run":
        return commands.run(args, _settings(args))
    if command == "requeue" and not (args.burnt or args.tickets):
        args.usage_of.error("requeue needs --burnt or at least one TICKET")
    if command == "ticket" and args.timeout is not None and not args.wait:
        args.usage_of.error("--timeout needs --wait")
    with _open(args) as kitchen:
        return getattr(commands, command)(args, kitchen)
