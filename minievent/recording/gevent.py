"""The capture of gevent programs: every greenlet switch, and the loop's polls timed by two watchers.

    with minievent.record(loop="gevent") as tl:
        run_the_service()

gevent's loop is libev or libuv, in C, and its greenlet and hub primitives
are compiled with Cython: switches are exact, as for eventlet, but less is
visible. ``gevent.sleep`` is pure Python, so its seconds are read from its
frame; so is ``Timeout`` (``Event.wait(timeout)`` starts one from compiled
code), whose start is noted: the greenlet is ready from its deadline; a
prepare and a check watcher time each loop iteration's poll, so socket
waits show ready from the poll's end. Not seen: which watcher fired
(timers and io watchers are C structures), and waits in compiled code
(``Event.wait``, ``Greenlet.join``) are named by the caller's line only.

gevent is imported when a recording starts, not with this module.
"""

from __future__ import annotations

import inspect
from typing import Any

from .greenlets import IO, TIMER, GreenletCapture
from .records import YIELD, clock, func_name

__all__ = ["GeventCapture"]


class GeventCapture(GreenletCapture):
    kind = "gevent"

    def _get_hub(self) -> Any:
        import gevent
        import gevent.hub

        self._sleep_code = gevent.hub.sleep.__code__
        lines, first = inspect.getsourcelines(gevent.hub.sleep)
        # sleep(0) parks on the line "waiter.get()"; a timed sleep elsewhere. Its instruction offsets,
        # for the hot path: a frame's f_lasti is cheaper to read than its f_lineno (a line-table walk).
        line = next((first + i for i, text in enumerate(lines) if "waiter.get()" in text), -1)
        code = self._yield_code = self._sleep_code
        self._yield_at = frozenset(i for a, b, n in code.co_lines() if n == line for i in range(a, b, 2))
        self._lib_dirs = (gevent.__path__[0],)
        return gevent.get_hub()

    def _hub_greenlet(self) -> Any:
        return self.hub  # gevent's Hub *is* a greenlet

    def _install_hub_hooks(self) -> None:
        # libev runs prepare watchers right before it polls and check watchers
        # right after: together they time each wait (ref=False: they must not
        # keep the loop alive). Lowest priority for prepare, so that gevent's
        # own callbacks run before our clock starts; highest for check.
        loop = self.hub.loop
        started: list[float] = []
        self._watchers = (loop.prepare(ref=False), loop.check(ref=False))
        prep, check = self._watchers
        prep.priority, check.priority = loop.MINPRI, loop.MAXPRI

        def before() -> None:
            started[:] = [clock()]

        def after() -> None:
            if started:
                self._poll(started.pop(), clock())

        prep.start(before)
        check.start(after)
        # A Timeout (pure Python; Event.wait(timeout), AsyncResult.get(timeout), joins with a timeout start
        # one from compiled code) throws into the greenlet that started it: it is ready when it is due.
        # (The class's method, put back on uninstall; other threads pass through.)
        import gevent.timeout
        from gevent import getcurrent

        self._timeout_start = start = gevent.timeout.Timeout.start
        hub, arm = self.hub, self._arm

        def noted_start(timeout: Any) -> Any:
            result = start(timeout)
            seconds = timeout.seconds
            if seconds is not None and seconds > 0 and timeout.timer.loop is hub.loop:
                arm(getcurrent(), clock() + seconds, timeout)
            return result

        gevent.timeout.Timeout.start = noted_start

    def _remove_hub_hooks(self) -> None:
        for w in self._watchers:
            w.stop()
            w.close()
        import gevent.timeout

        gevent.timeout.Timeout.start = self._timeout_start

    def _live(self, timer: Any) -> bool:
        return timer.pending

    def _hint(self, target: Any, origin: Any) -> str | None:
        name = getattr(target, "name", None)
        if isinstance(name, str) and not name.startswith("Greenlet-"):
            return name  # one the program gave it
        return func_name(getattr(target, "_run", None))

    def _left(self, origin: Any, t: float) -> Any:
        # The innermost *Python* frame: gevent's waits are compiled code.
        f = origin.gr_frame
        if f is None:
            return "unknown"
        code = f.f_code
        if code is self._sleep_code:
            if f.f_lasti in self._yield_at:
                return YIELD
            seconds = f.f_locals.get("seconds", 0)
            due = self._due(origin) if self.armed else None
            self.pend[id(origin)] = (t + seconds if due is None else min(due, t + seconds), TIMER)
            return ("sleep", seconds)
        if code.co_filename.startswith(self._lib_dirs) and "socket" in code.co_filename:
            self.pend[id(origin)] = (None, IO)
            return f"{code.co_name} on a socket"
        if self.armed:  # Event.wait(timeout) and the like: ready once its Timeout is due
            due = self._due(origin)
            if due is not None:
                self.pend[id(origin)] = (due, TIMER)
        return f"in {code.co_qualname} line {f.f_lineno}"
