"""The hub: the one loop that decides which greenthread runs next.

A greenthread never switches to another greenthread. When it must wait (a
sleep, a socket that is not ready, an event not yet set) it registers *how it
wants to be woken* -- a timer, an fd listener, a waiter -- and switches to the
hub. The hub runs in a greenlet of its own and loops over three phases:

1. **poll**: ask the kernel which fds are ready. Don't block if something is
   already ready to run; otherwise block until the nearest timer is due.
2. **timers**: every timer whose deadline has passed becomes ready, at the
   *front* of the queue: it is overdue already.
3. **run**: call what is ready, in FIFO order. This is the *only* place where
   greenthreads are resumed and callbacks are called.

Three single points carry all scheduling, so an instrument (the recorder,
``minievent.instrument``) has exactly three places to hook, and costs one
falsy check at each (``False``) when none is installed:

* ``schedule(entry)``: the one way anything becomes ready;
* ``park(why)``: the one place a greenthread switches to the hub, saying why
  (a cheap tuple, made into text only if somebody reads it);
* the resume in the run phase.

Ready entries are plain callables: ``greenlet.switch`` for the cheapest wake-up
(``sleep(0)``), or a ``Timer`` / ``Listener`` / ``Waiter``, which check on call
whether they were cancelled in the meantime. That check is what makes a
greenthread that is woken by two things at once (its data arrived *and* its
timeout expired) resume exactly once.

There is one hub per OS thread (``get_hub()``); its greenlet's parent is the
thread's main greenlet. If the main greenlet waits for something that nothing
can deliver -- nothing ready, no timers, no fds -- the hub throws ``LoopExit``
into it rather than sleep forever.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import sys
import threading
import time
import traceback
import types
import warnings
from _thread import get_ident as os_thread_id  # the OS thread's ident, even once monkey_patch() greens threading's
from collections import deque
from collections.abc import Callable
from typing import Any

import greenlet

from .hubcompat import HubCompat
from .instrument import Instrument
from .poller import POLLERS, READ, WRITE, Poller, default_poller
from .waker import Waker
from .wording import why_text

__all__ = ["Hub", "Timer", "Listener", "LoopExit", "BlockingSwitchOutError", "get_hub", "READ", "WRITE"]

_getcurrent = greenlet.getcurrent  # the raw greenlet (minievent.getcurrent gives the GreenThread)
clock = time.monotonic
#: The type of a bare ``greenlet.switch`` entry, as ``sleep(0)`` queues: no ``resumed`` hook for it.
_SWITCH = type(greenlet.getcurrent().switch)
#: ``park(YIELD)``: the greenthread stays ready, at the back of the ready queue (``sleep(0)``).
YIELD = "sleep(0)"

#: The longest the hub blocks in one poll (seconds); a later timer just means another poll.
MAX_POLL_TIMEOUT = 3600.0
#: Run at most this many ready entries between two looks at the clock for due timers.
SLICE = 64
_SLICE_MASK = SLICE - 1  # (SLICE is a power of two: `left & mask` is the cheap `left % SLICE`)
#: Rebuild the timer heap once this many cancelled timers sit in it (and they are the majority).
MAX_CANCELLED_TIMERS = 256


class LoopExit(Exception):
    """The main greenlet waits for something that nothing can ever deliver."""


class BlockingSwitchOutError(RuntimeError):
    """A blocking call was made from inside the hub (e.g. in a timer callback)."""


def report(what: str) -> None:
    """Print the exception being handled, after what raised it (a greenthread, a callback); the program goes on."""
    print(f"minievent: {what}:", file=sys.stderr)
    traceback.print_exc()


def _nothing() -> None:
    """A voided ready entry, and what a cancelled ``Timer`` holds instead of its callback."""


class Timer:
    """``fn(*args)``, due ``seconds`` after it is scheduled, at ``deadline`` (``time.monotonic()`` seconds).

    ``hub.schedule_call`` makes and schedules one; eventlet's way is ``Timer(seconds, fn, *args)``,
    then ``schedule()`` (or ``hub.add_timer``). ``cancel()`` is safe any time.
    """

    __slots__ = ("seconds", "deadline", "fn", "args", "hub", "cancelled", "called")

    def __init__(self, seconds: float, fn: Callable[..., Any], *args: Any) -> None:
        self.seconds = seconds
        self.fn = fn
        self.args = args
        self.hub: Hub | None = None
        self.deadline = float("inf")  # (until it is scheduled)
        self.cancelled = False
        self.called = False

    def __call__(self) -> None:
        # Called by the hub's run phase. A timer cancelled after it became due
        # but before the hub got to it must not fire: check again here.
        if not self.cancelled and not self.called:
            self.called = True
            self.fn(*self.args)

    @property
    def pending(self) -> bool:
        return not (self.cancelled or self.called)

    def cancel(self) -> None:
        if not self.cancelled and not self.called:
            # It may sit in the heap until its deadline: don't keep what it would have called alive.
            self.cancelled, self.fn, self.args = True, _nothing, ()
            if self.hub is not None:
                self.hub._timer_cancelled()

    @property
    def tpl(self) -> tuple[Callable[..., Any], tuple, dict]:
        """eventlet's ``(callback, args, kwargs)``."""
        return self.fn, self.args, {}

    def copy(self) -> Timer:
        """A new, unscheduled timer for the same call."""
        return Timer(self.seconds, self.fn, *self.args)

    def schedule(self) -> Timer:
        """Schedule it on this thread's hub."""
        return get_hub().add_timer(self)

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled else "called" if self.called else "pending"
        return f"<Timer {state} due={self.deadline:.6f} fn={getattr(self.fn, '__qualname__', self.fn)!r}>"


class Listener:
    """Somebody waiting for ``fd`` to be readable (``READ``) or writable (``WRITE``)."""

    __slots__ = ("evtype", "fd", "cb", "active", "greenlet")

    def __init__(self, evtype: int, fd: int, cb: Callable[[], Any]) -> None:
        self.evtype = evtype
        self.fd = fd
        self.cb = cb
        self.active = True
        self.greenlet = _getcurrent()

    def __call__(self) -> None:
        if self.active:
            self.cb()

    def __repr__(self) -> str:
        kind = "read" if self.evtype == READ else "write"
        return f"<Listener {kind} fd={self.fd} {'active' if self.active else 'removed'}>"


class Hub(HubCompat):
    """The event loop of one OS thread. Use ``get_hub()`` rather than making one."""

    def __init__(self, poller: Poller | None = None) -> None:
        self.poller = poller if poller is not None else default_poller()
        self.ready: deque[Callable[[], Any]] = deque()
        self.timers: list[tuple[float, int, Timer]] = []  # a heap
        self._timer_seq = 0
        self._cancelled = 0  # cancelled timers still sitting in the heap
        self.readers: dict[int, Listener] = {}
        self.writers: dict[int, Listener] = {}
        self.keepalive = 0  # >0: something outside (a tpool thread) will wake us
        self.main = _getcurrent()
        while self.main.parent is not None:  # up to the root: the thread's main greenlet
            self.main = self.main.parent
        self.thread_id = os_thread_id()
        self.greenlet = greenlet.greenlet(self.run, parent=self.main)
        self.idle_workers: list[greenlet.greenlet] = []  # finished worker greenlets, for reuse
        self.instruments: tuple[Instrument, ...] = ()  # add_instrument() / remove_instrument()
        self._rebuild_hooks()  # (the hub's lists of hooks to call: none yet)
        self.print_exceptions = True  # a greenthread's uncaught error is printed (debug.hub_exceptions)
        self.main_why: Any = None  # what the main greenlet parked for (named by LoopExit)
        # The doorbell other OS threads ring (call_threadsafe). Made now, in
        # this thread: registering it later from another thread would race
        # with a poll that is already blocked.
        self._waker = Waker()
        self._inbox: deque[Callable[[], Any]] = deque()
        self._closed = False
        self._internal_fds = {self.add(READ, self._waker.fileno(), self._drain_inbox).fd}  # the hub's own fds

    def __repr__(self) -> str:
        return (
            f"<Hub poller={self.poller.name} ready={len(self.ready)} "
            f"timers={len(self.timers) - self._cancelled} listeners={len(self.listeners())}>"
        )

    # ------------------------------------------------------------ the three single points
    def schedule(self, entry: Callable[[], Any]) -> None:
        """Make ``entry`` ready: the run phase calls it soon, in FIFO order. The one way in."""
        self.ready.append(entry)
        if self._on_scheduled and type(entry) is not Listener:  # (after_poll announces those)
            self._call_hooks("scheduled", self._on_scheduled, entry)

    def park(self, why: Any = None, cur: greenlet.greenlet | None = None) -> Any:
        """Switch from the current greenthread to the hub until an entry resumes it; the one way out.

        ``why`` is what it waits for, as a cheap tuple (``("sleep", 0.5)``,
        ``("read", fd)``...): LoopExit names it, the recorder files it, nobody
        formats it unless asked. ``YIELD`` parks and stays ready: the
        greenthread's own resume goes to the back of the ready queue (the one
        entry that is not made ready by ``schedule``: a yield is ready from the
        moment it parks, which ``parked`` already says). Returns what the
        greenthread is resumed with. From the hub itself (a callback) a wait
        is a ``BlockingSwitchOutError``; a yield just returns. ``cur``: the
        current greenlet, from a caller that has it at hand already.
        """
        if cur is None:
            cur = _getcurrent()
        if why is YIELD:  # (first: sleep(0) is the hottest path)
            try:
                self.ready.append(cur._resume)
            except AttributeError:  # its first yield: keep its bound switch (one made per yield costs an allocation)
                if cur is self.greenlet:  # sleep(0) in a hub callback (the hub's greenlet gets none): no wait, nothing
                    return None  # to yield to (as eventlet)
                cur._resume = cur.switch
                self.ready.append(cur._resume)
        elif cur is self.greenlet:
            raise BlockingSwitchOutError(
                "a blocking call (sleep, socket wait, event wait...) was made from inside "
                "the hub, e.g. in a schedule_call callback; spawn a greenthread for it instead"
            )
        elif cur is self.main:
            self.main_why = why
        if self._on_parked:  # (the hottest hook: one call, no loop; several instruments: _rebuild_hooks)
            hook = self._on_parked
            try:
                hook(cur, why)
            except Exception:
                self._hook_failed("parked", hook)
        try:
            return self.greenlet.switch()
        except BaseException:
            if why is YIELD:
                # Thrown into (Timeout, KeyboardInterrupt) before our turn came:
                # void our resume entry, or it would wake whatever we wait on next.
                self._void_resume(cur)
            raise

    def _void_resume(self, g: greenlet.greenlet) -> None:
        """Void ``g``'s queued ``sleep(0)`` resume, if any (not removed: the run phase may be counting it down)."""
        with contextlib.suppress(ValueError):
            self.ready[self.ready.index(g.switch)] = _nothing

    switch = park  # eventlet's name

    # ------------------------------------------------------------ instruments
    def add_instrument(self, instrument: Instrument) -> None:
        """Start calling ``instrument``'s hooks (see ``minievent.instrument``); installed already: nothing."""
        if instrument not in self.instruments:
            self.instruments += (instrument,)
            self._rebuild_hooks()

    def remove_instrument(self, instrument: Instrument) -> None:
        """Stop calling ``instrument``'s hooks; ``KeyError`` if it is not installed (as trio's)."""
        if instrument not in self.instruments:
            raise KeyError(f"{instrument!r} is not installed on this hub")
        self.instruments = tuple(i for i in self.instruments if i is not instrument)
        self._rebuild_hooks()

    def _rebuild_hooks(self) -> None:
        # Per hook, the bound methods of the instruments that override it, in new lists, never changed
        # in place: a loop over the old ones (a hook removing an instrument) runs to its end, and whoever
        # reads the hub's lists next sees the new ones. No hook: False, the cheapest falsy test (an empty
        # list's costs a length call, twice a switch).
        def hooks(name: str) -> list[Any] | bool:
            overriding = (i for i in self.instruments if getattr(type(i), name) is not getattr(Instrument, name))
            return [getattr(i, name) for i in overriding] or False

        def direct(name: str) -> Any:  # (a hook called at every switch: the one hook itself, no loop,
            found = hooks(name)  # or one that calls each of several)
            return found and (found[0] if len(found) == 1 else functools.partial(self._call_hooks, name, found))

        self._on_scheduled = hooks("scheduled")
        self._on_before_poll = hooks("before_poll")
        self._on_after_poll = hooks("after_poll")
        self._on_parked = direct("parked")
        self._on_resumed = direct("resumed")

    def _call_hooks(self, name: str, hooks: Any, *args: Any) -> None:
        """Call each of ``hooks(*args)``; one that raises is removed (its instrument with it), with a warning."""
        for hook in hooks:
            try:
                hook(*args)
            except Exception:
                self._hook_failed(name, hook)

    def _hook_failed(self, name: str, hook: Any) -> None:
        # An observer that fails must not break the program it observes: its instrument goes, with a warning.
        if type(hook) is functools.partial:  # (park's caller of several hooks: it removed the one that failed,
            raise  # and what got out is its warning, made an error by a warnings filter)
        if hook.__self__ in self.instruments:
            self.remove_instrument(hook.__self__)
        message = f"minievent: instrument {hook.__self__!r} raised in {name}(), so it was removed:\n"
        warnings.warn(message + traceback.format_exc(), RuntimeWarning, stacklevel=3)

    # ------------------------------------------------------------ timers
    def schedule_call(self, seconds: float, fn: Callable[..., Any], *args: Any) -> Timer:
        """Call ``fn(*args)`` from the hub after ``seconds``; returns a cancellable ``Timer``."""
        return self.add_timer(Timer(seconds, fn, *args))

    # eventlet's names for the same things
    schedule_call_global = schedule_call
    clock = staticmethod(clock)

    def add_timer(self, timer: Timer) -> Timer:
        """Schedule ``timer`` (once: a timer belongs to one hub) ``timer.seconds`` from now."""
        if timer.hub is not None or timer.cancelled:
            raise RuntimeError(f"{timer!r} was scheduled or cancelled already; schedule a copy() of it")
        seconds = timer.seconds
        if seconds != seconds:  # a NaN deadline would never come due, nor ever stop the loop spinning
            raise ValueError("Invalid value NaN (not a number)")
        timer.hub, timer.deadline = self, clock() + max(seconds, 0.0)
        self._timer_seq += 1
        heapq.heappush(self.timers, (timer.deadline, self._timer_seq, timer))
        return timer

    def _timer_cancelled(self) -> None:
        # Cancelled timers stay in the heap (removing from the middle of a heap
        # is O(n)) until they reach the top -- unless they pile up: then rebuild.
        self._cancelled += 1
        if self._cancelled > MAX_CANCELLED_TIMERS and self._cancelled > len(self.timers) // 2:
            self.timers = [e for e in self.timers if not e[2].cancelled]
            heapq.heapify(self.timers)
            self._cancelled = 0

    # ------------------------------------------------------------ fds
    def add(self, evtype: int, fd: int, cb: Callable[[], Any], rearm: bool = False) -> Listener:
        """Call ``cb`` (from the hub) when ``fd`` is ready for ``evtype`` (READ or WRITE).

        One reader and one writer per fd: a second simultaneous waiter is a bug
        (two greenthreads reading one socket would steal each other's data), so
        it raises ``RuntimeError`` instead of hanging one of them.
        ``rearm=True`` makes an edge-triggered poller report the fd at once if
        it is ready now; callers that did not just see EAGAIN need it.
        """
        if not isinstance(fd, int):
            raise TypeError(f"fd must be an int, not {type(fd).__name__}")
        if fd < 0:
            raise ValueError(f"invalid file descriptor {fd}")
        table = self.readers if evtype == READ else self.writers
        if fd in table:
            raise RuntimeError(
                f"second simultaneous {'read' if evtype == READ else 'write'} on fd {fd}: "
                f"{table[fd].greenlet!r} is already waiting on it"
            )
        self.poller.watch(fd, evtype == READ or fd in self.readers, evtype == WRITE or fd in self.writers)
        if rearm:
            self.poller.rearm(fd)
        listener = table[fd] = Listener(evtype, fd, cb)
        return listener

    def remove(self, listener: Listener) -> None:
        """Stop ``listener``; safe to call twice, and after the hub already woke it."""
        listener.active = False
        fd = listener.fd
        table = self.readers if listener.evtype == READ else self.writers
        if table.get(fd) is listener:
            del table[fd]
            if not self.poller.edge_triggered:  # level-triggered pollers must drop interest
                self.poller.watch(fd, fd in self.readers, fd in self.writers)

    def listeners(self) -> list[Listener]:
        """Every fd listener a greenthread registered (the hub's own waker left out)."""
        return [x for t in (self.readers, self.writers) for fd, x in t.items() if fd not in self._internal_fds]

    def notify_close(self, fd: int) -> None:
        """``fd`` is about to be closed: wake its waiters (they will see EBADF) and forget it.

        Without this, a greenthread blocked on a socket that another greenthread
        closes would wait forever, and a new socket given the same fd number
        could wake it by mistake.
        """
        for table in (self.readers, self.writers):
            listener = table.pop(fd, None)
            if listener is not None:
                self.schedule(listener)
        self.poller.forget(fd)

    # ------------------------------------------------------------ threads
    def call_threadsafe(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` in this hub soon; may be called from any OS thread."""
        # Not schedule(): an instrument's hooks run in the hub's thread only. The
        # doorbell's listener moves the inbox onto the ready queue (deque.append is atomic).
        self._inbox.append(functools.partial(fn, *args))
        self._waker.wake()

    def _drain_inbox(self) -> None:
        self._waker.drain()
        while self._inbox:
            self.schedule(self._inbox.popleft())

    def close(self) -> None:
        """Release the poller and the waker fd (the hub is unusable afterwards). Safe to call twice."""
        if self._closed:
            return  # a second os.close could hit an fd number that now belongs to someone else
        self._closed = True
        self.poller.close()
        self._waker.close()

    # ------------------------------------------------------------ the loop
    def run(self) -> None:
        """The hub greenlet's body: loop forever (``_loop``); hand Ctrl-C to the main greenlet."""
        while True:
            try:
                self._loop()
            except greenlet.GreenletExit:
                raise  # the thread is ending and its hub is being collected
            except BaseException as e:
                # Ctrl-C while we sat in poll, or a poller error: it is the main
                # greenlet's business. The loop itself carries on, so the hub
                # greenlet never dies and sleep(0) need not check that it did.
                self.main.throw(e)

    def _loop(self) -> None:
        """Turn after turn, three phases (the module docstring says why each is as it is).

        1. poll the fds: without blocking when something is ready (not at all when no fd is
           watched), else until the next live timer is due; nothing that could ever wake
           anyone (no timer, no fd, no tpool call): ``LoopExit`` in the main greenlet;
        2. due timers to the front of the ready queue;
        3. run the entries ready now, oldest first: ``entry()`` is the one resume point.
        """
        ready = self.ready
        popleft = ready.popleft
        poll = self.poller.poll
        readers = self.readers
        writers = self.writers
        inbox = self._inbox
        internal = len(self._internal_fds)  # (the waker's: no greenthread waits on it)
        while True:
            timers = self.timers  # (_timer_cancelled may have rebuilt it)
            while timers and timers[0][2].cancelled:  # only live timers count, below
                heapq.heappop(timers)
                self._cancelled -= 1

            # ---- phase 1: poll the fds ------------------------------------------
            # (watched: an fd a greenthread waits on, or a call another OS thread rang the waker for:
            # else two greenthreads that only sleep(0) would keep tpool's results out for as long as they run)
            watched = len(readers) > internal or writers or inbox
            if not ready or watched:
                if ready:
                    timeout = 0.0
                elif timers:  # (capped: epoll and select overflow on huge timeouts such as sleep(1e10))
                    timeout = min(max(0.0, timers[0][0] - clock()), MAX_POLL_TIMEOUT)
                elif watched or self.keepalive:
                    timeout = None
                else:
                    self._loop_exit()  # nothing can ever wake anyone
                    continue
                if watched or timeout != 0.0:
                    if self._on_before_poll:
                        self._call_hooks("before_poll", self._on_before_poll, timeout)
                    events = poll(timeout)
                    if self._on_after_poll:
                        self._call_hooks("after_poll", self._on_after_poll, events)
                    self._schedule_listeners(events)

            # ---- phase 2: due timers, to the front of the ready queue -----------
            ndue = self._move_due_timers(timers) if timers and timers[0][0] <= clock() else 0

            # ---- phase 3: run what is ready now, oldest first -------------------
            # What these entries make ready waits for the next turn, so two busy sleep(0)ers
            # can't starve I/O; a long backlog is cut into slices so due timers are not held up.
            left = len(ready)
            rest = left - ndue  # entries behind the due timers
            while left > 0:  # (not `while left`: a comparison of two ints has a fast path, an int's truth not)
                left -= 1
                entry = popleft()
                if self._on_resumed and type(entry) is not _SWITCH:  # (a yield's resume: its park says it)
                    hook = self._on_resumed  # (kept: a failing hook's removal rebuilds the attribute)
                    try:
                        hook(entry)
                    except Exception:
                        self._hook_failed("resumed", hook)
                try:
                    entry()  # <- the one place greenthreads are resumed and callbacks called
                except (KeyboardInterrupt, SystemExit) as e:
                    self.main.throw(e)  # they belong to the main greenlet
                except BaseException:
                    self.handle_error(entry)
                # (never while this batch's due timers still wait: timers due later would go in front)
                if not left & _SLICE_MASK and left <= rest and timers and timers[0][0] <= clock():
                    break

    def _schedule_listeners(self, events: list[tuple[int, int]]) -> None:
        """Make ready the listeners of the fds the poll reported: for each fd, its reader, then its writer."""
        readers = self.readers
        writers = self.writers
        for fd, bits in events:
            if bits & READ and fd in readers:
                self.schedule(readers[fd])
            if bits & WRITE and fd in writers:
                self.schedule(writers[fd])

    def _move_due_timers(self, timers: list[tuple[float, int, Timer]]) -> int:
        """Move the due timers to the front of the ready queue, in deadline order; how many.

        They are overdue already: behind a long backlog (10,000 fresh spawns, say) they would be
        later still. Not through ``schedule``: a timer says itself since when it is ready.
        """
        now = clock()
        due = []
        while timers and timers[0][0] <= now:
            timer = heapq.heappop(timers)[2]
            if timer.cancelled:
                self._cancelled -= 1
            else:
                due.append(timer)
        self.ready.extendleft(reversed(due))  # (the list goes with this frame: fired timers are not kept)
        return len(due)

    def handle_error(self, entry: Any) -> None:
        """A callback raised: print it once (unless ``set_timer_exceptions(False)``) and keep the loop running."""
        if self.print_exceptions:
            report(f"exception in hub callback {entry!r}")

    def _loop_exit(self) -> None:
        why = "something" if self.main_why is None else why_text(self.main_why)
        self.main.throw(
            LoopExit(
                f"the main greenlet waits for {why}, but nothing can deliver it: "
                "no greenthread is ready, no timer is pending and no fd is watched"
            )
        )


#: This OS thread's slot: ``current.hub`` is its hub, once ``get_hub()`` has made one. Green socket
#: waits read it directly; ``sleep`` asks the worker greenlet it runs on; everything else calls ``get_hub()``.
current = threading.local()


class _CloseAtThreadExit:
    """Lives in the thread-local beside the hub: when the thread ends, its locals go, and this closes
    the hub's poller and waker fds (the hub itself sits in a reference cycle with its greenlet, so
    it is not freed promptly, and a greenlet of a dead thread never is)."""

    __slots__ = ("hub",)  # (get_hub sets it)

    def __del__(self, _suppress: Any = contextlib.suppress) -> None:  # (bound now: at exit, globals are None)
        with _suppress(Exception):
            self.hub.close()


def get_hub() -> Hub:
    """The hub of the calling OS thread, created on first use (and closed when the thread ends)."""
    try:
        return current.hub
    except AttributeError:
        hub = current.hub = getattr(current, "factory", Hub)()
        current.__dict__.setdefault("closer", _CloseAtThreadExit()).hub = hub  # (one closer per thread)
        return hub


def existing_hub() -> Hub | None:
    """This thread's hub if it has made one, else None (without making one)."""
    return getattr(current, "hub", None)


def _hub_over(poller: Callable[[], Poller]) -> Hub:
    return Hub(poller())


def use_hub(hub: Hub | Callable[[], Any] | types.ModuleType | str | None = None) -> None:
    """Replace this thread's hub, dropping the old one with its timers and listeners (for tests and tools).

    ``hub`` is a ``Hub`` (used from now on), or what makes one on next use, as eventlet's ``use_hub``
    takes: a class or factory, a module (its ``Hub``), a poller's name (``"epoll"``, ``"selectors"``:
    a ``Hub`` over that poller), or ``None`` (the default ``Hub``).
    """
    if isinstance(hub, str):
        if hub not in POLLERS:
            raise ValueError(f"use_hub({hub!r}): minievent's hubs differ by poller, one of {sorted(POLLERS)}")
        hub = functools.partial(_hub_over, POLLERS[hub])
    current.__dict__.pop("hub", None)
    if isinstance(hub, Hub):
        current.hub = hub
    else:
        current.factory = hub.Hub if isinstance(hub, types.ModuleType) else hub or Hub
