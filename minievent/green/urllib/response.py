"""The stdlib's ``urllib.response`` (it does no I/O), under eventlet's green name."""

from urllib.response import *  # noqa: F403
