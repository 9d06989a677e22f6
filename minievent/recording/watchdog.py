"""The watchdog: one OS thread that notices a loop held too long, and samples the holder's stack while it holds.

A greenthread (or task) that computes without yielding holds its loop: nothing
else in that OS thread runs, the program cannot say so itself. Another OS
thread can: every few milliseconds it asks each watched loop for its latest
switch (``latest()``: how many so far, when, into which lane), and when one
lane has been running longer than the watch's threshold it reads the loop
thread's current stack (``sys._current_frames()``) -- the holder's own frames,
at the line it is stuck on -- and hands it to the watch, again at every look
while the hold lasts, then once more when the loop comes back.

``minievent.debug.blocking_detection``, ``python -m minievent trace`` and the
flight recorder each add a ``Watch``; one thread serves them all.

The thread is a bare ``_thread`` thread, not a ``threading.Thread``: the
program cannot see it (``threading.enumerate()``, ``active_count()``), it
joins no ``threading._shutdown``, and it is a real OS thread even once the
program's ``monkey_patch()`` has made ``threading`` and ``_thread`` green
(their original functions are taken from whichever library patched them).
It sleeps on a real lock's timeout, never on ``time.sleep``.
(``minievent.debug`` used to start a ``threading.Thread`` of the unpatched
``threading``: listed by ``threading.enumerate()`` in a program that was
never patched, and one more thread in its count.)
"""

from __future__ import annotations

import _thread
import os
import sys
from collections.abc import Callable
from typing import Any

from .records import HUB_ID, clock

__all__ = ["Hold", "Watch", "add", "remove", "running", "watches", "real_thread_functions"]


def real_thread_functions() -> tuple[Callable[..., int], Callable[[], Any], Callable[[], int]]:
    """``_thread``'s ``start_new_thread``, ``allocate_lock`` and ``get_ident`` as the OS provides them.

    After eventlet's, gevent's or minievent's ``monkey_patch()`` the module's own are green: each of
    those libraries keeps the originals, and is asked (only if it is already imported).
    """
    names = ("start_new_thread", "allocate_lock", "get_ident")
    found = [getattr(_thread, n) for n in names]
    if all(type(f).__name__ == "builtin_function_or_method" for f in found):
        return tuple(found)  # type: ignore[return-value]
    ev = sys.modules.get("eventlet.patcher")
    if ev is not None and ev.is_monkey_patched("thread"):
        orig = ev.original("_thread")
        return tuple(getattr(orig, n) for n in names)  # type: ignore[return-value]
    gm = sys.modules.get("gevent.monkey")
    if gm is not None and gm.is_module_patched("_thread"):
        return tuple(gm.get_original("_thread", n) for n in names)  # type: ignore[return-value]
    mp = sys.modules.get("minievent.patcher")
    if mp is not None and mp.is_monkey_patched("_thread"):
        orig = mp.original("_thread")
        return tuple(getattr(orig, n) for n in names)  # type: ignore[return-value]
    raise RuntimeError("_thread is patched by a library minievent does not know: no real thread to watch from")


# Bound now: the recording wing is imported before the program patches (trace, flight), or after
# minievent's own monkey_patch (whose originals are asked for above).
_start_thread, _allocate_lock, _get_ident = real_thread_functions()


class Hold:
    """One lane has held a loop since ``since`` (clock() seconds): a run the watchdog caught."""

    __slots__ = ("serial", "since", "lane", "samples", "end")

    def __init__(self, serial: int, since: float, lane: int | None) -> None:
        self.serial = serial
        self.since = since
        #: id() of the lane key, as the records have it (None: the records cannot say, the stack can)
        self.lane = lane
        self.samples = 0
        #: when the loop came back (the time of the latest switch then), once released
        self.end: float | None = None


class Watch:
    """One loop the watchdog looks at. Subclass it: ``held``, ``released``, ``tick``.

    ``source``: what says who runs -- a ``Timeline``, or anything with its ``latest()`` (switches so
    far, time of the latest, id of the lane it entered or None when the records cannot say; cheap and
    safe from another thread) and ``thread`` (the loop's OS thread, its ident in
    ``sys._current_frames()``; None: not known yet). None: nothing to watch, ``tick`` only.
    ``in_loop(frame)``: for a lane the records cannot name, whether the stack is the loop's own.
    """

    def __init__(
        self,
        source: Any,
        threshold: float,
        period: float | None = None,
        in_loop: Callable[[Any], bool] | None = None,
    ) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
            raise ValueError(f"threshold must be a positive number of seconds, not {threshold!r}")
        self.source = source
        self.threshold = float(threshold)
        #: how often to look (seconds): a few times per threshold
        self.period = min(max(self.threshold / 4, 0.001), 0.05) if period is None else period
        self.in_loop = in_loop
        self.hold: Hold | None = None

    # -- what a user overrides (called in the watchdog thread)
    def held(self, hold: Hold, frame: Any) -> None:
        """``hold`` lasts (``clock() - hold.since`` > threshold); ``frame`` is the holder's, now."""

    def released(self, hold: Hold) -> None:
        """The loop came back (``hold.end``)."""

    def tick(self, now: float) -> None:
        """Called at every look, after the held/released check."""

    # -- the look
    def look(self, now: float) -> None:
        source = self.source
        if source is None:
            return
        n, since, kid = source.latest()
        hold = self.hold
        thread = source.thread if getattr(source, "recording", True) else None  # (a stopped recording holds nothing)
        if n and kid != HUB_ID and now - since > self.threshold and thread is not None:
            frame = sys._current_frames().get(thread)
            # Not held if it switched while we looked, or if the records can't say and the stack is the loop's.
            if frame is not None and source.latest()[0] == n and not (kid is None and self._in_loop(frame)):
                if hold is not None and hold.since != since:
                    self._release(hold, since)
                    hold = None
                if hold is None:
                    hold = self.hold = Hold(n, since, kid)
                hold.samples += 1
                self.held(hold, frame)
                return
        if hold is not None:
            self._release(hold, since if since > hold.since else now)

    def _in_loop(self, frame: Any) -> bool:
        return self.in_loop is not None and self.in_loop(frame)

    def _release(self, hold: Hold, end: float) -> None:
        self.hold = None
        hold.end = end
        self.released(hold)


# ---------------------------------------------------------------- the one thread
_watches: list[Watch] = []
_guard = _allocate_lock()  # held while the thread looks (remove() waits on it)
_starting = _allocate_lock()  # held to start or end the thread
_wake: Any = None  # the running thread's: released to end it
_ident: int | None = None


def add(watch: Watch) -> None:
    """Start looking at ``watch`` (the thread starts with the first). Never waits for a look."""
    global _wake, _ident
    with _starting:
        if watch in _watches:
            raise RuntimeError("this watch is already added")
        _watches.append(watch)
        if _ident is None:
            _wake = _allocate_lock()
            _wake.acquire()
            _ident = _start_thread(_run, (_wake,))


def remove(watch: Watch) -> None:
    """Stop looking at ``watch``; once this returns, none of its methods runs again (the thread ends with the last).

    From any thread, the watchdog's own included (a watch may remove itself). It waits for a look in
    progress (at most ``timeout`` seconds, then it goes on: the look still holds what it holds).
    """
    mine = _get_ident() == _ident
    got = mine or _guard.acquire(True, 10)
    try:
        with _starting:
            if watch in _watches:
                _watches.remove(watch)
            if not _watches:
                _end()
    finally:
        if got and not mine:
            _guard.release()


def watches() -> list[Watch]:
    """The watches looked at now."""
    return list(_watches)


def running() -> int | None:
    """The watchdog thread's ident while it runs, else None."""
    return _ident


def _end() -> None:
    global _wake, _ident
    if _wake is not None:
        _wake.release()
    _wake, _ident = None, None


def _run(wake: Any) -> None:
    while True:
        period = min((w.period for w in _watches), default=0.05)
        if wake.acquire(True, period):
            return  # released by remove(): no watch left
        with _guard:
            if wake.acquire(False):
                return
            now = clock()
            for w in list(_watches):
                try:
                    w.look(now)
                    w.tick(now)
                except Exception as e:  # a broken watch is dropped, with one line; the others go on
                    with _starting:
                        if w in _watches:
                            _watches.remove(w)
                    _say(f"minievent watchdog: {type(w).__name__} failed ({type(e).__name__}: {e}); it stops")
            with _starting:
                if not _watches and _wake is wake:  # (the last one failed)
                    _end()
                    return


def _forget_in_child() -> None:
    # A forked child has no watchdog thread (only the thread that forked goes on), and the guard may
    # have been held by it: the child starts afresh, watching nothing.
    global _guard, _starting, _wake, _ident
    _guard, _starting, _wake, _ident = _allocate_lock(), _allocate_lock(), None, None
    _watches.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def _say(text: str) -> None:
    try:
        os.write(2, (text + "\n").encode())
    except OSError:
        pass
