"""The stdlib's ``urllib.parse`` (it does no I/O), under eventlet's green name."""

from urllib.parse import *  # noqa: F403
