"""Consistent hashing with virtual nodes and bounded loads: which live oven owns which bucket.

The ring is a pure function of (current owners, live ovens), so every process that rebalances computes
the same answer and the database write can be a compare-and-set. Rules, in order:

1. Orphans (buckets whose owner is gone) walk clockwise from the bucket's point on the ring to the first
   oven below ``floor(B/n)`` buckets, else below ``ceil(B/n)``. When an oven dies, only its buckets move.
2. An oven above the load bound ``max(ceil(B/n), floor(1.25 * B/n))`` sheds the buckets it is least
   preferred for (Mirrokni-Thorup-Zadimoghaddam bounded loads).
3. An oven below ``floor(B/n)`` (a newcomer) takes buckets from the most loaded ovens, preferring buckets
   whose ring walk reaches it first. When an oven joins, only the buckets it takes move.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from .hashing import stable_hash

VNODES = 64


@dataclass(frozen=True)
class Member:
    """A live oven incarnation on the ring; ``name`` places its virtual nodes, ``id`` breaks ties."""

    id: int
    name: str


class Ring:
    """Virtual-node points of the live members; answers "who comes next clockwise from this bucket"."""

    def __init__(self, members: Sequence[Member], vnodes: int = VNODES) -> None:
        seen: dict[str, int] = {}
        points: list[tuple[int, int]] = []
        for m in sorted(members, key=lambda m: m.id):
            label = m.name if m.name not in seen else f"{m.name}#{m.id}"
            seen[m.name] = m.id
            points.extend((stable_hash(f"{label}/{v}"), m.id) for v in range(vnodes))
        points.sort()
        self._keys = [p for p, _ in points]
        self._ids = [i for _, i in points]
        self._count = len({m.id for m in members})

    def preference(self, bucket: int) -> Iterator[int]:
        """Member ids in clockwise order from the bucket's point, each once."""
        if not self._keys:
            return
        start = bisect.bisect(self._keys, stable_hash(f"bucket/{bucket}"))
        seen: set[int] = set()
        n = len(self._keys)
        for step in range(n):
            mid = self._ids[(start + step) % n]
            if mid not in seen:
                seen.add(mid)
                yield mid
                if len(seen) == self._count:
                    return

    def rank(self, bucket: int, member_id: int) -> int:
        for i, mid in enumerate(self.preference(bucket)):
            if mid == member_id:
                return i
        return self._count


def bounds(buckets: int, ovens: int) -> tuple[int, int, int]:
    """(floor, ceil, cap) bucket counts per oven for ``ovens`` live ovens."""
    floor, rem = divmod(buckets, ovens)
    ceil = floor + (1 if rem else 0)
    cap = max(ceil, (buckets * 5) // (ovens * 4))
    return floor, ceil, cap


def rebalance(owners: Mapping[int, int | None], members: Sequence[Member], buckets: int) -> dict[int, int | None]:
    """New owner per bucket, moving as few buckets as the rules above allow."""
    live = {m.id for m in members}
    if not live:
        return {b: None for b in range(buckets)}
    ring = Ring(members)
    floor, ceil, cap = bounds(buckets, len(live))
    new: dict[int, int | None] = {b: owners.get(b) for b in range(buckets)}
    held: dict[int, set[int]] = {mid: set() for mid in live}
    orphans: list[int] = []
    for b, owner in new.items():
        if owner in live:
            held[owner].add(b)
        else:
            orphans.append(b)

    def give(b: int, limit: int) -> bool:
        for mid in ring.preference(b):
            if len(held[mid]) < limit:
                held[mid].add(b)
                new[b] = mid
                return True
        return False

    for b in orphans:
        give(b, floor) or give(b, ceil) or give(b, cap) or give(b, buckets)

    for mid in sorted(live):
        while len(held[mid]) > cap:
            b = max(held[mid], key=lambda b: (ring.rank(b, mid), b))
            held[mid].discard(b)
            give(b, ceil) or give(b, cap)

    for mid in sorted(live, key=lambda m: (len(held[m]), m)):
        while len(held[mid]) < floor:
            donor = max(live, key=lambda m: (len(held[m]), -m))
            b = min(held[donor], key=lambda b: (ring.rank(b, mid), b))
            held[donor].discard(b)
            held[mid].add(b)
            new[b] = mid
    return new


def moves(old: Mapping[int, int | None], new: Mapping[int, int | None]) -> dict[int, tuple[int | None, int | None]]:
    """Buckets whose owner changed: bucket -> (old owner, new owner)."""
    return {b: (old.get(b), o) for b, o in new.items() if old.get(b) != o}
