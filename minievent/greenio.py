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
import io
import os
import socket as _stdsocket
import time
import types
from collections.abc import Callable
from typing import Any

from .green import selectors as _gselectors
from .hub import Hub, _getcurrent, current, existing_hub, get_hub
from .poller import READ, WRITE, get_fileno
from .timeout import Timeout

__all__ = [
    "trampoline",
    "wait_for_fd",
    "GreenSocket",
    "GreenPipe",
    "create_connection",
    "socketpair",
    "shutdown_safe",
    "set_nonblocking",
]

# Captured now, before monkey_patch can replace socket.socket with us.
_BaseSocket: type = _stdsocket.socket
socket_timeout = _stdsocket.timeout  # == TimeoutError since Python 3.10

# The C methods of the hottest paths, bound once: calling them directly skips an attribute lookup
# through our subclass (the other methods name theirs, _socket.socket.x).
_recv = _socket.socket.recv
_recv_into = _socket.socket.recv_into
_send = _socket.socket.send
_fileno = _socket.socket.fileno
_set_os_timeout = _socket.socket.settimeout
_gettimeout = _socket.socket.gettimeout
# One call that won't wait, whatever the fd's O_NONBLOCK flag says (0 where the platform lacks it).
_DONTWAIT: int = getattr(_socket, "MSG_DONTWAIT", 0)

_clock = time.monotonic
_TIMED_OUT = object()  # what the timeout timer resumes a parked greenthread with


def wait_for_fd(hub: Hub, evtype: int, fd: int, timeout: float | None, rearm: bool) -> bool:
    """Park until ``hub`` reports ``fd`` ready for ``evtype`` (``READ`` or ``WRITE``); True if ``timeout`` passed first.

    The one listener-and-park wait: green sockets, ``trampoline`` and the green ``os`` wait here.
    ``timeout`` is a number the caller has checked (a socket's own, or None); ``rearm``: see ``Hub.add``.
    """
    cur = _getcurrent()
    listener = hub.add(evtype, fd, cur.switch, rearm=rearm)
    timer = None if timeout is None else hub.schedule_call(timeout, cur.switch, _TIMED_OUT)
    try:
        woke = hub.park(("read" if evtype == READ else "write", fd))
    finally:
        # Whatever woke us (data, timeout, close, a kill), the other one
        # must not resume us later: both entries check these flags.
        hub.remove(listener)
        if timer is not None:
            timer.cancel()
    return woke is _TIMED_OUT


def trampoline(
    fd: Any,
    read: bool = False,
    write: bool = False,
    timeout: float | None = None,
    timeout_exc: type[BaseException] | BaseException | None = None,
) -> None:
    """Park the current greenthread until ``fd`` is readable or writable (exactly one of them).

    ``fd`` is an int or has ``fileno()``. On ``timeout`` raises ``timeout_exc``
    (default: a ``minievent.Timeout``, as eventlet's). eventlet's low-level wait
    (``eventlet.hubs.trampoline``), on the same ``wait_for_fd`` as the green sockets.
    """
    if read == write:
        raise ValueError("trampoline: pass exactly one of read=True or write=True")
    fd = get_fileno(fd)
    # (From a hub callback, park raises BlockingSwitchOutError.) trampoline cannot know whether its
    # caller tried first: rearm asks the poller to report the fd at once if it is ready now.
    with Timeout(timeout, timeout_exc):  # (first: a bad timeout raises before the listener is added)
        wait_for_fd(get_hub(), READ if read else WRITE, fd, None, True)  # (no timeout of its own: Timeout's)


class GreenSocket(_BaseSocket):  # type: ignore[misc,valid-type]
    """``socket.socket`` whose blocking calls park the greenthread instead of the OS thread."""

    # "__dict__": attributes may be set on an instance, as on eventlet's (and tests' mocks); the dict
    # is only made on the first such assignment.
    __slots__ = ("_timeout", "_armed", "__dict__")
    #: A socket in blocking mode keeps a blocking fd, as the stdlib documents, when every call can
    #: pass MSG_DONTWAIT; TLS can't (OpenSSL reads the fd itself), nor can a platform without it.
    _blocking_fd = bool(_DONTWAIT)
    #: ``True``: ``recv`` on a connection the peer reset returns ``b""`` (``recv_into``: 0), the end of
    #: the stream, as eventlet's do; ``False`` (the default): ``ConnectionResetError``, as the stdlib's.
    #: Set it on one socket, or on ``GreenSocket`` for every socket (those ``accept`` makes too).
    reset_is_eof = False
    #: What "not now" looks like, and (for TLS, whose reads may need a write) which way to wait then.
    _would_block: tuple[type[BaseException], ...] = (BlockingIOError,)
    _wants: dict[type[BaseException], int] = {}

    def __init__(
        self,
        family: Any = -1,
        type: int = -1,
        proto: int = -1,
        fileno: int | None = None,
        set_nonblocking: bool = False,
    ) -> None:
        """``set_nonblocking=True`` keeps the fd ``O_NONBLOCK`` in every mode, as eventlet's sockets do."""
        sock = None
        if isinstance(family, _BaseSocket):  # GreenSocket(a_socket), as in eventlet: take over its fd and timeout
            sock, family, type, proto, fileno = family, family.family, family.type, family.proto, family.detach()
        super().__init__(family, type, proto, fileno)
        if set_nonblocking:
            self._blocking_fd = False
        # The hub whose poller has already seen this fd (see _wait).
        self._armed: Hub | None = None
        # The C code has applied SOCK_NONBLOCK and the default timeout: take its answer (or the taken socket's).
        self._timeout: float | None = _gettimeout(self) if sock is None else sock.gettimeout()
        self._sync_fd()

    def _sync_fd(self) -> None:
        # The C level never keeps a timeout > 0: it would wait in poll() itself, holding the hub.
        mode = None if self._timeout is None and self._blocking_fd else 0.0
        if _gettimeout(self) != mode:
            _set_os_timeout(self, mode)

    # ------------------------------------------------------------ waiting
    def _wait(self, evtype: int, timeout: float | None) -> None:
        """Park until the hub reports this fd ready for ``evtype``; raise ``socket.timeout`` after ``timeout``."""
        try:
            hub = current.hub  # (the hot path's way to this thread's hub, as sleep's)
        except AttributeError:
            hub = get_hub()
        fd = _fileno(self)
        if fd < 0:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        # The first wait of this socket in this hub asks the poller to check
        # the fd afresh (rearm): the number may have belonged to a file that
        # was closed behind the hub's back, leaving a stale registration.
        timed_out = wait_for_fd(hub, evtype, fd, timeout, self._armed is not hub)
        self._armed = hub
        if timed_out:
            raise socket_timeout("timed out")

    def _deadline_left(self, deadline: float | None) -> float | None:
        if deadline is None:
            return None
        left = deadline - _clock()
        if left <= 0:
            raise socket_timeout("timed out")
        return left

    def _io(self, evtype: int, fn: Callable[..., Any], *args: Any, flags: int = 0) -> Any:
        """``fn(*args)`` until it stops saying "not now", parking on the hub in between.

        The loop of every method but the hot three, recv, recv_into and send, which write it
        out (measured faster), and connect, whose one wait is for the connection to finish;
        sendall tries once itself and hands the rest to it. As in the stdlib, the timeout
        bounds the whole call.
        """
        timeout = self._timeout
        deadline = _clock() + timeout if timeout else None
        while True:
            try:
                return fn(*args)
            except self._would_block as e:
                if timeout == 0.0 or flags & _DONTWAIT:  # (MSG_DONTWAIT asked by the caller: as asked)
                    raise
                evtype = self._wants.get(e.__class__, evtype)
            self._wait(evtype, self._deadline_left(deadline))

    def _nonblocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` with the fd non-blocking: accept, connect and os.sendfile have no MSG_DONTWAIT."""
        if _gettimeout(self) == 0.0:
            return fn(*args)
        _set_os_timeout(self, 0.0)
        try:
            return fn(*args)
        finally:
            if _fileno(self) >= 0:  # (another greenthread may have closed it meanwhile)
                self._sync_fd()

    # ------------------------------------------------------------ timeouts
    def settimeout(self, timeout: float | None) -> None:
        """``None``: block; ``0``: non-blocking (raise ``BlockingIOError``); ``t > 0``: raise ``socket.timeout``."""
        _set_os_timeout(self, timeout)  # the C code checks the value: the stdlib's own errors
        self._timeout = _gettimeout(self)
        self._sync_fd()

    @property
    def fd(self) -> GreenSocket:
        """eventlet's wrapper keeps the OS socket here; a minievent green socket is its own."""
        return self

    def gettimeout(self) -> float | None:
        return self._timeout

    timeout = property(gettimeout)  # type: ignore[assignment]

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
                return _recv(self, bufsize, flags | _DONTWAIT)
            except BlockingIOError:
                if self._timeout == 0.0 or flags & _DONTWAIT:
                    raise
            except ConnectionResetError:
                if not self.reset_is_eof:
                    raise
                return b""
            self._wait(READ, self._timeout)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        while True:
            try:
                return _recv_into(self, buffer, nbytes, flags | _DONTWAIT)
            except BlockingIOError:
                if self._timeout == 0.0 or flags & _DONTWAIT:
                    raise
            except ConnectionResetError:
                if not self.reset_is_eof:
                    raise
                return 0
            self._wait(READ, self._timeout)

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, Any]:
        return self._io(READ, _socket.socket.recvfrom, self, bufsize, flags | _DONTWAIT, flags=flags)

    def recvfrom_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> tuple[int, Any]:
        return self._io(READ, _socket.socket.recvfrom_into, self, buffer, nbytes, flags | _DONTWAIT, flags=flags)

    def recvmsg(self, bufsize: int, ancbufsize: int = 0, flags: int = 0) -> tuple[bytes, list, int, Any]:
        return self._io(READ, _socket.socket.recvmsg, self, bufsize, ancbufsize, flags | _DONTWAIT, flags=flags)

    def recvmsg_into(self, buffers: Any, ancbufsize: int = 0, flags: int = 0) -> tuple[int, list, int, Any]:
        # (a retry must see the same buffers: an iterator would be used up by the first try)
        return self._io(
            READ, _socket.socket.recvmsg_into, self, _listed(buffers), ancbufsize, flags | _DONTWAIT, flags=flags
        )

    # ------------------------------------------------------------ sending
    def send(self, data: Any, flags: int = 0) -> int:
        while True:
            try:
                return _send(self, data, flags | _DONTWAIT)
            except BlockingIOError:
                if self._timeout == 0.0 or flags & _DONTWAIT:
                    raise
            self._wait(WRITE, self._timeout)

    def sendall(self, data: Any, flags: int = 0) -> None:
        """Send all of ``data``, waiting as often as the kernel's buffer is full.

        As in the stdlib, the timeout bounds the whole call, not each wait.
        """
        now = flags | _DONTWAIT
        try:
            sent = _send(self, data, now)  # str raises TypeError here, as in the stdlib
        except BlockingIOError:
            if self._timeout == 0.0 or flags & _DONTWAIT:
                raise
            sent = 0
        if type(data) is bytes and sent == len(data):
            return None  # the common case: one syscall
        return self._send_rest(data, sent, flags)

    def _send_rest(self, data: Any, sent: int, flags: int) -> None:
        # Apart from sendall: a variable a nested function updates would cost sendall's fast path too.
        with memoryview(data) as view, view.cast("B") as view:

            def send_rest() -> None:  # (BlockingIOError whenever the kernel's buffer is full: _io waits)
                nonlocal sent
                while sent < len(view):
                    sent += _send(self, view[sent:], flags | _DONTWAIT)

            self._io(WRITE, send_rest, flags=flags)

    def sendto(self, *args: Any) -> int:
        # sendto(data, address) or sendto(data, flags, address); the C code checks the arguments.
        flags = args[1] if len(args) == 3 else 0
        if len(args) in (2, 3):
            args = (args[0], flags | _DONTWAIT, args[-1])
        return self._io(WRITE, _socket.socket.sendto, self, *args, flags=flags)

    def sendmsg(self, buffers: Any, ancdata: Any = (), flags: int = 0, address: Any = None) -> int:
        return self._io(
            WRITE,
            _socket.socket.sendmsg,
            self,
            _listed(buffers),
            _listed(ancdata),
            flags | _DONTWAIT,
            address,
            flags=flags,
        )

    def _sendfile_use_sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        # socket.sendfile tries this first (then falls back on send): the stdlib's os.sendfile loop.
        return self._nonblocking(_sendfile_loop, self, file, offset, count)

    # ------------------------------------------------------------ connections
    def accept(self) -> tuple[GreenSocket, Any]:
        fd, addr = self._nonblocking(self._io, READ, _socket.socket._accept, self)
        return GreenSocket(self.family, self.type, self.proto, fileno=fd), addr

    def _connect(self, address: Any, timeout_raises: bool) -> int:
        err = _socket.socket.connect_ex(self, address)
        if err in (errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY) and self._timeout != 0.0:
            # A non-blocking connect finishes in the background; the socket
            # turns writable when it is done, and SO_ERROR says how it went.
            try:
                self._wait(WRITE, self._timeout)
            except socket_timeout:
                if timeout_raises:
                    raise
                return errno.EAGAIN
            err = self.getsockopt(_stdsocket.SOL_SOCKET, _stdsocket.SO_ERROR)
        return err

    def connect_ex(self, address: Any) -> int:
        return self._nonblocking(self._connect, address, False)

    def connect(self, address: Any) -> None:
        err = self._nonblocking(self._connect, address, True)
        if err:
            raise OSError(err, os.strerror(err))  # OSError picks the subclass: ConnectionRefusedError...

    # ------------------------------------------------------------ closing
    def _real_close(self, _ss: Any = _socket.socket) -> None:
        # socket.socket.close() calls this once no makefile() stream holds the
        # socket any more: the moment the OS fd really goes away.
        _notify_close(_fileno(self))
        _ss.close(self)

    def detach(self) -> int:
        _notify_close(_fileno(self))
        return super().detach()


def _notify_close(fd: int) -> None:
    """``fd`` is about to be closed: wake its waiters, drop the poller's registration (``Hub.notify_close``)."""
    hub = existing_hub()  # (closing must not make a hub for a thread that has none)
    if hub is not None and fd >= 0:
        hub.notify_close(fd)


def _listed(items: Any) -> Any:
    return items if isinstance(items, (list, tuple)) else list(items)


def _rebind(fn: Any, namespace: dict[str, Any]) -> Any:
    """The same function, reading its global names from ``namespace``: the stdlib's code, seeing green names."""
    new = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)
    new.__kwdefaults__ = fn.__kwdefaults__
    new.__doc__ = fn.__doc__
    return new


# The stdlib's os.sendfile loop waits in selectors.PollSelector: the same code, reading a green one.
_sendfile_loop = _rebind(_BaseSocket._sendfile_use_sendfile, {**vars(_stdsocket), "selectors": _gselectors})


# ---------------------------------------------------------------- helpers
# socket.create_connection and socket.socketpair, making GreenSockets (getaddrinfo: the socket module's at
# call time, so the green one once monkey_patch has run).
_green_names = {**vars(_stdsocket), "socket": GreenSocket, "getaddrinfo": lambda *a: _stdsocket.getaddrinfo(*a)}
create_connection = _rebind(_stdsocket.create_connection, _green_names)
socketpair = _rebind(_stdsocket.socketpair, _green_names)


def shutdown_safe(sock: Any) -> Any:
    """``sock.shutdown(SHUT_RDWR)``, quietly doing nothing if it is closed or not connected."""
    try:
        return sock.shutdown(_stdsocket.SHUT_RDWR)
    except OSError as e:
        if e.errno not in (errno.ENOTCONN, errno.EBADF, errno.ENOTSOCK):
            raise


def set_nonblocking(fd: Any) -> None:
    """Put a socket, a file object or an fd in non-blocking mode."""
    os.set_blocking(fd if isinstance(fd, int) else fd.fileno(), False)


# ---------------------------------------------------------------- pipes and files
class _GreenFileIO(io.FileIO):
    """An OS file (a pipe's end, typically) whose reads and writes wait on the hub, not in the kernel.

    In non-blocking mode ``FileIO`` returns ``None`` where it would block: then we park until the
    fd is ready. (A regular file is always "ready", so it simply never waits.)
    """

    def __init__(self, file: Any, mode: str = "r") -> None:
        super().__init__(file, mode)
        os.set_blocking(self.fileno(), False)

    def readinto(self, buffer: Any) -> int:
        while (n := super().readinto(buffer)) is None:
            trampoline(self.fileno(), read=True)
        return n

    # RawIOBase's read and readall go through readinto (FileIO's own stop at the first EAGAIN).
    read = io.RawIOBase.read
    readall = io.RawIOBase.readall

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        done = 0  # all of it, as a blocking write to a pipe does
        while done < len(view):
            n = super().write(view[done:])
            if n is None:
                trampoline(self.fileno(), write=True)
            done += n or 0
        return done

    def close(self) -> None:
        if not self.closed:
            _notify_close(self.fileno())
        super().close()


def GreenPipe(
    file: Any,
    mode: str = "r",
    buffering: int = -1,
    encoding: str | None = None,  # noqa: N802 (eventlet's name)
    errors: str | None = None,
    newline: str | None = None,
) -> Any:
    """``open()`` for an fd (a pipe's end) or a path, with reads and writes that park only the greenthread."""
    raw = _GreenFileIO(file, mode.replace("b", "").replace("t", ""))
    if buffering == 0:
        return raw
    kind = io.BufferedRandom if "+" in mode else io.BufferedWriter if raw.writable() else io.BufferedReader
    buffered = kind(raw, io.DEFAULT_BUFFER_SIZE if buffering in (-1, 1) else buffering)
    return buffered if "b" in mode else io.TextIOWrapper(buffered, encoding, errors, newline, buffering == 1)
