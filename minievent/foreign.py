"""Recording other event loops: eventlet, gevent and asyncio programs, into the same ``Timeline``.

    with minievent.record(loop="eventlet") as tl:     # or "gevent", "asyncio"
        run_the_service()
    tl.spans(); tl.blocked(0.1); tl.to_chrome_trace("t.json"); minievent.plot.swimlanes(tl)

The heartbeat scenario records every backend this way (lesson 10):
``heartbeat.run(backend="eventlet" | "gevent" | "asyncio").timeline`` (eventlet
and gevent run in a subprocess; their recording comes back as a Chrome trace,
read by ``minievent.trace.load``), drawn by ``plot.swimlanes`` or
``plot.heartbeat_figure`` as minievent's is. Any script:
``python -m minievent trace --plot p.png --trace t.json script.py``, then
``minievent.trace.load("t.json")``.

Each capture here writes the raw records minievent's own recorder writes
(``Timeline``: a flat list of switches -- time, lane entered, why the lane
that left did -- plus "ready since, because" for some switches, timer
lateness and hub polls), so the analysis, the pictures and the Chrome trace
are the same whatever the loop. What each library lets us see differs:

* **eventlet** (pure Python hub): ``greenlet.settrace`` gives every switch,
  so running spans are exact. Why a greenthread left is read, at the switch,
  from what the hub holds: its newest timer, when it switches back to the
  greenthread, is a ``sleep`` (seconds and deadline: a due timer shows as
  *ready* until the hub resumes it, and its lateness); the fd listener that
  ``trampoline`` just added is an fd wait (the hub's poll is timed, so a
  reported fd shows as ready from the poll's end, and ``tl.io`` has its
  lateness); anything else is named from the suspended frame, by the caller of
  ``hub.switch()`` (``Event.wait``, ``LightQueue.get``...). ``Event.send`` is
  noted, so its waiters (``GreenThread.wait`` too) are ready from then. Not
  seen: when other wakers (queues, semaphores) made a waiter ready: eventlet
  delivers those through 0 s timers that name no greenlet, so the waiter shows
  waiting until it runs.
* **gevent** (libev/libuv in C, greenlet and hub primitives compiled with
  Cython): switches are exact, as for eventlet. ``gevent.sleep`` is pure Python,
  so its seconds are read from its frame; a prepare and a check watcher time
  each loop iteration's poll, so socket waits show ready from the poll's end.
  Not seen: which watcher fired (timers and io watchers are C structures), and
  waits in compiled code (``Event.wait``, ``Greenlet.join``) are named by the
  caller's line only.
* **asyncio** (pure Python ``BaseEventLoop``): a task step is a running span;
  the loop's ready queue is replaced while recording by a deque that notes,
  for each handle, since when it was ready and why (a timer's deadline, a
  poll's end, another task), and an internal callback passes its own
  readiness on to what it wakes (the timer of ``asyncio.sleep`` wakes the
  task: the task was ready from the deadline). The selector's ``select`` is
  timed for the loop's waits. Loops that *start* while recording are recorded
  (``asyncio.run`` in the recorded program), one at a time; a loop already
  running must be passed as ``loop=``. Not seen: uvloop and other loops not
  built on ``BaseEventLoop`` (their loop is C), and what runs inside a step.

A lane is a greenlet (eventlet's ``GreenThread``, gevent's ``Greenlet``, a
plain greenlet), a task, or a plain callback, named after its function
(``heartbeat``, ``long_task#2``...; a monkey-patched ``threading.Thread``
after its target); "hub" is the loop itself; "main" is the main greenlet
(asyncio: the code outside the loop, named after its thread). Greenthreads
and tasks that existed before recording began are shown from the first time
they run. eventlet and gevent are recorded in the thread that starts the
recording (``greenlet.settrace`` is per thread).
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import sys
import threading
from typing import Any

import greenlet

from .poller import READ, WRITE
from .timeline import _EXITED, _HUB, _HUB_ID, _SPAWN, _YIELD, DEFAULT_CAP, Span, Timeline, _why_text, clock

__all__ = ["LOOPS", "ForeignTimeline", "capture_for", "detect", "timeline_for"]

#: What ``record(loop=...)`` and ``python -m minievent trace`` know how to record.
LOOPS = ("minievent", "eventlet", "gevent", "asyncio")

_NO_TPL = (None, (), None)  # an eventlet Timer called or cancelled has no tpl
_TIMER = "timer due"
_WOKEN = "woken"
_IO = "I/O ready"


class _Main:
    """The lane key of the code outside the loop (a sentinel, named "main" or after its thread)."""

    def __init__(self, name: str) -> None:
        self.name = name


def os_thread_id() -> int:
    """This OS thread's id, as ``sys._current_frames()`` knows it.

    Not ``threading.get_ident()``: once eventlet or gevent has monkey-patched
    the program, that names the running greenlet.
    """
    me = sys._getframe()
    for ident, frame in sys._current_frames().items():
        if frame is me:
            return ident
    raise RuntimeError("this thread is not in sys._current_frames()")  # (never: we are running)


def _func_name(fn: Any) -> str | None:
    # "main.<locals>.heartbeat" reads better as "heartbeat"; a (monkey-patched,
    # green) threading.Thread's bootstrap is better named after its target.
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, threading.Thread):
        target = getattr(owner, "_target", None)
        return _func_name(target) if target is not None else owner.name
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return name.rsplit("<locals>.", 1)[-1] if isinstance(name, str) else None


class ForeignTimeline(Timeline):
    """A ``Timeline`` that a capture of another library's loop fills (``loop`` says which)."""

    def __init__(self, capture: _Capture, cap: int = DEFAULT_CAP) -> None:
        super().__init__(cap)
        self._capture = capture
        self.loop = capture.kind

    def start(self, greenlets: bool = True) -> ForeignTimeline:
        if self.t0 is not None:
            raise RuntimeError("this Timeline was already started; make a new one")
        self._thread = os_thread_id()
        self._hub = self.loop  # (so that lanes() shows the hub first)
        self.t0 = clock()
        self._capture.install(self)
        return self

    def stop(self) -> ForeignTimeline:
        if self.t0 is not None and self.t1 is None:
            self._capture.uninstall()
            self.t1 = clock()
        return self

    def spans(self) -> list[Span]:
        # A greenthread whose timer fell due, or whose event was sent, but that
        # never ran again before the recording ended (stopped, or Ctrl-C while
        # another held the loop) was ready from then to the end, not waiting.
        # (asyncio: a task whose timer was due when its loop stopped -- Ctrl-C --
        # was ready from the deadline until asyncio.run's cleanup resumed it.)
        out = super().spans()
        pending = self._capture.ready_at_end(self._end())
        if not pending:
            return out
        self._ensure_names()
        wanted = {self._names.get(key): (since, cause) for key, (since, cause) in pending.items()}
        for i, s in enumerate(list(out)):
            if s.state != "waiting" or s.lane not in wanted:
                continue
            since, cause = wanted[s.lane]
            at = self._rel(since)
            if s.start < at < s.end:  # the wait it was in when it became ready
                out[i] = Span(s.lane, s.start, at, "waiting", s.why)
                out.append(Span(s.lane, at, s.end, "ready", _why_text(cause)))
                del wanted[s.lane]
        out.sort(key=lambda s: (s.start, s.lane))
        return out

    def _base_name(self, key: Any) -> str:
        if key is _HUB:
            return "hub"
        if isinstance(key, _Main):
            return key.name
        return self._capture.names.get(id(key)) or _func_name(key) or type(key).__name__


class _Capture:
    """What a capture does: ``install(tl)`` starts writing ``tl``'s raw records, ``uninstall()`` stops."""

    kind = ""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}  # id(lane key) -> name, found while the lane was alive
        self.tl: ForeignTimeline | None = None

    def install(self, tl: ForeignTimeline) -> None:
        raise NotImplementedError

    def uninstall(self) -> None:
        raise NotImplementedError

    def ready_at_end(self, end: float) -> dict[Any, tuple]:
        """Lanes known ready (since, why) by ``end`` that had not run again: key -> (since, cause)."""
        return {}

    def _record(self, t: float, key: Any, why: Any, since: float | None = None, cause: Any = None) -> None:
        # One switch, in the Timeline's raw format (see timeline.py).
        tl = self.tl
        sw = tl._sw
        if len(sw) >= 3 * tl.cap:
            tl.dropped += 1
            return
        kid = id(key)
        if kid not in tl._keys:
            tl._keys[kid] = key
        if cause is not None:
            tl._sw_extra[len(sw) // 3] = (since, cause)
        sw.append(t)
        sw.append(kid)
        sw.append(why)


# ---------------------------------------------------------------- greenlet loops
class _GreenletCapture(_Capture):
    """eventlet and gevent: a ``greenlet.settrace`` tracer, plus what the hub shows of its timers and polls."""

    #: directories whose frames are the library's, not the program's (for naming lanes)
    _lib_dirs: tuple[str, ...] = ()

    def install(self, tl: ForeignTimeline) -> None:
        self.tl = tl
        self.hub = self._get_hub()
        self.hub_g = self._hub_greenlet()
        self.main_g = greenlet.getcurrent()
        while self.main_g.parent is not None:
            self.main_g = self.main_g.parent
        self.names[id(self.main_g)] = "main"
        cur = greenlet.getcurrent()
        tl._first_key = _HUB if cur is self.hub_g else cur
        tl._keys[id(cur)] = cur
        self.pend: dict[int, tuple] = {}  # id(greenlet) -> (ready since, why) for its next resume
        self.poll_end: float | None = None
        self.unnamed: set[int] = set()
        self.io_pend: dict[int, tuple] = {}  # id(greenlet) -> (fd, READ or WRITE) it parked on, where known
        self._install_hub_hooks()
        self.prev = greenlet.gettrace()
        greenlet.settrace(self._tracer(self.prev))

    def uninstall(self) -> None:
        if os_thread_id() != self.tl._thread:  # settrace is per thread
            raise RuntimeError("stop() must be called from the OS thread that called start()")
        greenlet.settrace(self.prev)
        self.prev = None
        self._remove_hub_hooks()

    def ready_at_end(self, end: float) -> dict[Any, tuple]:
        keys = self.tl._keys
        return {
            keys[kid]: (since, cause)
            for kid, (since, cause) in list(self.pend.items())
            if since is not None and since < end and kid in keys
        }

    # -- per library
    def _get_hub(self) -> Any:
        raise NotImplementedError

    def _hub_greenlet(self) -> Any:
        raise NotImplementedError

    def _install_hub_hooks(self) -> None:
        pass

    def _remove_hub_hooks(self) -> None:
        pass

    def _left(self, origin: Any, t: float) -> Any:
        """Why ``origin`` (suspended, not the hub, not dead) left; may note ``pend`` for its resume."""
        raise NotImplementedError

    def _hint(self, target: Any, origin: Any) -> str | None:
        """A name for a greenlet seen for the first time (None: name it from its frames later)."""
        return None

    # -- shared
    def _frame_name(self, g: Any) -> str | None:
        # The outermost frame of the program's own code: the greenthread's function.
        f, name = g.gr_frame, None
        while f is not None:
            if not f.f_code.co_filename.startswith(self._lib_dirs):
                name = f.f_code.co_qualname.rsplit("<locals>.", 1)[-1]
            f = f.f_back
        return name

    def _poll(self, start: float, end: float) -> None:
        self.poll_end = end
        polls = self.tl._polls
        if len(polls) < self.tl.cap:
            polls.append((start, end))

    def _tracer(self, prev: Any) -> Any:
        # Called by greenlet on every switch, before the target runs: the hot
        # path. The origin is suspended, so its frame says where it parked.
        tl, hub_g = self.tl, self.hub_g
        sw, extra, keys, timers = tl._sw, tl._sw_extra, tl._keys, tl._timers
        append, cap = sw.append, 3 * tl.cap
        pend, unnamed, left, names, main_g = self.pend, self.unnamed, self._left, self.names, self.main_g
        now = clock
        io_pend = self.io_pend

        def trace(event: str, args: Any) -> None:
            try:
                if len(sw) >= cap:
                    tl.dropped += 1
                    return
                origin, target = args
                t = now()
                if origin is hub_g:
                    why = None
                elif origin.dead:
                    why = _EXITED
                else:
                    if unnamed and id(origin) in unnamed:
                        unnamed.discard(id(origin))
                        names[id(origin)] = self._frame_name(origin) or "greenlet"
                    why = left(origin, t)
                if target is hub_g:
                    append(t)
                    append(_HUB_ID)
                    append(why)
                    return
                kid = id(target)
                if kid not in keys:
                    keys[kid] = target  # (keeps it alive, so that the id stays its own)
                    if target is not main_g:  # new: just spawned (or older than the recording)
                        name = self._hint(target, origin)
                        if name is None:
                            unnamed.add(kid)
                        else:
                            names[kid] = name
                        extra[len(sw) // 3] = (None, _SPAWN)
                elif pend and kid in pend:
                    since, cause = pend.pop(kid)
                    if since is None:  # an fd: ready since the poll that reported it
                        since = self.poll_end if self.poll_end is not None else t
                        io = io_pend.pop(kid, None)
                        if io is not None and len(tl._io) < tl.cap:
                            tl._io.append((target, io[0], io[1], since, t))  # (I/O lateness: tl.io)
                    elif cause is _TIMER and len(timers) < tl.cap:
                        timers.append((target, since, t))
                    extra[len(sw) // 3] = (since, cause)
                append(t)
                append(kid)
                append(why)
            except Exception:  # a bug here must not take the program down
                tl.dropped += 1

        if prev is None:
            return trace

        def trace_and_chain(event: str, args: Any) -> None:
            try:
                trace(event, args)
            finally:
                prev(event, args)

        return trace_and_chain


class _EventletCapture(_GreenletCapture):
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
            start = clock()
            try:
                return wait(seconds)
            finally:
                if seconds != 0:
                    self._poll(start, polled.pop() if polled else clock())
                polled.clear()

        def noted_add(*args: Any) -> Any:
            self.listener = listener = add(*args)
            return listener

        hub.wait, hub.add = timed_wait, noted_add
        if do_poll is not None:
            do_poll = do_poll.__get__(hub)

            def timed_do_poll(seconds: Any) -> Any:
                try:
                    return do_poll(seconds)
                finally:
                    self.poll_end = now = clock()
                    polled.append(now)

            hub.do_poll = timed_do_poll
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
        for name in ("wait", "do_poll", "add"):
            self.hub.__dict__.pop(name, None)
        import eventlet.event

        eventlet.event.Event.send = self._send

    def _hint(self, target: Any, origin: Any) -> str | None:
        # eventlet.spawn queues a 0 s timer: Timer.__call__ calls g.switch(func, args, kwargs).
        f = origin.gr_frame if origin is self.hub_g else None
        if f is not None and f.f_code is self._codes[1]:
            loc = f.f_locals
            cb, args = loc.get("cb"), loc.get("args")
            if getattr(cb, "__self__", None) is target and args and callable(args[0]):
                return _func_name(args[0])
        return None

    def _left(self, origin: Any, t: float) -> Any:
        # What eventlet's hub holds says it without a frame, for the common waits:
        lst = self.listener  # trampoline added an fd listener and parks on it
        if lst is not None:
            self.listener = None
            if lst.greenlet is origin:
                self.pend[id(origin)] = (None, ("fd", lst.fileno))
                self.io_pend[id(origin)] = (lst.fileno, READ if lst.evtype == "read" else WRITE)
                return ("read" if lst.evtype == "read" else "write", lst.fileno)
        nt = self.hub.next_timers  # sleep() added a timer that switches back to it: the newest one
        if nt:
            due, timer = nt[-1]
            cb, args, _ = getattr(timer, "tpl", _NO_TPL)
            if not args and getattr(cb, "__self__", None) is origin:  # origin.switch, no args (not a Timeout's throw)
                if timer.seconds <= 0:
                    return _YIELD
                self.pend[id(origin)] = (due, _TIMER)
                return ("sleep", timer.seconds)
        # Anything else (Event.wait, a queue...): named after the caller of hub.switch().
        f = origin.gr_frame
        if f is None:
            return "unknown"
        if f.f_code is self._codes[0] and f.f_back is not None:
            f = f.f_back
        return f.f_code.co_qualname


class _GeventCapture(_GreenletCapture):
    kind = "gevent"

    def _get_hub(self) -> Any:
        import gevent
        import gevent.hub

        self._sleep_code = gevent.hub.sleep.__code__
        lines, first = inspect.getsourcelines(gevent.hub.sleep)
        # sleep(0) parks on the line "waiter.get()"; a timed sleep elsewhere
        self._yield_line = next((first + i for i, line in enumerate(lines) if "waiter.get()" in line), -1)
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

    def _remove_hub_hooks(self) -> None:
        for w in self._watchers:
            w.stop()
            w.close()

    def _hint(self, target: Any, origin: Any) -> str | None:
        name = getattr(target, "name", None)
        if isinstance(name, str) and not name.startswith("Greenlet-"):
            return name  # one the program gave it
        return _func_name(getattr(target, "_run", None))

    def _left(self, origin: Any, t: float) -> Any:
        # The innermost *Python* frame: gevent's waits are compiled code.
        f = origin.gr_frame
        if f is None:
            return "unknown"
        code = f.f_code
        if code is self._sleep_code:
            if f.f_lineno == self._yield_line:
                return _YIELD
            seconds = f.f_locals.get("seconds", 0)
            self.pend[id(origin)] = (t + seconds, _TIMER)
            return ("sleep", seconds)
        if code.co_filename.startswith(self._lib_dirs) and "socket" in code.co_filename:
            self.pend[id(origin)] = (None, _IO)
            return f"{code.co_name} on a socket"
        return f"in {code.co_qualname} line {f.f_lineno}"


# ---------------------------------------------------------------- asyncio
class _ReadyQueue(collections.deque):
    """The loop's ``_ready`` while recording: beside each handle, since when it was ready, and why."""

    def __init__(self, capture: _AsyncioCapture) -> None:
        super().__init__()
        self.capture = capture
        self.since: collections.deque = collections.deque()
        self.cause: collections.deque = collections.deque()

    # (Default arguments bind what these look up on every handle: this is the hot path.)
    def append(
        self,
        handle: Any,
        _append: Any = collections.deque.append,
        _timer: Any = asyncio.TimerHandle,
        _clock: Any = clock,
    ) -> None:
        _append(self, handle)
        if type(handle) is _timer:  # moved here by _run_once once due
            self.since.append(handle._when)
            self.cause.append(_TIMER)
            return
        inherit = self.capture.inherit
        if inherit is not None:  # a loop-internal callback passes its readiness on
            self.since.append(inherit[0])
            self.cause.append(inherit[1])
        else:
            self.since.append(_clock())
            self.cause.append(self.capture.cause)

    def popleft(self, _popleft: Any = collections.deque.popleft) -> Any:
        handle = _popleft(self)
        since, cause = self.since.popleft(), self.cause.popleft()
        if not handle._cancelled and self.capture.on:
            self.capture.enter(handle, since, cause)
        return handle

    def clear(self) -> None:
        collections.deque.clear(self)
        self.since.clear()
        self.cause.clear()


class _AsyncioCapture(_Capture):
    kind = "asyncio"

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__()
        self.explicit = loop
        self.loop: Any = None  # the loop being recorded now
        self.on = False
        self.cur: Any = None  # the lane running now
        self.inherit: tuple | None = None  # (since, cause) of the loop-internal callback running now
        self.cause: Any = _WOKEN
        self._lock = threading.Lock()
        self._tasks = (asyncio.Task, asyncio.tasks._PyTask)
        self._sleep_code = asyncio.sleep.__code__
        self._asyncio_dir = asyncio.__path__[0]
        self._orig_run_forever: Any = None
        self._task_lanes: dict[int, Any] = {}  # id(task) -> its lane key
        self._due: dict[Any, tuple] = {}  # task -> (ready since, why) when its loop stopped, had it not run
        self._sleep_due: dict[int, float] = {}  # id(task) -> when its asyncio.sleep is due
        self._internal: list[Any] = []

    def install(self, tl: ForeignTimeline) -> None:
        self.tl, self.on = tl, True
        self.main = _Main(threading.current_thread().name)  # "MainThread": the code outside the loop
        tl._first_key = self.main
        tl._keys[id(self.main)] = self.main
        self.cur = self.main
        if self.explicit is not None:
            self._attach(self.explicit)
            return
        # Record the loops that start running from now on.
        base = asyncio.BaseEventLoop
        orig = self._orig_run_forever = base.run_forever
        capture = self

        def run_forever(loop: Any) -> Any:
            with capture._lock:
                mine = capture.on and capture.loop is None
                if mine:
                    capture.loop = loop
            if not mine:
                return orig(loop)
            capture._attach(loop)
            try:
                return orig(loop)
            finally:
                capture._detach(loop)

        base.run_forever = run_forever

    def uninstall(self) -> None:
        self.on = False
        if self._orig_run_forever is not None:
            asyncio.BaseEventLoop.run_forever = self._orig_run_forever
            self._orig_run_forever = None
        if self.explicit is not None and os_thread_id() == self.tl._thread:
            self._detach(self.explicit)
        # A loop running in another thread keeps our (now passive) queue until run_forever returns.

    def _attach(self, loop: Any) -> None:
        if not isinstance(loop, asyncio.BaseEventLoop):
            raise TypeError(f"cannot record {type(loop).__name__}: only loops built on asyncio.BaseEventLoop")
        self.loop = loop
        self.tl._thread = os_thread_id()
        self.main.name = threading.current_thread().name  # the lane of the code outside this loop
        ready = _ReadyQueue(self)
        old = loop._ready
        while old:
            ready.append(old.popleft())
        loop._ready = ready
        sel, select = loop._selector, loop._selector.select

        def timed_select(timeout: float | None = None) -> Any:
            if not self.on:
                return select(timeout)
            self.inherit, self.cause = None, _IO  # what the poll reports is ready from its end
            if timeout == 0:  # work is ready: a poll that cannot block (the hub's lane skips it)
                return select(timeout)
            start = clock()
            self._switch(_HUB, start)
            try:
                return select(timeout)
            finally:
                if len(self.tl._polls) < self.tl.cap:
                    self.tl._polls.append((start, clock()))

        sel.select = timed_select

    def ready_at_end(self, end: float) -> dict[Any, tuple]:
        return self._due

    def _snapshot_due(self, loop: Any, now: float) -> None:
        # What was ready when the loop stopped but never ran: steps in the
        # ready queue, and tasks whose sleep was due (asyncio moves a due
        # timer to the ready queue only on its next iteration).
        keys = self.tl._keys
        ready = loop._ready
        if isinstance(ready, _ReadyQueue):
            for handle, since, cause in zip(list(ready), list(ready.since), list(ready.cause), strict=False):
                owner = getattr(handle._callback, "__self__", None)
                if id(owner) in keys and not handle._cancelled:
                    self._due.setdefault(owner, (since, cause))
        for kid, due in list(self._sleep_due.items()):
            if due <= now and kid in keys:
                self._due.setdefault(keys[kid], (due, _TIMER))

    def _detach(self, loop: Any) -> None:
        self.tl._thread = os_thread_id()
        if self.on:
            now = clock()
            self._switch(self.main, now)
            try:
                self._snapshot_due(loop, now)
            except Exception:  # (asyncio's internals: what we read is private)
                pass
        ready = loop._ready
        if isinstance(ready, _ReadyQueue):
            loop._ready = collections.deque(ready)
        loop._selector.__dict__.pop("select", None)
        with self._lock:
            self.loop = None

    def enter(self, handle: Any, since: float, cause: Any) -> None:
        """``_run_once`` is about to run ``handle``: the lane of its task (or callback) is entered."""
        cb = handle._callback
        owner = getattr(cb, "__self__", None)
        if isinstance(owner, self._tasks):  # a step (or wakeup) of a task
            key = self._task_lanes.get(id(owner))
            if key is None:
                key = self._task_lane(owner)
            self.inherit, self.cause = None, _WOKEN
        elif getattr(cb, "__module__", None) is None or cb.__module__.startswith("asyncio"):
            key = _HUB  # the loop's own machinery: a sleep's timer, a transport's reader
            self.inherit = (since, cause)  # ... what it wakes was ready when it was
        else:
            key = getattr(cb, "__func__", cb)  # a plain callback of the program
            self.inherit, self.cause = None, _WOKEN
            if id(key) not in self.names:
                self.names[id(key)] = _func_name(key) or "callback"
        cur = self.cur
        if key is cur and key is _HUB:
            return  # (a task's next step is a switch: it left, ready, and came back)
        t = clock()
        tl = self.tl
        keys = tl._keys
        kid = id(key)
        if key is _HUB:
            cause = None
        elif kid not in keys:
            since, cause = None, _SPAWN
            keys[kid] = key
        else:
            due = self._sleep_due.pop(kid, None) if self._sleep_due else None
            if due is not None and cause is not _TIMER and due < since:
                since, cause = due, _TIMER  # woken another way (cancelled) after its sleep was due
            if cause is _TIMER and len(tl._timers) < tl.cap:
                tl._timers.append((key, since, t))
        self.cur = key
        # Why the lane before left: the common case (a task that yielded) without a call.
        if cur is _HUB:
            why = None
        elif cur.__class__ in self._tasks and cur._fut_waiter is None and not cur.done():
            why = _YIELD
        else:
            why = self._left(cur)
        sw = tl._sw  # (what _record does, inline: this runs once a task step)
        if len(sw) >= 3 * tl.cap:
            tl.dropped += 1
            return
        if cause is not None:
            tl._sw_extra[len(sw) // 3] = (since, cause)
        sw.append(t)
        sw.append(kid)
        sw.append(why)

    def _switch(self, key: Any, t: float) -> None:
        cur = self.cur
        if key is not cur:
            self.cur = key
            self._record(t, key, self._left(cur))

    def _task_lane(self, task: Any) -> Any:
        # A task's lane is the task, named after it (or its coroutine, when
        # asyncio named it "Task-N"); asyncio's own tasks (asyncio.run's
        # shutdown steps) are the loop's work: the hub lane. Decided once a task.
        coro = task.get_coro()
        code = getattr(coro, "cr_code", None)
        if code is not None and code.co_filename.startswith(self._asyncio_dir):
            key = _HUB
            self._internal.append(task)  # (alive while recording, so that its id stays its own)
        else:
            key = task
            name = task.get_name()
            self.names[id(task)] = _func_name(coro) or name if name.startswith("Task-") else name
        self._task_lanes[id(task)] = key
        return key

    def _left(self, lane: Any) -> Any:
        if lane is _HUB or isinstance(lane, _Main):
            return "run_forever" if isinstance(lane, _Main) else None
        if not isinstance(lane, self._tasks):
            return _EXITED  # a callback runs to its end
        if lane.done():
            return _EXITED
        if lane._fut_waiter is None:
            return _YIELD  # a bare yield (asyncio.sleep(0)): the step is queued again
        # Waiting on a future: say on what, from the innermost coroutine of its await chain.
        c = lane.get_coro()
        while True:
            inner = getattr(c, "cr_await", None)
            if inner is None or not hasattr(inner, "cr_code"):
                break
            c = inner
        code = getattr(c, "cr_code", None)
        if code is None:
            return "await"
        if code is self._sleep_code and c.cr_frame is not None:
            delay = c.cr_frame.f_locals.get("delay", 0)
            self._sleep_due[id(lane)] = clock() + delay
            return ("sleep", delay)
        return code.co_qualname.rsplit("<locals>.", 1)[-1]


# ---------------------------------------------------------------- choosing
def detect() -> str:
    """The loop ``record()`` records when not told: eventlet or gevent if its hub exists in this thread or it
    has monkey-patched the program, else minievent. (A running asyncio loop is not a sign: Jupyter runs one.)"""
    from . import hub as _hub

    if _hub.existing_hub() is not None:
        return "minievent"
    ev = sys.modules.get("eventlet.patcher")
    if ev is not None and (
        getattr(sys.modules["eventlet.hubs"]._threadlocal, "hub", None) is not None or ev.is_monkey_patched("socket")
    ):
        return "eventlet"
    gm = sys.modules.get("gevent.monkey")
    gh = sys.modules.get("gevent._hub_local")
    if (gh is not None and gh.get_hub_if_exists() is not None) or (gm is not None and gm.is_module_patched("socket")):
        return "gevent"
    return "minievent"


def capture_for(loop: Any) -> _Capture:
    """The capture for ``loop``: "eventlet", "gevent", "asyncio", or an asyncio loop object."""
    if isinstance(loop, asyncio.AbstractEventLoop):
        return _AsyncioCapture(loop)
    if loop == "eventlet":
        return _EventletCapture()
    if loop == "gevent":
        return _GeventCapture()
    if loop == "asyncio":
        return _AsyncioCapture()
    raise ValueError(f"loop must be one of {LOOPS}, None (detect) or an asyncio loop, not {loop!r}")


def timeline_for(loop: Any = None, cap: int = DEFAULT_CAP) -> Timeline:
    """A new, unstarted recorder of ``loop`` (as ``minievent.record(loop=...)`` takes it; None: ``detect()``)."""
    if loop is None:
        loop = detect()
    if loop == "minievent":
        return Timeline(cap)
    return ForeignTimeline(capture_for(loop), cap)
