"""Green sockets: the blocking socket API, on a non-blocking OS socket and the hub.

A ``GreenSocket`` *is* a ``socket.socket`` (a subclass), so stdlib code that
checks ``isinstance(s, socket.socket)`` or calls ``makefile`` keeps working.
Underneath, the OS socket is always in non-blocking mode; the timeout you set
is kept by the green socket. Every blocking call has the same shape::

    while True:
        try:
            return <the real call>          # 1. try first
        except BlockingIOError:             # 2. EAGAIN: would block
            pass
        self._wait(READ)                    # 3. park until the hub says "ready"

Trying first matters: the epoll poller is edge-triggered and never
unregisters, so a wait costs no syscall -- but the kernel reports an fd only
when it *becomes* ready, so we may park only after seeing EAGAIN.

Closing is the hard part (eventlet gets it wrong): ``close()`` tells the hub
*before* the OS fd goes away, which wakes a greenthread blocked in ``recv`` on
this socket (its retry then fails with EBADF) and makes the poller forget the
fd, so a new socket that gets the same fd number is never mistaken for it.
"""

from __future__ import annotations

import _socket
import errno
import os
import socket as _stdsocket
import time
from typing import Any

import greenlet

from .hub import READ, WRITE, Hub, _local, get_hub

__all__ = ["GreenSocket", "create_connection", "socketpair"]

# Captured now, before monkey_patch can replace socket.socket with us.
_BaseSocket: type = _stdsocket.socket
_GLOBAL_DEFAULT_TIMEOUT: Any = _stdsocket._GLOBAL_DEFAULT_TIMEOUT  # type: ignore[attr-defined]
socket_timeout = _stdsocket.timeout  # == TimeoutError since Python 3.10

# The C methods, bound once: calling them directly skips an attribute lookup
# through our subclass on the hottest path.
_recv = _socket.socket.recv
_recv_into = _socket.socket.recv_into
_recvfrom = _socket.socket.recvfrom
_recvfrom_into = _socket.socket.recvfrom_into
_send = _socket.socket.send
_sendto = _socket.socket.sendto
_accept = _socket.socket._accept
_connect_ex = _socket.socket.connect_ex
_fileno = _socket.socket.fileno
_set_os_timeout = _socket.socket.settimeout

_getcurrent = greenlet.getcurrent
_clock = time.monotonic
_TIMED_OUT = object()  # what the timeout timer resumes a parked greenthread with
_CONNECT_PENDING = (errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY)


def _hub() -> Hub:
    try:
        return _local.hub
    except AttributeError:
        return get_hub()


class GreenSocket(_BaseSocket):  # type: ignore[misc,valid-type]
    """``socket.socket`` whose blocking calls park the greenthread instead of the OS thread."""

    # "__dict__": attributes may be set on an instance, as on eventlet's (and tests' mocks); the dict
    # is only made on the first such assignment.
    __slots__ = ("_timeout", "_armed", "__dict__")

    def __init__(self, family: int = -1, type: int = -1, proto: int = -1, fileno: int | None = None) -> None:
        super().__init__(family, type, proto, fileno)
        self._timeout: float | None = _stdsocket.getdefaulttimeout()
        # The hub whose poller has already seen this fd (see _wait).
        self._armed: Hub | None = None
        _set_os_timeout(self, 0.0)  # the OS socket never blocks; we do the waiting

    # ------------------------------------------------------------ waiting
    def _wait(self, evtype: int, timeout: float | None) -> None:
        """Park until the hub reports this fd ready for ``evtype``; raise ``socket.timeout`` after ``timeout``."""
        hub = _hub()
        fd = _fileno(self)
        if fd < 0:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        cur = _getcurrent()
        # The first wait of this socket in this hub asks the poller to check
        # the fd afresh (rearm): the number may have belonged to a file that
        # was closed behind the hub's back, leaving a stale registration.
        listener = hub.add(evtype, fd, cur.switch, self._armed is not hub)
        self._armed = hub
        if hub.instrument is not None:  # the recorder: why it parks
            hub.instrument.why = ("read" if evtype == READ else "write", fd)
        timer = None
        if timeout is not None:
            timer = hub.schedule_call(timeout, cur.switch, _TIMED_OUT)
        try:
            woke = hub.switch()
        finally:
            # Whatever woke us (data, timeout, close, a kill), the other one
            # must not resume us later: both entries check these flags.
            hub.remove(listener)
            if timer is not None:
                timer.cancel()
        if woke is _TIMED_OUT:
            raise socket_timeout("timed out")

    def _deadline_left(self, deadline: float | None) -> float | None:
        if deadline is None:
            return None
        left = deadline - _clock()
        if left <= 0:
            raise socket_timeout("timed out")
        return left

    # ------------------------------------------------------------ timeouts
    def settimeout(self, timeout: float | None) -> None:
        """``None``: block; ``0``: non-blocking (raise ``BlockingIOError``); ``t > 0``: raise ``socket.timeout``."""
        if timeout is not None:
            if not isinstance(timeout, (int, float)):
                raise TypeError(f"timeout must be a number or None, not {type(timeout).__name__}")
            timeout = float(timeout)
            if timeout != timeout:
                raise ValueError("Invalid value NaN (not a number)")
            if timeout < 0.0:
                raise ValueError("Timeout value out of range")
        self._timeout = timeout

    def gettimeout(self) -> float | None:
        return self._timeout

    @property
    def timeout(self) -> float | None:  # type: ignore[override]
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        self.settimeout(None if flag else 0.0)

    def getblocking(self) -> bool:
        return self._timeout != 0.0

    # ------------------------------------------------------------ receiving
    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        # Always try first, even right after a short read: under load the
        # peer's next message has often arrived by the time we come back
        # (in the echo benchmark, about two recv calls in three succeed
        # without waiting), and parking blindly would cost a switch each time.
        while True:
            try:
                return _recv(self, bufsize, flags)
            except BlockingIOError:
                if self._timeout == 0.0:
                    raise
            self._wait(READ, self._timeout)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        while True:
            try:
                return _recv_into(self, buffer, nbytes, flags)
            except BlockingIOError:
                if self._timeout == 0.0:
                    raise
            self._wait(READ, self._timeout)

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, Any]:
        while True:
            try:
                return _recvfrom(self, bufsize, flags)
            except BlockingIOError:
                if self._timeout == 0.0:
                    raise
            self._wait(READ, self._timeout)

    def recvfrom_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> tuple[int, Any]:
        while True:
            try:
                return _recvfrom_into(self, buffer, nbytes, flags)
            except BlockingIOError:
                if self._timeout == 0.0:
                    raise
            self._wait(READ, self._timeout)

    # ------------------------------------------------------------ sending
    def send(self, data: Any, flags: int = 0) -> int:
        while True:
            try:
                return _send(self, data, flags)
            except BlockingIOError:
                if self._timeout == 0.0:
                    raise
            self._wait(WRITE, self._timeout)

    def sendall(self, data: Any, flags: int = 0) -> None:
        """Send all of ``data``, waiting as often as the kernel's buffer is full.

        As in the stdlib, the timeout bounds the whole call, not each wait.
        """
        try:
            sent = _send(self, data, flags)  # str raises TypeError here, as in the stdlib
        except BlockingIOError:
            if self._timeout == 0.0:
                raise
            sent = 0
        if type(data) is bytes and sent == len(data):
            return None  # the common case: one syscall
        with memoryview(data) as view, view.cast("B") as view:
            total = len(view)
            deadline = None if self._timeout is None else _clock() + self._timeout
            while sent < total:
                try:
                    sent += _send(self, view[sent:], flags)
                except BlockingIOError:
                    if self._timeout == 0.0:
                        raise
                    self._wait(WRITE, self._deadline_left(deadline))
        return None

    def sendto(self, data: Any, flags_or_addr: Any, addr: Any = None) -> int:
        args = (data, flags_or_addr) if addr is None else (data, flags_or_addr, addr)
        while True:
            try:
                return _sendto(self, *args)
            except BlockingIOError:
                if self._timeout == 0.0:
                    raise
            self._wait(WRITE, self._timeout)

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        # The stdlib's os.sendfile path waits in a real selector (blocking the
        # hub); the plain send path goes through our green send.
        return self._sendfile_use_send(file, offset, count)

    # ------------------------------------------------------------ connections
    def accept(self) -> tuple[GreenSocket, Any]:
        while True:
            try:
                fd, addr = _accept(self)
                break
            except BlockingIOError:
                if self._timeout == 0.0:
                    raise
            self._wait(READ, self._timeout)
        return GreenSocket(self.family, self.type, self.proto, fileno=fd), addr

    def connect_ex(self, address: Any) -> int:
        err = _connect_ex(self, address)
        if err in _CONNECT_PENDING and self._timeout != 0.0:
            # A non-blocking connect finishes in the background; the socket
            # turns writable when it is done, and SO_ERROR says how it went.
            try:
                self._wait(WRITE, self._timeout)
            except socket_timeout:
                return errno.EAGAIN
            err = self.getsockopt(_stdsocket.SOL_SOCKET, _stdsocket.SO_ERROR)
        return err

    def connect(self, address: Any) -> None:
        err = _connect_ex(self, address)
        if err in _CONNECT_PENDING and self._timeout != 0.0:
            self._wait(WRITE, self._timeout)  # raises socket.timeout
            err = self.getsockopt(_stdsocket.SOL_SOCKET, _stdsocket.SO_ERROR)
        if err:
            raise OSError(err, os.strerror(err))  # OSError picks the subclass: ConnectionRefusedError...

    # ------------------------------------------------------------ closing
    def _forget_fd(self) -> None:
        fd = _fileno(self)
        if fd >= 0:
            hub = getattr(_local, "hub", None)
            if hub is not None:
                hub.notify_close(fd)  # wake waiters, drop the poller's registration

    def _real_close(self, _ss: Any = _socket.socket) -> None:
        # socket.socket.close() calls this once no makefile() stream holds the
        # socket any more: the moment the OS fd really goes away.
        self._forget_fd()
        _ss.close(self)

    def detach(self) -> int:
        self._forget_fd()
        return super().detach()

    def dup(self) -> GreenSocket:
        sock = GreenSocket(self.family, self.type, self.proto, fileno=os.dup(_fileno(self)))
        sock.settimeout(self._timeout)
        return sock


# ---------------------------------------------------------------- helpers
def create_connection(address: tuple[str, int], timeout: Any = _GLOBAL_DEFAULT_TIMEOUT,
                      source_address: Any = None) -> GreenSocket:
    """``socket.create_connection``, green: try each address ``getaddrinfo`` gives, first that connects wins."""
    host, port = address
    error: OSError | None = None
    for family, type_, proto, _, addr in _stdsocket.getaddrinfo(host, port, 0, _stdsocket.SOCK_STREAM):
        sock = GreenSocket(family, type_, proto)
        try:
            if timeout is not _GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(addr)
            return sock
        except OSError as e:
            error = e
            sock.close()
    if error is not None:
        raise error
    raise OSError("getaddrinfo returned an empty list")


def socketpair(family: int = _stdsocket.AF_UNIX, type: int = _stdsocket.SOCK_STREAM,
               proto: int = 0) -> tuple[GreenSocket, GreenSocket]:
    """Two connected ``GreenSocket`` s."""
    a, b = _socket.socketpair(family, type, proto)
    return (GreenSocket(family, type, proto, fileno=a.detach()),
            GreenSocket(family, type, proto, fileno=b.detach()))
