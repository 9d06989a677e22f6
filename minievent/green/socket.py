"""The stdlib's ``socket`` module, green: ``socket`` is ``GreenSocket``.

Every other name is the stdlib's own. The stdlib helpers that *create*
sockets (``create_connection``, ``create_server``, ``socketpair``,
``fromfd``) are the stdlib's very code, re-bound to this module's globals:
a Python function looks up a global like ``socket`` at call time, in the
namespace it was defined in, so giving it ours makes it build green sockets.
That is also why ``monkey_patch`` needs to replace only ``socket.socket``
for sockets -- and the resolver functions.

DNS: ``getaddrinfo``, ``gethostbyname(_ex)``, ``gethostbyaddr`` and
``getnameinfo`` call the C library's resolver, which blocks the thread. Here
they run it in a ``tpool`` thread (as gevent does by default), so the answer
is exactly the libc's -- ``/etc/hosts``, nsswitch, search domains,
``resolv.conf`` options, address sorting -- and the hub goes on meanwhile.
Two shortcuts: an address that needs no lookup (``getaddrinfo("127.0.0.1",
...)``, as every ``create_connection`` to an address makes) is answered here,
without a thread hand-over; and a thread that has no hub (a tpool worker, a
plain thread) has no greenthread to hold up, so it resolves directly.
"""

from __future__ import annotations

import functools
import socket as _std
from typing import Any

from .. import tpool
from ..greenio import GreenSocket, _rebind
from ..hub import existing_hub
from . import slurp_properties

# The stdlib module's names first (constants, errors, getaddrinfo, ...).
slurp_properties(_std, globals())

socket = GreenSocket


# The stdlib's code, reading this module's names.
create_connection, create_server, socketpair, fromfd = (
    _rebind(getattr(_std, name), globals()) for name in ("create_connection", "create_server", "socketpair", "fromfd")
)
del _rebind


def _off_the_hub(name: str) -> Any:
    real = getattr(_std, name)

    @functools.wraps(real)  # (the stdlib's name and doc: it answers the same)
    def resolve(*args: Any, **kwargs: Any) -> Any:
        try:
            return real(*args, **kwargs) if existing_hub() is None else tpool.execute(real, *args, **kwargs)
        except Exception as e:  # (the C function's error holds no reference to the arguments: nor does ours)
            del args, kwargs
            raise e.with_traceback(None)  # (without the pool's frames, which hold them)

    return resolve


gethostbyname, gethostbyname_ex, gethostbyaddr, getnameinfo = map(
    _off_the_hub, ("gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getnameinfo")
)
_pooled_getaddrinfo = _off_the_hub("getaddrinfo")
_real_getaddrinfo = _std.getaddrinfo  # (captured: monkey_patch replaces the module's)


def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> list:
    """``socket.getaddrinfo``: an address is parsed here, a name looked up in a tpool thread."""
    try:
        return _real_getaddrinfo(host, port, family, type, proto, flags | _std.AI_NUMERICHOST)
    except _std.gaierror as e:
        if e.errno != _std.EAI_NONAME:
            raise  # (a bad port or family: the same error the lookup would give)
    return _pooled_getaddrinfo(host, port, family, type, proto, flags)


#: What monkey_patch puts in the stdlib module.
PATCHED = {
    "socket": GreenSocket,
    "getaddrinfo": getaddrinfo,
    "gethostbyname": gethostbyname,
    "gethostbyname_ex": gethostbyname_ex,
    "gethostbyaddr": gethostbyaddr,
    "getnameinfo": getnameinfo,
}
