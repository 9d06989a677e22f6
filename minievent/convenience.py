"""listen, connect, serve, wrap_ssl: a server or a client in one line (eventlet's convenience module).

    server = minievent.listen(("127.0.0.1", 8080))
    minievent.serve(server, handle)          # handle(conn, addr), one greenthread per client

They are thin on purpose: a ``GreenSocket`` made, configured and bound or
connected, and an accept loop that spawns into a ``GreenPool``. What they
decide is policy, so it is said here: ``listen`` shares an explicit port
between processes (``SO_REUSEPORT``, eventlet's default), and ``serve`` stops
when a handler fails, re-raising the handler's exception (a server whose
handlers crash should not go on quietly).
"""

from __future__ import annotations

import errno
import functools
import os
import socket as _stdsocket
import warnings
from collections.abc import Callable
from typing import Any

from .greenio import GreenSocket
from .hub import _getcurrent, get_hub
from .pool import GreenPool

__all__ = [
    "listen",
    "connect",
    "serve",
    "StopServe",
    "wrap_ssl",
    "ReuseRandomPortWarning",
    "ReusePortUnavailableWarning",
]


class ReuseRandomPortWarning(Warning):
    """``reuse_port=True`` with port 0: another process could be handed the same random port."""


class ReusePortUnavailableWarning(Warning):
    """The platform defines ``SO_REUSEPORT`` but refuses it."""


def listen(
    addr: Any,
    family: int = _stdsocket.AF_INET,
    backlog: int = 50,
    reuse_addr: bool = True,
    reuse_port: bool | None = None,
) -> GreenSocket:
    """A listening ``GreenSocket`` bound to ``addr``.

    ``reuse_port=None`` (the default) sets ``SO_REUSEPORT`` for an explicit port, so that
    several processes can share it, and leaves it off for port 0.
    """
    sock = GreenSocket(family, _stdsocket.SOCK_STREAM)
    try:
        if reuse_addr and os.name == "posix":
            sock.setsockopt(_stdsocket.SOL_SOCKET, _stdsocket.SO_REUSEADDR, 1)
        random_port = family in (_stdsocket.AF_INET, _stdsocket.AF_INET6) and addr[1] == 0
        if random_port and reuse_port:
            warnings.warn(
                "SO_REUSEPORT on a random port (0) lets another process get the same port",
                ReuseRandomPortWarning,
                stacklevel=2,
            )
        if (reuse_port or (reuse_port is None and not random_port)) and hasattr(_stdsocket, "SO_REUSEPORT"):
            try:
                sock.setsockopt(_stdsocket.SOL_SOCKET, _stdsocket.SO_REUSEPORT, 1)
            except OSError as e:
                if e.errno not in (errno.EINVAL, errno.ENOPROTOOPT):
                    raise
                warnings.warn(f"SO_REUSEPORT is defined but refused: {e}", ReusePortUnavailableWarning, stacklevel=2)
        sock.bind(addr)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def connect(addr: Any, family: int = _stdsocket.AF_INET, bind: Any = None) -> GreenSocket:
    """A ``GreenSocket`` connected to ``addr``."""
    sock = GreenSocket(family, _stdsocket.SOCK_STREAM)
    try:
        if bind is not None:
            sock.bind(bind)
        sock.connect(addr)
    except BaseException:
        sock.close()
        raise
    return sock


def wrap_ssl(sock: GreenSocket, *args: Any, **kwargs: Any) -> Any:
    """``sock`` in green TLS: ``minievent.green.ssl.wrap_socket`` (``ssl`` is imported on first use)."""
    from .green import ssl

    return ssl.wrap_socket(sock, *args, **kwargs)


class StopServe(Exception):
    """Raise it in a ``serve`` handler to make ``serve`` return."""


def serve(sock: GreenSocket, handle: Callable[[GreenSocket, Any], Any], concurrency: int = 1000) -> None:
    """Accept on ``sock`` until a handler raises; run ``handle(conn, addr)`` in a greenthread per client.

    At most ``concurrency`` handlers run at once (then ``accept`` waits: back
    pressure rather than unbounded memory). The client socket is closed when
    its handler ends. A handler raising ``StopServe`` makes ``serve`` return;
    any other exception is raised again out of ``serve``.
    """
    # Check now: a bad handler would otherwise fail once per client, long after this call.
    if not callable(getattr(sock, "accept", None)):
        raise TypeError(f"serve() needs a listening socket, not {type(sock).__name__}")
    if not callable(handle):
        raise TypeError(f"serve() needs a callable handler, not {type(handle).__name__}")
    pool = GreenPool(concurrency)
    hub = get_hub()
    server = _getcurrent()
    done = False

    def stop(exc: Exception) -> None:
        # Runs from the hub; serve may have returned meanwhile.
        if not done and not server.dead:
            server.throw(exc)

    def run(conn: GreenSocket, addr: Any) -> None:
        try:
            handle(conn, addr)
        except Exception as e:
            hub.schedule(functools.partial(stop, e))
        finally:
            conn.close()

    try:
        while True:
            conn, addr = sock.accept()
            pool.spawn_n(run, conn, addr)
    except StopServe:
        return
    finally:
        done = True
