"""A second (third...) process for the multi-process tests: ``python -m tests.engine.child MODE JSON``.

It opens its own Kitchen, prints ``ready``, waits for ``go`` on stdin (so siblings start together),
does one job and prints one JSON line. Clocks are frozen at the parent's ``now``.
"""

from __future__ import annotations

import json
import sys

from kitchen import FrozenClock, Kitchen


def main() -> None:
    mode, args = sys.argv[1], json.loads(sys.argv[2])
    kitchen = Kitchen.open(args["url"], clock=FrozenClock(args["now"]), heartbeat_timeout=5.0)
    try:
        if mode == "drain":
            oven = kitchen.attach(args["oven_id"], args["oven_name"], host="test")
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            raise SystemExit("no go")
        if mode == "drain":
            claimed, accepted = [], 0
            while (order := oven.claim()) is not None:
                claimed.append(order.id)
                accepted += oven.complete(order, result={"by": args["tag"]})
            out = {"claimed": claimed, "accepted": accepted}
        elif mode == "reap":
            report = kitchen.reap()
            out = {"dead": report.dead, "requeued": report.requeued, "burnt": report.burnt,
                   "moved": report.moved.to_data() if report.moved else None}
        else:
            raise SystemExit(f"unknown mode {mode}")
        print(json.dumps(out), flush=True)
    finally:
        kitchen.close()


if __name__ == "__main__":
    main()
