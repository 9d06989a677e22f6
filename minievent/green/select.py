"""The stdlib's ``select`` module, green: ``select()`` parks the greenthread on the hub.

It first asks the kernel with a zero timeout (the real ``select``): what is
ready now is returned at once. Otherwise it registers a listener per fd with
the hub and parks; any wake-up just means "ask the kernel again", so a
spurious one costs a retry, never a wrong answer. ``poll``/``epoll`` are not
offered: code that picks the best mechanism available falls back to
``select``, which is the green one.
"""

from __future__ import annotations

import select as _std
import time as _time
from collections.abc import Iterable
from itertools import chain
from typing import Any

from ..hub import READ, WRITE, Listener, get_hub
from ..waiter import _TIMED_OUT, Waiter

_HIDDEN = {"poll", "epoll", "devpoll", "kqueue", "kevent", "select"}
globals().update({k: v for k, v in vars(_std).items() if not k.startswith("__") and k not in _HIDDEN})

# The real one, captured before monkey_patch replaces it.
_real_select = _std.select



def _fd(obj: Any) -> int:
    fd = obj if isinstance(obj, int) else obj.fileno()
    if not isinstance(fd, int) or fd < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
    return fd


def select(rlist: Iterable[Any], wlist: Iterable[Any], xlist: Iterable[Any],
           timeout: float | None = None) -> tuple[list[Any], list[Any], list[Any]]:
    """``select.select``, but waiting parks only this greenthread."""
    if timeout is not None:
        if not isinstance(timeout, (int, float)):
            raise TypeError(f"timeout must be a number or None, not {type(timeout).__name__}")
        if timeout < 0:
            raise ValueError("timeout must be non-negative")
    rlist, wlist, xlist = list(rlist), list(wlist), list(xlist)
    ready = _real_select(rlist, wlist, xlist, 0)
    if ready[0] or ready[1] or ready[2] or timeout == 0:
        return ready
    hub = get_hub()
    deadline = None if timeout is None else _time.monotonic() + timeout
    current: list[Waiter | None] = [None]

    def wake() -> None:
        # Several fds may fire in one loop iteration: the Waiter resumes us once.
        w = current[0]
        if w is not None:
            w.wake()

    listeners: list[Listener] = []
    try:
        # Exceptional conditions (out-of-band data) show up as readable.
        for fd in {_fd(o) for o in chain(rlist, xlist)}:
            listeners.append(hub.add(READ, fd, wake, rearm=True))
        for fd in {_fd(o) for o in wlist}:
            listeners.append(hub.add(WRITE, fd, wake, rearm=True))
        while True:
            waiter = current[0] = Waiter()
            left = None if deadline is None else max(0.0, deadline - _time.monotonic())
            if waiter.wait(left, why="select()") is _TIMED_OUT:
                return [], [], []
            ready = _real_select(rlist, wlist, xlist, 0)
            if ready[0] or ready[1] or ready[2]:
                return ready
    finally:
        current[0] = None
        for listener in listeners:
            hub.remove(listener)
