"""The stdlib's ``urllib.error`` (it does no I/O), under eventlet's green name."""

from urllib.error import *  # noqa: F403
