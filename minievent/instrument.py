"""The instrument protocol: what the hub tells an observer, and when.

Any number of instruments may be installed on a hub at once (trio's model:
``hub.add_instrument(i)``, ``hub.remove_instrument(i)``, ``hub.instruments``),
so the flight recorder stays armed while a lesson records. The hub keeps, per
hook, the bound methods of the instruments that override it -- rebuilt on each
add and remove -- and calls only those; with nothing installed each point costs
one falsy check. The hooks, at the hub's three single points:

* ``scheduled(entry)``: ``entry`` became ready (``Hub.schedule``: a waiter was
  woken, a greenthread spawned, a callback queued from another thread) -- all
  but fd listeners, which are ready since the poll ``after_poll`` reported;
* ``resumed(entry)``: the run phase is about to call ``entry`` (not for a bare
  ``sleep(0)`` yield: its resume is implied by ``parked``, which keeps the
  hottest path to a single hook);
* ``parked(greenlet, why)``: a greenthread hands the CPU back to the hub
  (``Hub.park``); ``why`` is a cheap tuple such as ``("sleep", 0.5)`` or
  ``("read", 7)``, made into text only if somebody reads it;

and two around the one blocking call, ``before_poll(timeout)`` and
``after_poll(events)``.

The hooks run in the hub's thread, on its hottest paths: keep them to appends
(the recorder writes a flat list, and makes sense of it only when somebody reads
the recording). A hook that raises is removed with its instrument, with a
warning; the other instruments and the program go on (a broken observer must
never break what it observes). The recorder (``minievent.recording``) is
minievent's own instrument; this class is the no-op base for yours.
"""

from __future__ import annotations

from typing import Any


class Instrument:
    """Subclass and override what you need; the hub calls only the hooks you override."""

    def before_poll(self, timeout: float | None) -> None:
        """The hub is about to ask the kernel for ready fds, waiting at most ``timeout`` s."""

    def after_poll(self, events: list[tuple[int, int]]) -> None:
        """The poll returned these ``(fd, READ|WRITE bits)``."""

    def scheduled(self, entry: Any) -> None:
        """``entry`` was put on the ready queue."""

    def resumed(self, entry: Any) -> None:
        """The run phase is about to call ``entry`` (a ``Timer``, ``Listener``, ``Waiter``...)."""

    def parked(self, greenlet: Any, why: Any) -> None:
        """``greenlet`` switches to the hub, waiting for ``why`` (``YIELD``: it stays ready).

        A worker greenlet's ``gt`` is the GreenThread it runs (None once it finished: ``why`` is then
        ``("done", id of the greenthread)``).
        """
