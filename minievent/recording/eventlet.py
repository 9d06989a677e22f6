"""The capture of eventlet programs: every greenlet switch, and what eventlet's pure-Python hub holds.

    with minievent.record(loop="eventlet") as tl:
        run_the_service()

Why a greenthread left is read, at the switch, from what the hub holds: its
newest timer, when it switches back to the greenthread, is a ``sleep``; the
timers that will wake a greenthread -- its sleep, a ``Timeout``, an
``Event.wait(timeout)`` (oslo.service's looping calls wait so) -- are its
deadline: from the earliest, it shows as *ready* until the hub resumes it,
and its lateness is recorded; the fd listener that ``trampoline`` just added is an fd
wait (the hub's poll is timed, so a reported fd shows as ready from the
poll's end, and ``tl.io`` has its lateness); anything else is named from the
suspended frame, by the caller of ``hub.switch()`` (``Event.wait``,
``LightQueue.get``...). ``Event.send`` is noted, so its waiters
(``GreenThread.wait`` too) are ready from then. Not seen: when other wakers
(queues, semaphores) made a waiter ready: eventlet delivers those through 0 s
timers that name no greenlet, so the waiter shows waiting until it runs.

eventlet is imported when a recording starts, not with this module.
"""

from __future__ import annotations

from typing import Any

import greenlet

from ..poller import READ, WRITE
from .greenlets import TIMER, GreenletCapture
from .records import clock, func_name

__all__ = ["EventletCapture"]

_NO_TPL = (None, (), None)  # an eventlet Timer called or cancelled has no tpl


class EventletCapture(GreenletCapture):
    kind = "eventlet"

    def _get_hub(self) -> Any:
        import eventlet.hubs
        import eventlet.hubs.hub
        import eventlet.hubs.timer

        self._codes = (eventlet.hubs.hub.BaseHub.switch.__code__, eventlet.hubs.timer.Timer.__call__.__code__)
        self._lib_dirs = (eventlet.__path__[0],)
        return eventlet.hubs.get_hub()

    def _hub_greenlet(self) -> Any:
        self.hub.ensure_greenlet()
        return self.hub.greenlet

    def _install_hub_hooks(self) -> None:
        # Time the hub's waits: ``wait`` (a plain time.sleep when no fd is
        # watched) and, inside it, ``do_poll`` (epoll/poll), whose end is when
        # the kernel reported the fds the hub then dispatches; and note each
        # new fd listener (``add``, called by trampoline right before it
        # parks). Instance attributes shadow the class's methods; removed on
        # uninstall.
        hub, cls = self.hub, type(self.hub)
        wait, do_poll, add = cls.wait.__get__(hub), getattr(cls, "do_poll", None), cls.add.__get__(hub)
        polled: list[float] = []
        self.listener: Any = None

        def timed_wait(seconds: Any = None) -> Any:
            if seconds == 0:  # (a poll that cannot block: not a wait, no clock; every loop turn has one)
                return wait(0)
            start = clock()
            try:
                return wait(seconds)
            finally:
                self._poll(start, polled.pop() if polled else clock())
                polled.clear()

        def noted_add(*args: Any) -> Any:
            self.listener = listener = add(*args)
            self.yielder = None
            return listener

        # Note each timer where it is made (``add_timer``, under every schedule_call_*): the newest, for the
        # park that follows (a sleep's own timer); and those that will wake a greenlet at a deadline -- its
        # sleep (``g.switch``), a Timeout (``g.throw``), an Event.wait(timeout) (``Event._do_send(.., g)``),
        # oslo's looping calls' wait -- so that it shows ready when due. (Once a timer, not at every park.)
        add_timer, arm, is_greenlet = cls.add_timer.__get__(hub), self._arm, greenlet.greenlet
        self.newest: Any = None

        def noted_add_timer(timer: Any) -> Any:
            due = add_timer(timer)
            try:  # (read directly: cheaper than getattr with a default; a timer made now has it)
                cb, args, _ = timer.tpl
            except AttributeError:  # (a timer already called or cancelled)
                cb, args = None, ()
            if timer.seconds <= 0:  # (spawn, a send, sleep(0): ready now, not at a deadline)
                if not args:  # g.switch, no args: sleep(0), g yields at its next park (read by the tracer)
                    try:  # (not getattr with a default: a builtin call: ~160 instructions a sleep(0) more)
                        self.yielder = cb.__self__
                    except AttributeError:  # (a function; None: a timer already called or cancelled)
                        self.yielder = None
                return due
            self.newest = timer
            g = getattr(cb, "__self__", None)
            if not isinstance(g, is_greenlet):
                g = args[-1] if args and isinstance(args[-1], is_greenlet) else None
            if g is not None:
                arm(g, due, timer)
            return due

        hub.wait, hub.add, hub.add_timer = timed_wait, noted_add, noted_add_timer
        self._hooked = ["wait", "add", "add_timer"]
        if do_poll is not None:
            do_poll = do_poll.__get__(hub)

            def timed_do_poll(seconds: Any) -> Any:
                try:
                    return do_poll(seconds)
                finally:
                    self.poll_end = now = clock()
                    if seconds != 0:  # (inside a timed wait: its end; a zero poll is no wait)
                        polled.append(now)

            hub.do_poll = timed_do_poll
            self._hooked.append("do_poll")
        # Event.send wakes each waiter through a 0 s timer: note when it was
        # sent, so that a waiter the hub resumes later shows ready since then.
        # (The class's method, put back on uninstall; other threads pass through.)
        import eventlet.event

        self._send = send = eventlet.event.Event.send
        pend, hub, get_hub = self.pend, self.hub, eventlet.hubs.get_hub

        def noted_send(event: Any, *args: Any, **kwargs: Any) -> Any:
            if get_hub() is hub:  # (an event of this thread's hub)
                now = clock()
                for w in event._waiters:
                    pend[id(w)] = (now, "event sent")
            return send(event, *args, **kwargs)

        eventlet.event.Event.send = noted_send

    def _remove_hub_hooks(self) -> None:
        # (delattr, never ``hub.__dict__``: on CPython 3.11 reading an object's ``__dict__`` moves its
        # attributes out of the compact layout the class's bytecode is specialised for, and every ``self.x``
        # of the hub's loop is looked up the slow way from then on: sleep(0) cost 15% more after a recording.)
        for name in self._hooked:
            delattr(self.hub, name)
        import eventlet.event

        eventlet.event.Event.send = self._send

    def _hint(self, target: Any, origin: Any) -> str | None:
        # eventlet.spawn queues a 0 s timer: Timer.__call__ calls g.switch(func, args, kwargs).
        f = origin.gr_frame if origin is self.hub_g else None
        if f is not None and f.f_code is self._codes[1]:
            loc = f.f_locals
            cb, args = loc.get("cb"), loc.get("args")
            if getattr(cb, "__self__", None) is target and args and callable(args[0]):
                return func_name(args[0])
        return None

    def _live(self, timer: Any) -> bool:
        return not timer.called

    def _left(self, origin: Any, t: float) -> Any:
        # What eventlet's hub holds says it without a frame, for the common waits:
        lst = self.listener  # trampoline added an fd listener and parks on it
        if lst is not None:
            self.listener = None
            if lst.greenlet is origin:
                self.pend[id(origin)] = (None, ("fd", lst.fileno))
                self.io_pend[id(origin)] = (lst.fileno, READ if lst.evtype == "read" else WRITE)
                return ("read" if lst.evtype == "read" else "write", lst.fileno)
        self.yielder = None
        timer = self.newest
        if timer is not None:  # sleep() added a timer that switches back to it: the newest one
            self.newest = None
            cb, args, _ = getattr(timer, "tpl", _NO_TPL)
            if not args and getattr(cb, "__self__", None) is origin:  # origin.switch, no args (not a Timeout's throw)
                due = self._due(origin)  # (its own timer, or a Timeout's if that is sooner)
                self.pend[id(origin)] = (due, TIMER)
                return ("sleep", timer.seconds)
        # Anything else (Event.wait, a queue...): named after the caller of hub.switch(); ready when a
        # timer armed to wake it (a timeout) is due.
        if self.armed:
            due = self._due(origin)
            if due is not None:
                self.pend[id(origin)] = (due, TIMER)
        f = origin.gr_frame
        if f is None:
            return "unknown"
        if f.f_code is self._codes[0] and f.f_back is not None:
            f = f.f_back
        return f.f_code.co_qualname
