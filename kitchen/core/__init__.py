"""Pure helpers: orders and their checks, settings, the ring, hashing, clocks, errors, event types, words.

No I/O and no database here; every other layer may import this one.
"""
