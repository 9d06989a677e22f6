"""The stdlib's ``ssl`` module, green: TLS sockets whose handshake, reads and writes park on the hub.

``GreenSSLSocket`` is the stdlib's ``SSLSocket`` put in front of ``GreenSocket``:
the TLS logic is all the stdlib's, the socket underneath (connect, accept,
the plain I/O before a handshake and after ``unwrap``) is green. OpenSSL
reads and writes the fd itself, so that fd is always non-blocking: a TLS
call that would wait raises ``SSLWantReadError`` or ``SSLWantWriteError``,
and the one retry loop of green sockets (``GreenSocket._io``) turns it into
a wait for the fd to be readable or writable -- a read may need a write
(a renegotiation), so the exception, not the call, says which.

``monkey_patch`` makes it every ``SSLContext``'s ``sslsocket_class``. That is
a class attribute, patched on the one ``SSLContext`` class, so it holds
whether ``ssl`` was imported before or after patching, and covers everything
that wraps a socket: ``SSLContext.wrap_socket``, ``ssl.wrap_socket``,
``get_server_certificate``, ``http.client``, ``urllib3``, ``smtplib``...
"""

from __future__ import annotations

import ssl as _std
from typing import Any

from ..greenio import GreenSocket
from ..hub import READ, WRITE
from . import slurp_properties

slurp_properties(_std, globals())


class GreenSSLSocket(_std.SSLSocket, GreenSocket):  # type: ignore[misc]
    """``ssl.SSLSocket`` on a ``GreenSocket``: made by ``SSLContext.wrap_socket``, never directly."""

    _blocking_fd = False
    _would_block = (BlockingIOError, _std.SSLWantReadError, _std.SSLWantWriteError)
    _wants = {_std.SSLWantReadError: READ, _std.SSLWantWriteError: WRITE}

    # Each stdlib method below calls OpenSSL once; the loop waits and calls again. (recv,
    # recv_into and sendall go through read and send; sendfile and makefile through those.)
    def do_handshake(self, block: bool = False) -> None:
        self._io(READ, super().do_handshake, block)

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        return self._io(READ, super().read, len, buffer)

    def write(self, data: Any) -> int:
        return self._io(WRITE, super().write, data)

    def send(self, data: Any, flags: int = 0) -> int:
        return self._io(WRITE, super().send, data, flags)

    def unwrap(self) -> Any:
        return self._io(READ, super().unwrap)


class SSLContext(_std.SSLContext):
    """The stdlib's context, whose sockets are green with or without ``monkey_patch``."""

    sslsocket_class = GreenSSLSocket


def wrap_socket(
    sock: Any,
    keyfile: str | None = None,
    certfile: str | None = None,
    server_side: bool = False,
    cert_reqs: int = _std.CERT_NONE,
    ca_certs: str | None = None,
    **kwargs: Any,
) -> GreenSSLSocket:
    """The stdlib's old ``ssl.wrap_socket`` (gone in Python 3.12), green: eventlet's ``wrap_ssl``.

    As those, a client checks the server's certificate only if ``cert_reqs``
    says so (``CERT_REQUIRED``, with ``ca_certs``); ``kwargs`` go on to
    ``SSLContext.wrap_socket`` (``server_hostname``, ``do_handshake_on_connect``...).
    """
    ctx = SSLContext(_std.PROTOCOL_TLS_SERVER if server_side else _std.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = cert_reqs
    if certfile:
        ctx.load_cert_chain(certfile, keyfile)
    if ca_certs:
        ctx.load_verify_locations(ca_certs)
    return ctx.wrap_socket(sock, server_side=server_side, **kwargs)  # type: ignore[return-value]


def patch() -> None:
    """Make ``GreenSSLSocket`` the socket class of every ``SSLContext`` (monkey_patch calls it)."""
    _std.SSLContext.sslsocket_class = GreenSSLSocket
