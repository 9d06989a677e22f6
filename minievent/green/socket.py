"""The stdlib's ``socket`` module, green: ``socket`` is ``GreenSocket``.

Every other name is the stdlib's own. The stdlib helpers that *create*
sockets (``create_connection``, ``create_server``, ``socketpair``,
``fromfd``) are the stdlib's very code, re-bound to this module's globals:
a Python function looks up a global like ``socket`` at call time, in the
namespace it was defined in, so giving it ours makes it build green sockets.
That is also why ``monkey_patch`` only needs to replace ``socket.socket``.
"""

from __future__ import annotations

import socket as _std
import types as _types
from typing import Any

from ..greenio import GreenSocket

# The stdlib module's names first (constants, errors, getaddrinfo, ...).
globals().update({k: v for k, v in vars(_std).items() if not k.startswith("__")})

socket = GreenSocket


def _rebind(fn: Any) -> Any:
    """The same function, but reading its globals from this module."""
    new = _types.FunctionType(fn.__code__, globals(), fn.__name__, fn.__defaults__, fn.__closure__)
    new.__kwdefaults__ = fn.__kwdefaults__
    new.__doc__ = fn.__doc__
    return new


create_connection = _rebind(_std.create_connection)
create_server = _rebind(_std.create_server)
socketpair = _rebind(_std.socketpair)
fromfd = _rebind(_std.fromfd)

del _rebind
