"""The stdlib's ``time`` module, green: ``sleep`` yields to the hub instead of blocking the thread."""

from __future__ import annotations

import time as _std

from ..greenthread import sleep as _green_sleep

globals().update({k: v for k, v in vars(_std).items() if not k.startswith("__")})

sleep = _green_sleep
