"""The stdlib's ``select`` module, green: ``select()`` and ``poll()`` park the greenthread on the hub.

Both first ask the kernel with a zero timeout (the real call): what is ready
now is returned at once. Otherwise they register a listener per fd with the
hub and park; any wake-up just means "ask the kernel again", so a spurious
one costs a retry, never a wrong answer. ``epoll`` (and ``devpoll``,
``kqueue``) are not offered, as in eventlet: ``selectors.EpollSelector``, the
way most code uses epoll, is green in ``green.selectors``.
"""

from __future__ import annotations

import functools
import select as _std
import time as _time
from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any

from ..greenthread import sleep
from ..hub import Listener, get_hub
from ..poller import READ, WRITE, get_fileno
from ..waiter import TIMED_OUT, WaitQueue
from . import slurp_properties

#: The names monkey_patch removes from the stdlib module (those it has).
REMOVED = ("epoll", "devpoll", "kqueue", "kevent")
_HIDDEN = {"poll", "select", *REMOVED}
slurp_properties(_std, globals(), _HIDDEN)

# The real ones, captured before monkey_patch replaces them.
_real_select = _std.select
_real_poll = _std.poll


def _wait_for(ask: Callable[[], Any], reads: Iterable[Any], writes: Iterable[Any], timeout: float | None) -> Any:
    """Repeat ``ask()`` (a zero-timeout question to the kernel) until it answers, parking between; None on timeout.

    An answer at once still yields first: a loop that polls (asyncore's, a server's) must
    not keep every other greenthread from running, as gevent also found (in test_ftplib).
    """
    answer = ask()
    if answer or timeout == 0:
        sleep(0)
        return answer
    hub = get_hub()
    deadline = None if timeout is None else _time.monotonic() + timeout
    # Several fds may fire in one loop iteration: the first wake_one resumes us,
    # the others find nobody waiting.
    wake = WaitQueue()

    listeners: list[Listener] = []
    try:
        for evtype, objs in ((READ, reads), (WRITE, writes)):
            for fd in {get_fileno(o) for o in objs}:
                listeners.append(hub.add(evtype, fd, wake.wake_one, rearm=True))
        while True:
            left = None if deadline is None else max(0.0, deadline - _time.monotonic())
            woke = wake.wait(left, ("select", len(listeners)))
            if woke is TIMED_OUT:
                return None
            answer = ask()
            if answer:
                return answer
    finally:
        for listener in listeners:
            hub.remove(listener)


def _seq(objs: Any) -> Any:
    # The stdlib reads a list or tuple as it is (even one that changes as it is read), any other iterable once.
    if isinstance(objs, (list, tuple)):
        return objs
    try:
        return list(objs)
    except TypeError:
        raise TypeError("arguments 1-3 must be sequences") from None


def select(
    rlist: Iterable[Any], wlist: Iterable[Any], xlist: Iterable[Any], timeout: float | None = None
) -> tuple[list[Any], list[Any], list[Any]]:
    """``select.select``, but waiting parks only this greenthread."""
    rlist = _seq(rlist)
    wlist = _seq(wlist)
    xlist = _seq(xlist)
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout >= 0):
        _real_select([], [], [], timeout)  # a bad timeout (NaN too): the C code raises the stdlib's error

    def ask() -> Any:
        ready = _real_select(rlist, wlist, xlist, 0)
        return ready if ready[0] or ready[1] or ready[2] else None

    # Exceptional conditions (out-of-band data) show up as readable.
    return _wait_for(ask, chain(rlist, xlist), wlist, timeout) or ([], [], [])


def poll() -> _Poll:
    """``select.poll``, green: a real poll set answers (asked with a zero timeout); the hub does the waiting."""
    return _Poll(_real_poll)


class _Poll:
    def __init__(self, *maker: Any) -> None:
        if maker != (_real_poll,):  # as the stdlib's: made by poll() only
            raise TypeError(f"cannot create '{__name__}._Poll' instances")
        self._poll = _real_poll()
        self._masks: dict[int, int] = {}

    def register(self, fd: Any, eventmask: int = _std.POLLIN | _std.POLLPRI | _std.POLLOUT) -> None:
        self._poll.register(fd, eventmask)
        self._masks[get_fileno(fd)] = eventmask

    def modify(self, fd: Any, eventmask: int) -> None:
        self._poll.modify(fd, eventmask)
        self._masks[get_fileno(fd)] = eventmask

    def unregister(self, fd: Any) -> None:
        self._poll.unregister(fd)
        del self._masks[get_fileno(fd)]

    def poll(self, timeout: float | None = None) -> list[tuple[int, int]]:
        """Like the stdlib's: ``timeout`` in milliseconds, ``None`` or negative waits for ever."""
        # Every fd is watched for reading: a hang-up or an error is reported as that.
        writes = [fd for fd, mask in self._masks.items() if mask & _std.POLLOUT]
        seconds = None if timeout is None or timeout < 0 else timeout / 1000
        return _wait_for(functools.partial(self._poll.poll, 0), self._masks, writes, seconds) or []
