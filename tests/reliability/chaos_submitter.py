"""A producer that is SIGKILLed in the middle of one big ``submit_many`` transaction (see chaos.py).

It hooks its own SQLite connection's trace callback (public sqlite3 API; the engine is untouched). When the
batch's ``stall_at``-th INSERT is about to run — the transaction open, the orders before it written but not
committed — it prints ``stalled N`` and waits to be killed.

Usage: python -m tests.reliability.chaos_submitter DB INI PREFIX SIZE STALL_AT
"""

from __future__ import annotations

import sys
import time

from kitchen import Kitchen
from kitchen.core.config import load_settings


def main(db: str, ini: str, prefix: str, size: int, stall_at: int) -> int:
    kitchen = Kitchen.open(settings=load_settings(config=ini, database=db, env={}))
    seen = 0

    def trace(sql: str) -> None:
        nonlocal seen
        if sql.lstrip().upper().startswith("INSERT INTO ORDERS"):
            seen += 1
            if seen == stall_at:
                print(f"stalled {seen - 1}", flush=True)
                time.sleep(600)

    kitchen.store.connection().set_trace_callback(trace)
    kitchen.submit_many({"recipe": "chaos", "payload": {"ms": 1}, "key": f"{prefix}-{i}", "customer": f"k{i % 7}"}
                        for i in range(size))
    print("committed", flush=True)
    return 0


if __name__ == "__main__":
    db, ini, prefix, size, stall_at = sys.argv[1:6]
    raise SystemExit(main(db, ini, prefix, int(size), int(stall_at)))
