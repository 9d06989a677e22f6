"""The HTTP servers of the lessons: blocking, thread per client, hand-written epoll, greenthreads.

All four answer any request (read until a blank line) with the same fixed
``Hello, world!`` response and close the connection, so what differs is only
*how they wait*:

- ``BlockingServer``: one client at a time. ``accept``, ``recv``, ``send``
  each block the only thread; a slow client (or a slow answer) makes every
  other client queue in the listen backlog.
- ``ThreadedServer``: the blocking server's code, one OS thread per client
  (what ``socketserver.ThreadingMixIn`` does): the kernel switches between
  the threads while each one blocks. It is where OpenStack went in the end.
- ``EpollServer``: one thread, non-blocking sockets, one ``select.epoll``.
  Each connection is a small state machine the loop drives by hand:
  register for ``EPOLLIN``; once the request is complete, ``modify`` to
  ``EPOLLOUT``; once the response is out, ``shutdown`` and wait for
  ``EPOLLHUP``; ``unregister`` and close. Fast, but the code is inside out.
- ``GreenServer``: the blocking server's straight-line code, one greenthread
  per client, on minievent's hub -- which does the epoll bookkeeping.

Each binds 127.0.0.1 port 0 (``.address`` tells where), is a context manager
(``start`` on enter, ``stop`` on exit), stops without leaking threads or fds,
and records what happened in ``.events`` (and calls ``on_event(kind, client,
t)`` if given): ``accept``, ``request`` (fully read), ``response`` (fully
sent), ``close``, ``early_close`` (the client left before its request was
complete) and ``error``. ``client`` is the client's (host, port) and ``t`` is
``time.perf_counter()``, the clock ``fetch_many`` uses too, so a lesson can
draw server and client timelines on one axis.

``delay`` makes each answer take that long: in the blocking server it holds
the only thread (``time.sleep``); the epoll server keeps serving others (a
deadline folded into its ``poll`` timeout); the green server sleeps
cooperatively (``minievent.sleep``). ``block=True`` makes the epoll and green
servers sleep with the real, blocking ``time.sleep`` instead: the outage of
the lessons, a long call that holds the loop.

The blocking, threaded and epoll servers run in a background OS thread. The green
server runs on the hub of the thread that starts it: it serves whenever that
thread waits on the hub (``minievent.sleep``, ``fetch_many``, a green
``recv``...), and ``stop`` must be called from the same thread.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = [
    "RESPONSE",
    "ServerEvent",
    "ClientResult",
    "BlockingServer",
    "ThreadedServer",
    "EpollServer",
    "GreenServer",
    "fetch_many",
]

RESPONSE = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!"
REQUEST = b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
_END_MARKS = (b"\n\n", b"\n\r\n")  # a blank line ends the request headers

clock = time.perf_counter
_real_sleep = time.sleep  # bound now: under monkey_patch, time.sleep would be green


def _request_complete(data: bytes | bytearray) -> bool:
    return any(mark in data for mark in _END_MARKS)


class ServerEvent(NamedTuple):
    t: float  # time.perf_counter()
    kind: str  # accept, request, response, close, early_close, error
    client: Any  # the client's (host, port)
    detail: str = ""


class _Server:
    """What the three servers share: address, events, start/stop, context manager."""

    name = "server"

    def __init__(
        self,
        delay: float = 0.0,
        *,
        block: bool = False,
        backlog: int = 128,
        on_event: Callable[[str, Any, float], Any] | None = None,
    ) -> None:
        if delay < 0:
            raise ValueError("delay must be >= 0")
        self.delay = delay
        self.block = block
        self.backlog = backlog
        self.on_event = on_event
        self.events: list[ServerEvent] = []
        self.address: tuple[str, int] | None = None
        self._lock = threading.Lock()  # events may be appended from the server thread

    def __repr__(self) -> str:
        state = f"on {self.address[0]}:{self.address[1]}" if self.address else "stopped"
        return f"<{type(self).__name__} {state}, {len(self.events)} events>"

    def _emit(self, kind: str, client: Any, detail: str = "") -> None:
        ev = ServerEvent(clock(), kind, client, detail)
        with self._lock:
            self.events.append(ev)
        if self.on_event is not None:
            try:
                self.on_event(kind, client, ev.t)
            except Exception as e:  # a broken hook must not take the server down
                with self._lock:
                    self.events.append(ServerEvent(clock(), "error", client, f"on_event raised {e!r}"))

    def _read_request(self, conn: Any, client: Any) -> bool:
        """Read until the blank line that ends the request; False if the client left first.

        The blocking and the green server share these lines word for word:
        ``conn.recv`` blocks the OS thread on a plain socket and parks only
        this greenthread on a green one.
        """
        request = b""
        while not _request_complete(request):
            chunk = conn.recv(1024)
            if not chunk:
                self._emit("early_close", client)
                return False
            request += chunk
        self._emit("request", client)
        return True

    def _listen(self, sock: socket.socket) -> socket.socket:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(self.backlog)
        except BaseException:
            sock.close()
            raise
        self.address = sock.getsockname()
        return sock

    def start(self) -> _Server:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> _Server:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# ---------------------------------------------------------------- blocking
class BlockingServer(_Server):
    """One client at a time, in one background thread: every call blocks."""

    name = "blocking"

    def start(self) -> BlockingServer:
        if self.address is not None:
            raise RuntimeError(f"{self!r} is already started")
        self._stopping = False
        self._sock = self._listen(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        self._thread = threading.Thread(target=self._run, name="BlockingServer", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            conn, client = self._sock.accept()  # blocks until a client connects
            if self._stopping:
                conn.close()
                return
            self._emit("accept", client)
            self._handle(conn, client)

    def _handle(self, conn: socket.socket, client: Any) -> None:
        try:
            with conn:
                self._serve(conn, client)
        except OSError as e:
            self._emit("error", client, repr(e))

    def _serve(self, conn: socket.socket, client: Any) -> None:
        if not self._read_request(conn, client):  # blocks until the client sends something
            return
        if self.delay:
            _real_sleep(self.delay)  # everybody else waits too: there is one thread
        conn.sendall(RESPONSE)
        self._emit("response", client)
        self._emit("close", client)

    def stop(self) -> None:
        """Stop accepting, close whatever is queued, join the thread, close the socket."""
        if self.address is None:
            return
        self._stopping = True
        # The thread sits in accept(); knocking on our own door wakes it.
        try:
            socket.create_connection(self.address, timeout=5).close()
        except OSError:
            pass
        self._thread.join(30)
        self._sock.close()
        self.address = None


class ThreadedServer(BlockingServer):
    """The blocking server's code, one OS thread per client: a slow one holds up only itself."""

    name = "threaded"

    def start(self) -> ThreadedServer:
        self._workers: list[threading.Thread] = []
        super().start()
        return self

    def _handle(self, conn: socket.socket, client: Any) -> None:
        self._workers = [t for t in self._workers if t.is_alive()]
        worker = threading.Thread(
            target=super()._handle, args=(conn, client), name=f"ThreadedServer client {client[1]}", daemon=True
        )
        self._workers.append(worker)
        worker.start()

    def stop(self) -> None:
        """Stop accepting (as ``BlockingServer``), then wait for the clients still being served."""
        super().stop()
        for worker in self._workers:
            worker.join(30)


# ---------------------------------------------------------------- epoll
class _Conn:
    """One client's state in the epoll server."""

    __slots__ = ("sock", "client", "request", "response", "due")

    def __init__(self, sock: socket.socket, client: Any) -> None:
        self.sock = sock
        self.client = client
        self.request = bytearray()
        self.response: memoryview | None = None  # what is left to send
        self.due: float | None = None  # when the (delayed) answer may start


class EpollServer(_Server):
    """Many clients, one thread: non-blocking sockets driven by ``select.epoll``."""

    name = "epoll"

    def start(self) -> EpollServer:
        if self.address is not None:
            raise RuntimeError(f"{self!r} is already started")
        if not hasattr(select, "epoll"):
            raise RuntimeError("EpollServer needs Linux (select.epoll)")
        self._sock = self._listen(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        self._sock.setblocking(False)
        self._wake_r, self._wake_w = os.pipe()  # stop() writes here to end the loop
        self._thread = threading.Thread(target=self._run, name="EpollServer", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        ep = select.epoll()
        lfd = self._sock.fileno()
        ep.register(lfd, select.EPOLLIN)
        ep.register(self._wake_r, select.EPOLLIN)
        conns: dict[int, _Conn] = {}
        try:
            while True:
                # Sleep in poll until an fd is ready -- or the next delayed answer is due.
                dues = [c.due for c in conns.values() if c.due is not None]
                timeout = max(0.0, min(dues) - clock()) if dues else -1
                for fd, ev in ep.poll(timeout):
                    if fd == self._wake_r:
                        return
                    if fd == lfd:
                        self._accept_all(ep, conns)
                        continue
                    c = conns[fd]
                    if ev & (select.EPOLLHUP | select.EPOLLERR):
                        # After our shutdown (or the client's reset): done with it.
                        self._drop(ep, conns, fd, "close" if c.response is not None else "early_close")
                    elif ev & select.EPOLLIN:
                        self._read(ep, conns, fd, c)
                    elif ev & select.EPOLLOUT:
                        self._write(ep, conns, fd, c)
                now = clock()
                for fd, c in list(conns.items()):
                    if c.due is not None and c.due <= now:
                        c.due = None
                        ep.modify(fd, select.EPOLLOUT)  # now we want to write
        finally:
            for fd in list(conns):
                self._drop(ep, conns, fd, "close")
            ep.close()

    def _accept_all(self, ep: Any, conns: dict[int, _Conn]) -> None:
        # Several clients may be waiting: take them all, until EAGAIN.
        while True:
            try:
                sock, client = self._sock.accept()
            except BlockingIOError:
                return
            sock.setblocking(False)
            conns[sock.fileno()] = _Conn(sock, client)
            ep.register(sock.fileno(), select.EPOLLIN)
            self._emit("accept", client)

    def _read(self, ep: Any, conns: dict[int, _Conn], fd: int, c: _Conn) -> None:
        try:
            chunk = c.sock.recv(1024)  # may be part of the request: keep it and wait for more
        except BlockingIOError:
            return
        except OSError as e:
            self._emit("error", c.client, repr(e))
            self._drop(ep, conns, fd, None)
            return
        if not chunk:  # the client closed before finishing its request
            self._drop(ep, conns, fd, "early_close")
            return
        c.request += chunk
        if not _request_complete(c.request):
            return
        self._emit("request", c.client)
        c.response = memoryview(RESPONSE)
        if self.delay and self.block:
            _real_sleep(self.delay)  # holds the loop: every other client waits
        elif self.delay:
            c.due = clock() + self.delay
            ep.modify(fd, 0)  # nothing to do for this one until it is due
            return
        ep.modify(fd, select.EPOLLOUT)

    def _write(self, ep: Any, conns: dict[int, _Conn], fd: int, c: _Conn) -> None:
        assert c.response is not None
        try:
            sent = c.sock.send(c.response)  # may be partial: send the rest next time
        except BlockingIOError:
            return
        except OSError as e:  # e.g. the client reset the connection
            self._emit("error", c.client, repr(e))
            self._drop(ep, conns, fd, None)
            return
        c.response = c.response[sent:]
        if not c.response:
            self._emit("response", c.client)
            ep.modify(fd, 0)
            # Closing for both directions makes the kernel report EPOLLHUP,
            # where _run unregisters and closes the socket.
            c.sock.shutdown(socket.SHUT_RDWR)

    def _drop(self, ep: Any, conns: dict[int, _Conn], fd: int, kind: str | None) -> None:
        c = conns.pop(fd)
        ep.unregister(fd)
        c.sock.close()
        if kind is not None:
            self._emit(kind, c.client)

    def stop(self) -> None:
        """End the loop (it closes every connection), join the thread, close the sockets."""
        if self.address is None:
            return
        os.write(self._wake_w, b"x")
        self._thread.join(30)
        os.close(self._wake_r)
        os.close(self._wake_w)
        self._sock.close()
        self.address = None


# ---------------------------------------------------------------- green
class GreenServer(_Server):
    """The blocking server's code, one greenthread per client, on the starting thread's hub."""

    name = "green"

    def start(self) -> GreenServer:
        import minievent

        if self.address is not None:
            raise RuntimeError(f"{self!r} is already started")
        self._sock = self._listen(minievent.GreenSocket(socket.AF_INET, socket.SOCK_STREAM))
        self._handlers: set[Any] = set()
        self._acceptor = minievent.spawn(self._accept_loop)
        return self

    def _accept_loop(self) -> None:
        import minievent

        while True:
            conn, client = self._sock.accept()  # parks this greenthread, not the thread
            self._emit("accept", client)
            gt = minievent.spawn(self._handle, conn, client)
            self._handlers.add(gt)
            gt.link(self._handlers.discard)

    def _handle(self, conn: Any, client: Any) -> None:
        import minievent

        try:
            with conn:
                if not self._read_request(conn, client):  # parks this greenthread only
                    return
                if self.delay:
                    if self.block:
                        _real_sleep(self.delay)  # holds the hub: the lesson's outage
                    else:
                        minievent.sleep(self.delay)  # the others run meanwhile
                conn.sendall(RESPONSE)
                self._emit("response", client)
            self._emit("close", client)
        except OSError as e:
            self._emit("error", client, repr(e))

    def stop(self) -> None:
        """Kill the acceptor and any handler still running, close the listening socket."""
        if self.address is None:
            return
        self._acceptor.kill()
        for gt in list(self._handlers):
            gt.kill()  # its `with conn` closes the client socket
        self._sock.close()
        self.address = None


# ---------------------------------------------------------------- clients
class ClientResult(NamedTuple):
    index: int
    port: int  # the client's own port: matches ServerEvent.client[1]
    start: float  # time.perf_counter() before connect
    end: float  # ... once the whole response was read (or the error happened)
    response: bytes
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.response == RESPONSE


def _one_client(index: int, address: tuple[str, int], timeout: float) -> ClientResult:
    start, port, data = clock(), 0, b""
    try:
        with socket.create_connection(address, timeout=timeout) as s:
            port = s.getsockname()[1]
            s.sendall(REQUEST)
            chunks = []
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                chunks.append(chunk)
            data = b"".join(chunks)
    except OSError as e:
        return ClientResult(index, port, start, clock(), data, repr(e))
    return ClientResult(index, port, start, clock(), data)


def fetch_many(address: tuple[str, int], n: int, *, timeout: float = 30.0) -> list[ClientResult]:
    """``n`` clients at once, each in its own OS thread; their results, in order.

    The caller waits *on the hub* (the threads report back through
    ``call_threadsafe``), so a ``GreenServer`` started on this thread keeps
    serving while we wait. From a thread with no green server that is just
    an idle hub.
    """
    from .. import get_hub
    from ..waiter import WaitQueue

    if n < 1:
        raise ValueError("fetch_many needs n >= 1")
    hub = get_hub()
    results: list[ClientResult | None] = [None] * n
    left = [n]
    all_done = WaitQueue()

    def one_done() -> None:  # runs in the hub's thread
        left[0] -= 1
        if not left[0]:
            hub.keepalive -= 1
            all_done.wake_one()

    def run(i: int) -> None:
        try:
            results[i] = _one_client(i, address, timeout)
        finally:
            hub.call_threadsafe(one_done)

    hub.keepalive += 1  # the threads will wake us: don't call it a deadlock
    threads = [threading.Thread(target=run, args=(i,), name=f"fetch_many-{i}", daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    all_done.wait(why=("fetch_many", f"{n} clients"))
    for t in threads:
        t.join()
    return [r for r in results if r is not None]
