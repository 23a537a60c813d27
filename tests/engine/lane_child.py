"""An oven in its own process for the lane races: ``python -m tests.engine.lane_child JSON``.

It opens its own Kitchen (real clock), joins as a new oven, prints ``ready``, waits for ``go`` on stdin (so
siblings start together), then claims, "cooks" (sleeps ``cook`` seconds) and completes until the queue has
been empty for a while. It prints one JSON line: for every order, when the claim had returned and when the
completion was about to be sent (wall clock, one machine: comparable across the siblings). That interval lies
inside the order's true cooking time, so two orders of one lane cooking at once would show as overlapping
intervals.
"""

from __future__ import annotations

import json
import sys
import time

from kitchen import Kitchen


def main() -> None:
    args = json.loads(sys.argv[1])
    kitchen = Kitchen.open(args["url"], heartbeat_timeout=30.0, lease=60.0)
    try:
        oven = kitchen.join(args["name"], args.get("menu"), host=args.get("host"))
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            raise SystemExit("no go")
        cooked: list[tuple[int, float, float]] = []
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < args.get("idle", 1.0):
            order = oven.claim()
            if order is None:
                time.sleep(0.002)
                continue
            claimed = time.time()
            time.sleep(args.get("cook", 0.0))
            finishing = time.time()
            if not oven.complete(order, {"by": args["name"]}):
                raise SystemExit(f"completion of {order.id} refused")
            cooked.append((order.id, claimed, finishing))
            idle_since = time.monotonic()
        oven.leave()
        print(json.dumps({"cooked": cooked}), flush=True)
    finally:
        kitchen.close()


if __name__ == "__main__":
    main()
