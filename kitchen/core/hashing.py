"""Stable hashing: the same key lands in the same bucket in every process and on every machine.

Python's built-in ``hash()`` is salted per process (PYTHONHASHSEED), so it must never route an order.
"""

from __future__ import annotations

import hashlib


def stable_hash(text: str) -> int:
    """A 64-bit hash of ``text`` that never changes between processes, machines or Python versions."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def bucket_for(routing_key: str, buckets: int) -> int:
    """The bucket an order with this routing key (customer, key or token) belongs to."""
    return stable_hash(routing_key) % buckets
