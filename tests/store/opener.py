"""A process that opens a kitchen when told to: ``python -m tests.store.opener URL NOW``.

It imports everything, prints ``ready``, waits for ``go`` on stdin (so siblings open at the same moment),
opens the kitchen and prints one JSON line: whether it opened, the version it sees, and how many
migration steps ran in this process (each step is wrapped to count its starts).
"""

from __future__ import annotations

import json
import sys

from kitchen import FrozenClock, Kitchen, KitchenError
from kitchen.store import schema


def main() -> None:
    url, now = sys.argv[1], float(sys.argv[2])
    ran: list[int] = []

    def counted(step: schema.Migration) -> schema.Migration:
        def up(cur, dialect):
            ran.append(step.version)
            step.up(cur, dialect)

        return schema.Migration(step.version, step.what, up)

    schema.MIGRATIONS = tuple(counted(step) for step in schema.MIGRATIONS)
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("no go")
    out: dict = {"ran": ran}
    try:
        kitchen = Kitchen.open(url, clock=FrozenClock(now))
    except KitchenError as exc:
        out["error"] = str(exc)
    else:
        try:
            def version(cur):
                cur.execute("SELECT value FROM kitchen_meta WHERE key = 'schema_version'")
                return cur.fetchone()[0]

            out["version"] = int(kitchen.store.read(version))
            out["buckets"] = kitchen.buckets
        finally:
            kitchen.close()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
