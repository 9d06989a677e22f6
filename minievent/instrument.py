"""The instrument protocol: what the hub tells an observer, and when.

The hub has exactly three places where scheduling happens, and calls one hook
at each while an instrument is installed (``hub.instrument``):

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

``parked`` and ``resumed`` have a cheap form, for an instrument that must
cost next to nothing on every switch: give it a ``switch_log`` list, and the
hub *appends* to it -- three slots a record, no call at all -- while it is
shorter than ``switch_log_limit``: ``(time, lane, why)`` for a park and
``(time, hub.RESUMED, entry)`` for a resume (a fd listener as its
``(fd, READ|WRITE)``: a long recording keeps these by the hundred thousand,
and numbers, unlike objects, cost the garbage collector nothing). Once it is full the hub calls
``parked`` and ``resumed`` again (where the recorder counts what it drops).
The lane is the GreenThread a worker greenlet runs (None if it just finished:
``why`` is then ``("done", id of the greenthread)``), or the greenlet itself.
When nothing is installed each site costs one ``is None`` check. A hook that
raises is removed with a warning (the program goes on; a broken observer must
never break what it observes). The recorder (``minievent.recorder``) is the one
instrument in minievent; this class documents the protocol and is a no-op
base for your own.
"""

from __future__ import annotations

from typing import Any


class Instrument:
    """Subclass and override what you need; every hook here does nothing."""

    #: The cheap form of ``parked`` and ``resumed`` (see the module docstring); None: call them.
    switch_log: list | None = None
    switch_log_limit: int = 0

    def before_poll(self, timeout: float | None) -> None:
        """The hub is about to ask the kernel for ready fds, waiting at most ``timeout`` s."""

    def after_poll(self, events: list[tuple[int, int]]) -> None:
        """The poll returned these ``(fd, READ|WRITE bits)``."""

    def scheduled(self, entry: Any) -> None:
        """``entry`` was put on the ready queue."""

    def resumed(self, entry: Any) -> None:
        """The run phase is about to call ``entry`` (a ``Timer``, ``Listener``, ``Waiter``...)."""

    def parked(self, greenlet: Any, why: Any) -> None:
        """``greenlet`` switches to the hub, waiting for ``why`` (``YIELD``: it stays ready)."""
