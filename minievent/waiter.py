"""Waiter: the one-shot slot that every blocking primitive parks a greenthread in.

Event, Queue, Semaphore and GreenThread.wait all do the same three things:
put a ``Waiter`` on a list, switch to the hub, and -- when somebody calls
``waiter.wake(value)`` -- resume with that value. A waiter resumes its
greenthread at most once and only while it is still waiting *on this waiter*:
if a timeout or a kill ended the wait first, a late ``wake`` is a no-op rather
than a stray resume in the middle of some later, unrelated wait.
"""

from __future__ import annotations

from typing import Any

import greenlet

from .hub import get_hub

getcurrent = greenlet.getcurrent

_TIMED_OUT = object()


class Waiter:
    __slots__ = ("greenlet", "hub", "value", "exc", "woken")

    def __init__(self) -> None:
        self.greenlet: greenlet.greenlet | None = None
        self.hub = get_hub()
        self.value: Any = None
        self.exc: BaseException | None = None
        self.woken = False

    def wake(self, value: Any = None) -> bool:
        """Schedule the waiting greenthread to resume with ``value``; False if nobody is waiting."""
        if self.woken or self.greenlet is None:
            return False
        self.woken = True
        self.value = value
        self.hub.ready.append(self)
        if self.hub.instrument is not None:  # the recorder: ready from now on
            self.hub.instrument.on_wake(self.greenlet)
        return True

    def wake_exception(self, exc: BaseException) -> bool:
        """Like ``wake``, but ``wait()`` raises ``exc``."""
        if self.wake(None):
            self.exc = exc
            return True
        return False

    def __call__(self) -> None:
        # The hub's run phase calls this. The greenlet may have stopped waiting
        # (timeout, kill) since wake() queued us: then there is nobody to resume.
        g = self.greenlet
        if g is not None:
            self.greenlet = None
            g.switch()

    def wait(self, timeout: float | None = None, why: str = "a waiter") -> Any:
        """Park until woken; return the value, or ``_TIMED_OUT`` after ``timeout`` seconds."""
        hub = self.hub
        cur = getcurrent()
        timer = None
        if timeout is not None:
            timer = hub.schedule_call(timeout, self._time_out)
        self.greenlet = cur
        cur.minievent_waiting_for = why  # named in LoopExit and by the recorder
        try:
            hub.switch()
        finally:
            self.greenlet = None
            cur.minievent_waiting_for = None
            if timer is not None:
                timer.cancel()
        if self.exc is not None:
            raise self.exc
        return self.value

    def _time_out(self) -> None:
        if not self.woken and self.greenlet is not None:
            self.woken = True
            self.value = _TIMED_OUT
            self()

    @property
    def waiting(self) -> bool:
        return self.greenlet is not None and not self.woken
