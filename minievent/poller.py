"""Pollers: the part of the hub that asks the kernel which fds are ready.

The hub keeps the *listeners* (who waits on which fd); a poller only keeps the
kernel's side of that bookkeeping and answers one question, "which fds became
ready?". Two are here:

``EpollPoller`` (Linux, the default) registers each fd **once**, for both
directions, *edge-triggered* (``EPOLLET``), and leaves it registered until the
fd is closed. Compare the seed's server, which calls ``register``, ``modify``
and ``unregister`` as a connection moves through its life: three extra
syscalls per request. With edge triggering the kernel reports an fd only when
it *becomes* ready, so a wait costs no syscall at all: the green socket tries
``recv`` first, and only after ``EAGAIN`` parks the greenthread; the next
arrival of data is a new edge, reported by the next ``epoll_wait``. The price
is one rule: never wait without having tried first (or without ``rearm``,
which asks the kernel to report the fd again if it is ready right now; the
generic ``trampoline`` does that because it cannot know whether its caller
tried; a green socket does it once, on its first wait, in case its fd number
was left registered by a file closed behind the hub's back). Closing goes
through ``hub.notify_close``, which wakes the fd's waiters and ``forget`` s
it *before* the OS fd is closed, so a reused fd number starts clean.

``SelectorsPoller`` is the portable fallback (``selectors.DefaultSelector``:
kqueue, poll or select). It is level-triggered, so it registers interest only
while somebody waits and drops it when they stop; otherwise a readable fd
that nobody reads would wake the hub in a busy loop.

``MINIEVENT_POLLER=epoll|selectors`` forces one; otherwise epoll where the
platform has it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import selectors
import time
import weakref
from collections.abc import Callable
from typing import Any

# Bound at import, before monkey_patch can replace them with green versions
# (which would wait on the hub -- from inside the hub).
_DefaultSelector = selectors.DefaultSelector
_epoll = getattr(select, "epoll", None)  # (monkey_patch removes select.epoll, as eventlet does)
_sleep = time.sleep

#: Bits of a poll result, in the poller-neutral form the hub understands: the selectors module's own (1 and 2).
READ = selectors.EVENT_READ
WRITE = selectors.EVENT_WRITE


def get_fileno(obj: Any) -> int:
    """``obj`` if it is an fd, else ``obj.fileno()`` (eventlet's name and messages)."""
    fd = obj.fileno() if hasattr(obj, "fileno") else obj
    if not isinstance(fd, int):
        raise TypeError(f"Expected int or long, got {type(fd)}")
    if fd < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
    return fd


class Poller:
    """The interface: ``watch``, ``forget``, ``rearm``, ``poll``, ``close``; ``watched`` to look."""

    name = "abstract"
    #: Edge-triggered pollers keep every fd registered; level-triggered ones
    #: must be told when nobody waits any more (``watch(fd, False, False)``).
    edge_triggered = False

    def watch(self, fd: int, read: bool, write: bool) -> None:
        """Someone now waits on ``fd`` for these directions (both False: nobody)."""
        raise NotImplementedError

    def forget(self, fd: int) -> None:
        """``fd`` is being closed: drop every trace of it."""
        raise NotImplementedError

    def rearm(self, fd: int) -> None:
        """Report ``fd`` again if it is ready now (edge-triggered pollers only)."""

    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        """Wait at most ``timeout`` seconds (None: forever); return ``(fd, READ|WRITE bits)``."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def watched(self) -> frozenset[int]:
        """The fds registered with the kernel now: a closed fd must not stay (the leak tests check it)."""
        raise NotImplementedError


if hasattr(select, "epoll"):

    class EpollPoller(Poller):
        name = "epoll"
        edge_triggered = True
        _MASK = select.EPOLLIN | select.EPOLLOUT | select.EPOLLRDHUP | select.EPOLLET
        # An error or hang-up wakes both directions: the woken greenthread
        # retries its call and gets the real error (or EOF) from the kernel.
        _READ_BITS = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR | select.EPOLLPRI
        _WRITE_BITS = select.EPOLLOUT | select.EPOLLHUP | select.EPOLLERR

        def __init__(self) -> None:
            self._epoll = _epoll()
            self._registered: set[int] = set()
            _epoll_pollers.add(self)

        def watch(self, fd: int, read: bool, write: bool) -> None:
            # Interest changes cost nothing: the fd is registered for both
            # directions once, and the hub ignores edges nobody waits for.
            if (read or write) and fd not in self._registered:
                self._epoll.register(fd, self._MASK)
                self._registered.add(fd)

        def rearm(self, fd: int) -> None:
            try:
                self._epoll.modify(fd, self._MASK)
            except FileNotFoundError:
                # The fd was closed behind our back (the kernel dropped it from
                # the epoll set) and its number reused: register it afresh.
                self._epoll.register(fd, self._MASK)
                self._registered.add(fd)

        def forget(self, fd: int) -> None:
            if fd in self._registered:
                self._registered.discard(fd)
                try:
                    self._epoll.unregister(fd)
                except OSError as e:  # already closed: the kernel forgot it too
                    if e.errno not in (errno.EBADF, errno.ENOENT):
                        raise

        def poll(self, timeout: float | None) -> list[tuple[int, int]]:
            events = self._epoll.poll(-1 if timeout is None else timeout)
            rb = self._READ_BITS
            wb = self._WRITE_BITS
            return [(fd, (READ if ev & rb else 0) | (WRITE if ev & wb else 0)) for fd, ev in events]

        def close(self) -> None:
            self._epoll.close()

        def watched(self) -> frozenset[int]:
            return frozenset(self._registered)

    _epoll_pollers: weakref.WeakSet[EpollPoller] = weakref.WeakSet()

    def _own_epoll_after_fork() -> None:
        """A forked child shares its parent's epoll instance, so an edge one of them reads is lost to the
        other (a ForkingMixIn server's child then waits forever): give each of the child's pollers its own."""
        for p in list(_epoll_pollers):
            p._epoll.close()  # (the child's fd only: the parent's instance lives on)
            fds = p._registered
            p._registered = set()
            p._epoll = _epoll()
            for fd in fds:
                with contextlib.suppress(OSError):  # (closed meanwhile)
                    p.watch(fd, True, True)

    os.register_at_fork(after_in_child=_own_epoll_after_fork)


class SelectorsPoller(Poller):
    name = "selectors"

    def __init__(self) -> None:
        self._sel = _DefaultSelector()
        self._interest: dict[int, int] = {}

    def watch(self, fd: int, read: bool, write: bool) -> None:
        mask = (READ if read else 0) | (WRITE if write else 0)
        old = self._interest.get(fd, 0)
        if not mask:
            self.forget(fd)
        elif mask != old:
            (self._sel.modify if old else self._sel.register)(fd, mask)
            self._interest[fd] = mask

    def rearm(self, fd: int) -> None:
        # Level-triggered: a ready fd is reported on every poll anyway. But a
        # closed-and-reused fd number would still be registered under the old
        # file, so check the kernel agrees the fd is open.
        os.fstat(fd)

    def forget(self, fd: int) -> None:
        if self._interest.pop(fd, None) is not None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._sel.unregister(fd)

    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        if not self._interest:
            # select() with no fds would fail on some platforms; just sleep.
            if timeout is None:
                raise RuntimeError("poll forever with nothing to poll")
            _sleep(timeout)
            return []
        return [(key.fd, events) for key, events in self._sel.select(timeout)]  # (its bits are READ and WRITE)

    def close(self) -> None:
        self._sel.close()

    def watched(self) -> frozenset[int]:
        return frozenset(self._interest)


POLLERS: dict[str, Callable[[], Poller]] = {"selectors": SelectorsPoller}
if hasattr(select, "epoll"):
    POLLERS["epoll"] = EpollPoller


def default_poller() -> Poller:
    """The poller named by ``MINIEVENT_POLLER``, else the best this platform has."""
    name = os.environ.get("MINIEVENT_POLLER", "").strip().lower() or ("epoll" if "epoll" in POLLERS else "selectors")
    try:
        return POLLERS[name]()
    except KeyError:
        raise ValueError(f"MINIEVENT_POLLER={name!r}: choose one of {sorted(POLLERS)}") from None
