"""The protocol: every transaction body (submit, claim, heartbeat, complete, fail, release, leave, reap,
rebalance, reads) and the two thin facades over them, ``Kitchen`` and ``Oven``."""

from .kitchen import Kitchen
from .oven import Oven, result_json
from .reaper import REAPED_ERROR

__all__ = ["REAPED_ERROR", "Kitchen", "Oven", "result_json"]
