"""eventlet's hub API that is not the loop: what eventlet's tools and tests call on a hub.

``Hub`` (``minievent/hub.py``) is the loop and its three single points. eventlet's hub also
offers a way to stop the loop from outside (``abort``), two debug switches, timers that die
with their greenthread and counts of what it holds. They live here, in the base class ``Hub``
inherits, so that a reader of the loop does not wade through them; they use only what the
loop keeps anyway (its listener tables, its timer heap, ``schedule_call``, ``park``). (Its
other names for the same methods, ``switch``, ``schedule_call_global``, ``clock``, are
one-line aliases beside them in the hub.)

It imports only the poller's constants: it is below the hub.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import greenlet

from .poller import READ, WRITE

#: ``debug.hub_listener_stacks``: debug imports the hub, so the hub cannot import debug; debug puts it here.
listener_stacks: Any = None


def _unless_ended(gt: Any, fn: Callable[..., Any], args: tuple) -> None:
    """``schedule_call_local``'s callback: ``fn(*args)``, unless greenthread ``gt`` has ended."""
    if gt is None or not gt.dead:
        fn(*args)


class HubCompat:
    """The part of eventlet's hub API that is not the loop; ``Hub`` inherits it."""

    #: ``abort()`` has handed control to the main greenlet, which has not waited since.
    _stopped = False

    @property
    def running(self) -> bool:
        """The loop has started, and ``abort`` has not stopped it since."""
        return bool(self.greenlet) and not self._stopped

    def abort(self, wait: bool = False) -> None:
        """Stop the loop and hand control to the main greenlet (eventlet's ``abort``, for tests and tools).

        From a hub callback it stops at once; elsewhere at the loop's next turn, and ``wait=True``
        makes the main greenlet wait for that. Whatever the main greenlet was waiting for, its wait
        returns then, without it (as eventlet's): call it where main waits on nothing else, as eventlet's
        tests do. The next wait carries the loop on where it stopped: nothing ready, due or watched is lost.
        """
        cur = greenlet.getcurrent()
        if cur is not self.greenlet:
            if wait and cur is not self.main:
                raise RuntimeError("only the main greenlet can wait for abort(): nothing would resume another")
            if wait or self.running:
                self.schedule_call(0, self.abort)
            return self.park() if wait else None
        self._void_resume(self.main)  # (the main greenlet's own sleep(0) resume: it resumes now)
        self._stopped = True
        try:
            self.main.switch()
        finally:
            self._stopped = False

    def set_debug_listeners(self, value: bool) -> None:
        """eventlet's hub switch for ``debug.hub_listener_stacks(value)`` (which records for every hub)."""
        listener_stacks(value)  # (minievent's __init__ imports debug: it is always there)

    def set_timer_exceptions(self, value: bool) -> None:
        """Print the errors of hub callbacks and greenthreads (eventlet's hub switch; ``debug.hub_exceptions``)."""
        self.print_exceptions = value

    def schedule_call_local(self, seconds: float, fn: Callable[..., Any], *args: Any) -> Any:
        """Like ``schedule_call``, but dropped if the greenthread that scheduled it has ended by then."""
        gt = getattr(greenlet.getcurrent(), "gt", None)  # (None: the main greenlet, which never ends first)
        return self.schedule_call(seconds, _unless_ended, gt, fn, args)

    # What the hub still holds, for tools (and eventlet's tests) that check it.
    def get_readers(self) -> list[Any]:
        return [x for x in self.listeners() if x.evtype == READ]

    def get_writers(self) -> list[Any]:
        return [x for x in self.listeners() if x.evtype == WRITE]

    def get_timers_count(self) -> int:
        """Timers in the heap, cancelled ones not yet swept out included (eventlet's count)."""
        return len(self.timers)

    @property
    def timers_canceled(self) -> int:
        """Cancelled timers still in the heap (swept out once they are the majority)."""
        return self._cancelled
