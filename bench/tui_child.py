"""A fresh process that opens a big kitchen and measures what a TUI refresh costs, then its own RSS.

--mode queries: ``Kitchen.status()`` + ``Kitchen.recent_orders/ledger/events`` (the brief's query set),
    and, when the TUI's reader exists, ``kitchen.tui.reader.read_shop`` (the TUI's real refresh).
--mode app: the TUI itself (``kitchen.tui.app.create_app``) headless via Textual's ``run_test`` for a few
    seconds of live refreshes; RSS of that process. Reported as unavailable when the TUI is not there yet.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from .common import rss_mb as _rss_mb


def queries(db: str, refreshes: int) -> dict:
    from kitchen import Kitchen

    out: dict = {}
    k = Kitchen.open(db)

    def cycle():
        k.status()
        k.recent_orders(12)
        k.ledger(12)
        k.events(after=0, limit=60)

    cycle()  # first read pays for opening and page cache: measured separately
    times = []
    for _ in range(refreshes):
        t = time.perf_counter()
        cycle()
        times.append((time.perf_counter() - t) * 1000)
    out["query_ms"] = statistics.median(times)
    out["query_ms_max"] = max(times)
    parts = {}
    for name, fn in (("status", lambda: k.status()), ("recent_orders", lambda: k.recent_orders(12)),
                     ("ledger", lambda: k.ledger(12)), ("events", lambda: k.events(0, 60))):
        ts = []
        for _ in range(max(5, refreshes // 4)):
            t = time.perf_counter()
            fn()
            ts.append((time.perf_counter() - t) * 1000)
        parts[name] = round(statistics.median(ts), 3)
    out["parts_ms"] = parts
    try:
        from kitchen.tui.reader import read_shop
    except Exception as exc:  # the TUI is built elsewhere; absent or broken is reported, not fatal
        out["read_shop"] = f"unavailable: {exc.__class__.__name__}: {exc}"
    else:
        read_shop(k)
        ts = []
        for _ in range(refreshes):
            t = time.perf_counter()
            read_shop(k)
            ts.append((time.perf_counter() - t) * 1000)
        out["read_shop_ms"] = statistics.median(ts)
        out["read_shop_ms_max"] = max(ts)
    out["rss_mb"] = _rss_mb()
    return out


async def app(db: str, seconds: float) -> dict:
    from kitchen import Kitchen

    try:
        from kitchen.tui.app import create_app
    except Exception as exc:
        return {"app": f"unavailable: {exc.__class__.__name__}: {exc}"}
    k = Kitchen.open(db)
    application = create_app(k)
    peak = 0.0
    async with application.run_test(size=(160, 48)) as pilot:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            await pilot.pause(0.2)
            peak = max(peak, _rss_mb())
        reads = getattr(application, "reads", None)
        view = getattr(application, "view", None)
        read_ms = getattr(view, "read_ms", None)
    return {"app_rss_mb": _rss_mb(), "app_rss_peak_mb": peak, "app_reads": reads, "app_last_read_ms": read_ms}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True)
    p.add_argument("--mode", choices=["queries", "app"], required=True)
    p.add_argument("--refreshes", type=int, default=50)
    p.add_argument("--seconds", type=float, default=3.0)
    args = p.parse_args()
    out = queries(args.db, args.refreshes) if args.mode == "queries" else asyncio.run(app(args.db, args.seconds))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
