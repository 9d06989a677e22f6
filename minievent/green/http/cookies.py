"""The stdlib's ``http.cookies`` (it does no I/O and takes no lock), under eventlet's green name."""

from http.cookies import *  # noqa: F403
