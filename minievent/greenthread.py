"""Greenthreads: greenlets that the hub schedules, with eventlet's API.

``spawn(fn)`` makes a ``GreenThread`` -- a greenlet whose parent is the hub --
and puts its start on the hub's ready queue. It first runs when the spawning
code next waits (nothing preempts the spawner). When it finishes, control
falls back to its parent, the hub, which carries on with whatever is ready.

A greenthread that raises does not stop anything else: its traceback is
printed once, and the exception is kept for whoever calls ``.wait()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import greenlet

from .hub import YIELD, Timer, get_hub, os_thread_id, report
from .waiter import WaitQueue

__all__ = [
    "GreenThread",
    "GreenThreadStatistics",
    "spawn",
    "spawn_n",
    "spawn_after",
    "spawn_after_local",
    "sleep",
    "kill",
    "getcurrent",
]

GreenletExit = greenlet.GreenletExit
_getcurrent = greenlet.getcurrent


def getcurrent() -> Any:
    """The running greenthread (a ``GreenThread``), or the raw greenlet (main, hub) outside one."""
    g = greenlet.getcurrent()
    return getattr(g, "gt", None) or g


def sleep(seconds: float = 0) -> None:
    """Yield to the hub for at least ``seconds``; ``sleep(0)`` just lets the others run.

    This is the only way a CPU-bound greenthread lets the heartbeat in.
    """
    cur = _getcurrent()
    try:
        hub = cur.hub  # a worker greenlet carries its hub (_work): no look-up of the thread's
    except AttributeError:  # the main greenlet, or a greenlet made by hand
        hub = get_hub()
    if seconds <= 0:
        hub.park(YIELD, cur)  # the hot path: to the back of the ready queue, no timer
        return
    timer = hub.schedule_call(seconds, cur.switch)
    try:
        hub.park(("sleep", seconds), cur)
    finally:
        timer.cancel()  # no-op when it fired; killed, we mark it cancelled (it leaves the heap later, unfired)


def _work() -> None:
    """The body of a worker greenlet: it runs greenthreads one after another.

    Starting a brand-new greenlet is the most expensive thing a greenthread
    library does (about 6 us here: greenlet gives each one its own Python
    frame stack). A greenthread that finishes without having blocked leaves
    its worker idle, and the next ``spawn`` reuses it -- the same idea as a
    thread pool, one level down. The worker's ``gt`` is the greenthread it
    runs now. (A plain greenlet, not a subclass: greenlet checks the type of
    what it switches to, and a subclass costs a slower check on every switch.)
    """
    worker = _getcurrent()
    # The first greenthread comes in worker.gt, not as an argument: greenlet
    # keeps run's arguments alive for as long as it runs, i.e. forever.
    gt = worker.gt
    hub = worker.hub = gt._hub  # (sleep finds it here)
    idle = hub.idle_workers
    while True:
        worker.gt = gt
        gt._worker = worker
        gt._run()
        worker.gt = None
        # Parked until _start hands us the next one; meanwhile we must not
        # keep the last one alive (its result, its traceback's frames): the
        # reason names it by number only.
        done = ("done", id(gt))
        gt = None
        if len(idle) < MAX_IDLE_WORKERS:
            idle.append(worker)
        else:  # enough spares: once we have parked, the hub ends this greenlet (GreenletExit)
            hub.schedule(worker.throw)
        gt = hub.park(done)


#: How many finished worker greenlets a hub keeps for reuse.
MAX_IDLE_WORKERS = 1024


class GreenThreadStatistics(NamedTuple):
    """What ``GreenThread.statistics()`` reports."""

    waiting: int  # greenthreads parked in its wait()


class GreenThread:
    """A greenthread: ``wait()`` for its result, ``kill()`` it, ``link()`` to its end.

    Unlike eventlet's, it is not itself a greenlet: it runs on a worker
    greenlet (see ``_work``), which is why ``minievent.getcurrent()``
    returns the greenthread, not the greenlet under it.
    """

    def __init__(self, hub: Any, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        if not callable(fn):
            raise TypeError(f"spawn() needs a callable, not {type(fn).__name__}")
        self._fn, self._args, self._kwargs = fn, args, kwargs  # (None once it has started: not kept alive)
        self.name: str = getattr(fn, "__name__", None) or repr(fn)
        self._hub = hub
        self._worker: greenlet.greenlet | None = None  # the worker greenlet it runs on, once started (_work)
        self._exit: tuple[bool, Any] | None = None  # (ok, result or exception), once ended
        self._waiters: WaitQueue | None = None  # made on the first wait(): most greenthreads have none
        self._links: list[tuple] | None = None  # link()'s callbacks
        self._start_timer: Timer | None = None  # spawn_after's timer
        self._kill_before_start: tuple | None = None  # (exc,) if killed before it ran

    def __repr__(self) -> str:
        state = (
            "dead"
            if self._exit is not None
            else "pending"
            if self._worker is None
            else "running"
            if self._worker is greenlet.getcurrent()
            else "waiting"
        )
        return f"<GreenThread {self.name!r} {state}>"

    def _start(self) -> None:
        # A ready entry: borrow an idle worker greenlet, or make one.
        idle = self._hub.idle_workers
        if idle:
            idle.pop().switch(self)
        else:
            worker = greenlet.greenlet(_work, self._hub.greenlet)
            worker.gt = self  # (its first greenthread: see _work)
            worker.switch()

    def _run(self) -> None:
        if self._kill_before_start is not None:
            # Killed before it ever ran: the function is never called.
            self._fn = self._args = self._kwargs = None
            self._finish(False, _exception(self._kill_before_start))
            return
        fn, args, kwargs = self._fn, self._args, self._kwargs
        self._fn = self._args = self._kwargs = None
        try:
            result = fn(*args, **kwargs)
        except (GreenletExit, KeyboardInterrupt, SystemExit) as e:
            self._finish(False, e)
            if not isinstance(e, GreenletExit):
                raise  # falls to the hub, which throws it into the main greenlet
        except BaseException as e:
            # Print it once, here, where the traceback is whole; wait() re-raises it.
            if self._hub.print_exceptions:
                report(f"greenthread {self.name!r} raised")
            self._finish(False, e)
        else:
            self._finish(True, result)

    def _finish(self, ok: bool, value: Any) -> None:
        self._exit = (ok, value)
        if self._waiters is not None:
            self._waiters.wake_all()
        links, self._links = self._links, None
        interrupt = None
        for fn, args, kwargs in links or ():
            try:
                fn(self, *args, **kwargs)
            except (KeyboardInterrupt, SystemExit) as e:
                interrupt = e  # the main greenlet's business, once every link is told
            except BaseException:
                report(f"link callback {fn!r} of {self.name!r} raised")
        if interrupt is not None:
            raise interrupt

    # ------------------------------------------------------------ public API
    @property
    def dead(self) -> bool:
        """True once the greenthread has finished, however it finished."""
        return self._exit is not None

    def __bool__(self) -> bool:
        """True while started and not yet finished (as for a greenlet)."""
        return self._worker is not None and self._exit is None

    def wait(self) -> Any:
        """Return the function's result, or raise what it raised (``GreenletExit`` if killed)."""
        if self._exit is None:
            if getcurrent() is self:
                raise RuntimeError(f"{self!r} cannot wait for itself")
            _check_thread(self, "wait for")
            if self._waiters is None:
                self._waiters = WaitQueue()
            self._waiters.wait(why=("greenthread", self))
        ok, value = self._exit  # type: ignore[misc]
        if ok:
            return value
        raise value

    def statistics(self) -> GreenThreadStatistics:
        """How many greenthreads wait for it now (trio's ``statistics()``: a snapshot, for tests and operators)."""
        return GreenThreadStatistics(len(self._waiters or ()))

    def link(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Call ``fn(gt, *args, **kwargs)`` when this greenthread ends (at once if it has)."""
        if self._exit is not None:
            fn(self, *args, **kwargs)
            return
        _check_thread(self, "link to")
        if self._links is None:
            self._links = []
        self._links.append((fn, args, kwargs))

    def unlink(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        found = bool(self._links) and (fn, args, kwargs) in self._links
        if found:
            self._links.remove((fn, args, kwargs))  # type: ignore[union-attr]
        return found

    def kill(self, *throw_args: Any) -> None:
        """Raise ``GreenletExit`` (or ``throw_args``) in this greenthread; the caller yields once.

        A greenthread that has not started never runs its function. Whatever
        it was waiting on (timer, fd, event) is cleaned up by its ``finally``
        blocks as the exception unwinds.
        """
        kill(self, *throw_args)

    throw = kill  # eventlet's greenthread is a greenlet, whose throw() this is

    def cancel(self, *throw_args: Any) -> None:
        """Kill it only if it has not started yet (a ``spawn_after`` still waiting, say)."""
        if self._worker is None:
            kill(self, *throw_args)

    def throw_later(self, exc: BaseException) -> None:
        """Raise ``exc`` in this greenthread when the hub next gets to it (if it still runs)."""
        worker = self._worker

        def throw() -> None:
            # The worker may have finished this greenthread and moved on to
            # another by now: never throw into the wrong one.
            if worker is not None and worker.gt is self and self._exit is None:
                worker.throw(exc)

        self._hub.schedule(throw)


def kill(gt: GreenThread, *throw_args: Any) -> None:
    """Kill ``gt``: see ``GreenThread.kill``. Killing a dead greenthread does nothing."""
    if not isinstance(gt, GreenThread):
        raise TypeError(f"kill() takes a GreenThread, not {type(gt).__name__}")
    if gt._exit is not None:
        return
    hub = gt._hub
    if get_hub() is not hub:
        raise RuntimeError(f"{gt!r} belongs to another OS thread's hub")
    exc = _exception(throw_args or (GreenletExit,))
    cur = greenlet.getcurrent()
    if gt._worker is None:  # not started yet: it dies on its first step, fn never called
        gt._kill_before_start = (exc,)
        if gt._start_timer is not None and gt._start_timer.pending:
            gt._start_timer.cancel()
            hub.schedule(gt._start)
    elif gt._worker is cur:
        raise exc
    else:
        gt.throw_later(exc)
    if cur is not hub.greenlet:
        sleep(0)  # let it happen before we go on, as eventlet does


def _check_thread(gt: GreenThread, what: str) -> None:
    # Its wake-up would land in another thread's hub, which does not know it
    # has to look: a hang (or a misleading LoopExit) instead of an error.
    if gt._hub.thread_id != os_thread_id():
        raise RuntimeError(
            f"cannot {what} {gt!r} from this thread: it belongs to another OS thread's hub "
            "(use tpool, or hub.call_threadsafe, to talk across threads)"
        )


def _exception(throw_args: tuple) -> BaseException:
    """``(ExcClass,)``, ``(ExcClass, arg)`` or ``(exc,)`` as greenlet.throw takes them -> an instance."""
    first = throw_args[0]
    if isinstance(first, BaseException):
        return first
    if len(throw_args) > 1 and isinstance(throw_args[1], BaseException):
        return throw_args[1]
    return first(*throw_args[1:2])


def spawn(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> GreenThread:
    """Start ``fn(*args, **kwargs)`` in a new greenthread; it runs once the caller yields."""
    hub = get_hub()
    gt = GreenThread(hub, fn, args, kwargs)
    hub.schedule(gt._start)
    return gt


#: eventlet's fire-and-forget spawn; the same here (it returns the greenthread too, as eventlet's a greenlet).
spawn_n = spawn


def spawn_after(seconds: float, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> GreenThread:
    """Start ``fn`` in a new greenthread after ``seconds``; ``kill()`` before then cancels it."""
    return _spawn_later("schedule_call", seconds, fn, args, kwargs)


def spawn_after_local(seconds: float, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> GreenThread:
    """Like ``spawn_after``, but nothing starts if the calling greenthread has ended by then."""
    return _spawn_later("schedule_call_local", seconds, fn, args, kwargs)


def _spawn_later(how: str, seconds: float, fn: Callable[..., Any], args: tuple, kwargs: dict) -> GreenThread:
    hub = get_hub()
    gt = GreenThread(hub, fn, args, kwargs)
    gt._start_timer = getattr(hub, how)(seconds, gt._start)
    return gt
