"""WaitQueue: the one place every blocking primitive parks its greenthreads.

Event, Queue, Semaphore, GreenThread.wait and the pools all do the same three
things: put the current greenthread in a FIFO, park it on the hub, and -- when
somebody calls ``wake_one(value)`` or ``wake_all(value)`` -- resume it with that
value. Written once here, the hard cases are right for all of them:

* a waiter resumes at most once, and only while it still waits *in this
  queue*: if a timeout or a kill ended the wait first, a late wake passes it
  over rather than resuming it in the middle of some later, unrelated wait;
* a waiter that times out or is killed leaves the queue in O(1): it is marked
  and skipped, and the dead are swept out once they outnumber the living;
* the hand-back rule: a waiter that was *handed* something (a queue item, a
  semaphore unit) but is killed before it resumes gives it back through
  ``lost(value)``, so nothing is lost and nobody waits for it forever.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import greenlet

from .hub import Hub, _getcurrent, get_hub, os_thread_id

__all__ = ["WaitQueue", "Waiter", "TIMED_OUT"]

#: What ``WaitQueue.wait`` returns when its timeout expired first.
TIMED_OUT: Any = type("TimedOut", (), {"__repr__": lambda self: "TIMED_OUT"})()

_WAITING, _WOKEN, _GONE = 0, 1, 2


class Waiter:
    """One parked greenthread; the hub's run phase calls it to resume that greenthread."""

    __slots__ = ("greenlet", "hub", "value", "state", "item")

    def __init__(self, hub: Hub, g: greenlet.greenlet, item: Any = None) -> None:
        self.greenlet: greenlet.greenlet | None = g
        self.hub, self.value, self.state, self.item = hub, None, _WAITING, item  # item: what it brings (a putter's)

    def wake(self, value: Any = None) -> bool:
        """Schedule the resume with ``value``; False if it is no longer waiting."""
        if self.state != _WAITING:
            return False
        self.state, self.value = _WOKEN, value
        if self.hub.thread_id == os_thread_id():
            self.hub.schedule(self)
        else:  # woken from another OS thread (it released a green lock): through that hub's doorbell
            self.hub.call_threadsafe(self.hub.schedule, self)
        return True

    def __call__(self) -> None:
        g = self.greenlet
        if g is not None:  # None: it stopped waiting (killed) after wake() queued us
            self.greenlet = None
            g.switch()

    def _time_out(self) -> None:
        if self.state == _WAITING:
            self.state, self.value = _GONE, TIMED_OUT  # (_GONE, yet counted as waiting: its own wait() uncounts it)
            self()

    def __repr__(self) -> str:
        return f"<Waiter {('waiting', 'woken', 'gone')[self.state]} {self.greenlet!r}>"


class WaitQueue:
    """A FIFO of parked greenthreads: ``wait``, ``wake_one``, ``wake_all``; ``len()`` counts the living."""

    __slots__ = ("_q", "_live")

    def __init__(self) -> None:
        self._q: deque[Waiter] = deque()
        self._live = 0

    def __len__(self) -> int:
        return self._live

    def __repr__(self) -> str:
        return f"<WaitQueue {self._live} waiting>"

    def wait(
        self, timeout: float | None = None, why: Any = None, lost: Callable[[Any], Any] | None = None, item: Any = None
    ) -> Any:
        """Park until woken; return the value woken with, or ``TIMED_OUT`` after ``timeout`` s.

        ``why`` says what is awaited (for LoopExit and the recorder), ``item`` is
        carried for the waker to read (``Waiter.item``), ``lost`` receives a value
        that was handed to us when we are killed before we could take it.
        """
        hub = get_hub()
        w = Waiter(hub, _getcurrent(), item)
        # (The timer first: a bad timeout raises before we are in the queue.)
        timer = None if timeout is None else hub.schedule_call(timeout, w._time_out)
        self._q.append(w)
        self._live += 1
        try:
            hub.park(why)
        except BaseException:
            if w.state == _WOKEN and lost is not None:
                lost(w.value)  # handed something, killed before taking it: pass it on
            raise
        finally:
            w.greenlet = None
            if w.state != _WOKEN:  # timed out or killed while waiting: leave the queue
                w.state = _GONE
                self._live -= 1
                if len(self._q) > 64 and len(self._q) > 2 * self._live:  # sweep the dead: they are the majority
                    self._q = deque(x for x in self._q if x.state == _WAITING)
            if timer is not None:
                timer.cancel()
        return w.value

    def wake_one(self, value: Any = None) -> Waiter | None:
        """Resume the oldest waiter with ``value``; return it (its ``item`` is readable), or None."""
        q = self._q
        while q:
            w = q.popleft()
            if w.state == _WAITING:
                self._live -= 1
                w.wake(value)
                return w
        return None

    def wake_all(self, value: Any = None) -> int:
        """Resume every waiter with ``value``; how many there were."""
        n = 0
        while self.wake_one(value) is not None:
            n += 1
        return n
