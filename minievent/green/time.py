"""The stdlib's ``time`` module, green: ``sleep`` yields to the hub instead of blocking the thread."""

from __future__ import annotations

import time as _std

from ..greenthread import sleep as _green_sleep
from . import slurp_properties

slurp_properties(_std, globals())


def sleep(secs: float) -> None:
    """``time.sleep``, green; a negative time is the stdlib's ``ValueError`` (``minievent.sleep`` takes it as 0)."""
    if secs < 0:
        raise ValueError("sleep length must be non-negative")
    _green_sleep(secs)
