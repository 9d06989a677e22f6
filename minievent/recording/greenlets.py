"""The recording wing's one ``greenlet.settrace`` tracer, and the capture of greenlet loops built on it.

``GreenletTracer`` is how anything here watches greenlet switches: installed
in the calling OS thread (``greenlet.settrace`` is per thread), chained to
the tracer that was there before (which still sees every switch), and put
back on ``uninstall()``; a subclass builds the function called on every
switch. Three use it: the eventlet and gevent captures (``GreenletCapture``:
every switch into the records), ``LoopRecorder`` waiting for a hub to show
itself (``HubSpotter``), and ``minievent.debug``'s blocking detector, which
keeps only the latest switch (``LatestSwitch``) for the watchdog.

What the eventlet and gevent captures share:

Both libraries switch between greenlets and their hub with ``greenlet``, so
``greenlet.settrace`` sees every switch and running spans are exact. Why a
greenlet left is read at the switch, from its suspended frame and from what
its hub holds (each library's module: ``eventlet.py``, ``gevent.py``). A lane
is the greenlet (eventlet's ``GreenThread``, gevent's ``Greenlet``, a plain
one), named after its function; "main" is the main greenlet. Greenlets that
existed before recording began are shown from the first time they run.
``greenlet.settrace`` is per thread: the thread that starts the recording is
the one recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import greenlet

from .records import EXITED, HUB, HUB_ID, SPAWN, YIELD, Capture, Records, clock, pop_each, thread_ident

__all__ = ["GreenletTracer", "GreenletCapture", "HubSpotter", "LatestSwitch", "TIMER", "IO"]

#: Causes of readiness a greenlet capture writes.
TIMER = "timer due"
IO = "I/O ready"


def _first(x: tuple) -> Any:
    return x[0]


class GreenletTracer:
    """A ``greenlet.settrace`` tracer of this OS thread; a subclass's ``tracer()`` makes the function."""

    prev: Any = None
    thread: int | None = None
    installed = False

    def tracer(self) -> Callable[[str, Any], None]:
        """The function greenlet calls on every switch, before the target runs: the hot path."""
        raise NotImplementedError

    def install_tracer(self) -> None:
        self.thread = thread_ident()
        self.prev = prev = greenlet.gettrace()
        trace = self.tracer()
        if prev is not None:
            mine = trace

            def trace(event: str, args: Any) -> None:
                try:
                    mine(event, args)
                finally:
                    prev(event, args)

        greenlet.settrace(trace)
        self.installed = True

    def uninstall_tracer(self) -> None:
        if not self.installed:
            return
        if thread_ident() != self.thread:  # (settrace is per thread)
            raise RuntimeError("stop() must be called from the OS thread that called start()")
        greenlet.settrace(self.prev)
        self.prev = None
        self.installed = False


class HubSpotter(GreenletTracer):
    """Until a hub it knows shows itself: one look per switch at which library each greenlet belongs to.

    ``spotted(kind)`` is called at the first switch from or to a hub of ``kind`` (``kind_of(greenlet)``
    names it, None: not a hub); it may uninstall this tracer and install another (which then chains
    what was there before this one).
    """

    def __init__(self, kind_of: Callable[[Any], str | None], spotted: Callable[[str], bool]) -> None:
        self.kind_of = kind_of
        self.spotted = spotted

    def tracer(self) -> Callable[[str, Any], None]:
        kind_of, spotted = self.kind_of, self.spotted

        def spot(event: str, args: Any) -> None:
            for g in args:
                kind = kind_of(g)
                if kind is not None:
                    spotted(kind)
                    return

        return spot


class LatestSwitch(GreenletTracer):
    """Keeps the latest switch only -- which greenlet got the CPU, when, how many so far -- for a watchdog.

    A ``Watch`` source (``latest()``, ``thread``) for a loop that nothing records: memory stays flat.
    ``hub``: the hub's greenlet (its runs are not holds).
    """

    recording = True

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        #: (switches so far, when the latest was, the greenlet it entered): replaced whole, read by the watchdog
        self.state: tuple[int, float, Any] = (0, clock(), greenlet.getcurrent())

    def tracer(self) -> Callable[[str, Any], None]:
        now = clock

        def note(event: str, args: Any) -> None:
            self.state = (self.state[0] + 1, now(), args[1])

        return note

    def latest(self) -> tuple[int, float, int | None]:
        n, since, g = self.state
        return (n + 1, since, HUB_ID if g is self.hub else id(g))


class GreenletCapture(Capture, GreenletTracer):
    """eventlet and gevent: a ``greenlet.settrace`` tracer, plus what the hub shows of its timers and polls."""

    #: directories whose frames are the library's, not the program's (for naming lanes)
    _lib_dirs: tuple[str, ...] = ()
    _sweep_at = 4096
    #: the greenlet that yields (sleep(0)) at its next park, where the library's hooks tell it
    yielder: Any = None
    #: where a greenlet that yields (sleep(0)) is parked, if one frame and its offsets tell it: its code...
    _yield_code: Any = ()  # (no frame's code: never)
    #: ... and the offsets (f_lasti) in it
    _yield_at: frozenset[int] = frozenset()

    def install(self, records: Records) -> None:
        self.records = records
        self.hub = self._get_hub()
        self.hub_g = self._hub_greenlet()
        self.main_g = greenlet.getcurrent()
        while self.main_g.parent is not None:
            self.main_g = self.main_g.parent
        self.names[id(self.main_g)] = "main"
        cur = greenlet.getcurrent()
        records.begin(HUB if cur is self.hub_g else cur)
        self.pend: dict[int, tuple] = {}  # id(greenlet) -> (ready since, why) for its next resume
        self.poll_end: float | None = None
        self.unnamed: set[int] = set()
        self.io_pend: dict[int, tuple] = {}  # id(greenlet) -> (fd, READ or WRITE) it parked on, where known
        self.armed: dict[int, list] = {}  # id(greenlet) -> [(due, its timer or Timeout)] that will wake it
        # greenlet -> its lane id, the very int the records' lanes are keyed by: the tracer's lookup of a
        # switch's target (hashed by address, found by identity) makes no int and compares none, and every
        # switch kept holds that one int, not a fresh id() of its own (greenlets filed otherwise: by id())
        self.lane_of: dict[Any, int] = {}
        self._install_hub_hooks()
        self.install_tracer()

    def uninstall(self) -> None:
        self.uninstall_tracer()
        self._remove_hub_hooks()

    def forget(self, kids: list) -> None:
        # (before the records let go of these ids: they still say which greenlet; in C, as pop_each)
        pop_each(self.lane_of, list(map(self.records.lane_ids().get, kids)))  # type: ignore[union-attr]
        super().forget(kids)
        pop_each(self.pend, kids)
        pop_each(self.io_pend, kids)
        self.unnamed.difference_update(kids)

    def ready_at_end(self, end: float) -> dict[Any, tuple]:
        lanes = self.records.lane_ids()  # type: ignore[union-attr]
        return {
            lanes[kid]: (since, cause)
            for kid, (since, cause) in list(self.pend.items())
            if since is not None and since < end and kid in lanes
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

    def _live(self, timer: Any) -> bool:
        """Whether an armed timer (or Timeout) is still to fire."""
        raise NotImplementedError

    # -- shared
    def _arm(self, g: Any, due: float, timer: Any) -> None:
        """``timer`` will wake ``g`` at ``due`` (a timed wait, a Timeout): ``g`` is ready from then."""
        armed = self.armed
        if len(armed) > self._sweep_at:  # greenlets that never parked again: their fired timers go
            for k in [k for k, lst in armed.items() if not any(self._live(x[1]) for x in lst)]:
                del armed[k]
            self._sweep_at = max(4096, 2 * len(armed))  # (amortised: a sweep per doubling)
        lst = armed.get(id(g))
        if lst is None:
            armed[id(g)] = [(due, timer)]
        else:
            lst.append((due, timer))

    def _due(self, origin: Any) -> float | None:
        """When the earliest timer armed to wake ``origin`` (parking now) is due; None: none is."""
        lst = self.armed.get(id(origin))
        if lst is None:
            return None
        live = self._live
        lst[:] = [x for x in lst if live(x[1])]
        if not lst:
            del self.armed[id(origin)]
            return None
        return min(lst, key=_first)[0]

    def _frame_name(self, g: Any) -> str | None:
        # The outermost frame of the program's own code: the greenthread's function.
        f, name = g.gr_frame, None
        while f is not None:
            if not f.f_code.co_filename.startswith(self._lib_dirs):
                name = f.f_code.co_qualname.rsplit("<locals>.", 1)[-1]
            f = f.f_back
        return name

    def _name_now(self, g: Any) -> None:
        """Name ``g``, first seen unnamed, from its frames, now that it parks."""
        self.unnamed.discard(id(g))
        self.names[id(g)] = self._frame_name(g) or "greenlet"

    def _poll(self, start: float, end: float) -> None:
        self.poll_end = end
        self.records.poll(start, end)  # type: ignore[union-attr]

    def tracer(self) -> Callable[[str, Any], None]:
        # Called by greenlet on every switch, before the target runs: the hot
        # path. The origin is suspended, so its frame says where it parked.
        # A switch adds its five slots to the records' flat list itself, in
        # one extend: a call to ``Records.switch`` would cost more (trim()
        # deletes whole switches from the front of the same list, so they
        # stay aligned).
        records, hub_g = self.records, self.hub_g
        write, lanes, file_lane = records.switch, records.lane_ids(), records.lane  # type: ignore[union-attr]
        sw, room = records.switch_log()  # type: ignore[union-attr]
        add = sw.extend
        pend, unnamed, left, names, main_g = self.pend, self.unnamed, self._left, self.names, self.main_g
        now = clock
        io_pend, armed, lane_of = self.io_pend, self.armed, self.lane_of
        yield_code, yield_at = self._yield_code, self._yield_at

        def trace(event: str, args: Any) -> None:
            try:
                origin, target = args
                t = now()
                if origin is hub_g:
                    why = None
                elif origin is self.yielder:  # (the library's yield, as its hooks tell it: no call)
                    self.yielder = None
                    why = YIELD
                    if unnamed and id(origin) in unnamed:
                        self._name_now(origin)
                elif (f := origin.gr_frame) is not None and f.f_code is yield_code and f.f_lasti in yield_at:
                    why = YIELD  # (the library's yield, told by where its frame is: no call)
                    if unnamed and id(origin) in unnamed:
                        self._name_now(origin)
                elif origin.dead:
                    why = EXITED
                    if armed:
                        armed.pop(id(origin), None)
                else:
                    if unnamed and id(origin) in unnamed:
                        self._name_now(origin)
                    why = left(origin, t)
                if target is hub_g:
                    kid = HUB_ID
                elif (kid := lane_of.get(target)) is None and (kid := id(target)) not in lanes:
                    lane_of[target] = kid = file_lane(target)  # (keeps it alive, so that the id stays its own)
                    if target is not main_g:  # new: just spawned (or older than the recording)
                        name = self._hint(target, origin)
                        if name is None:
                            unnamed.add(kid)
                        else:
                            names[kid] = name
                        write(t, kid, why, None, SPAWN)
                        return
                elif pend and kid in pend:
                    since, cause = pend.pop(kid)
                    if since is None:  # an fd: ready since the poll that reported it
                        since = self.poll_end if self.poll_end is not None else t
                        io = io_pend.pop(kid, None)
                        if io is not None:
                            records.io(target, io[0], io[1], since, t)  # (I/O lateness: tl.io)
                    elif cause is TIMER:
                        if since > t:  # resumed before its timer was due: not by it (killed, an event...)
                            since, cause = None, None
                        else:
                            records.timer(target, since, t)
                    if len(sw) < room:
                        add((t, kid, why, since, cause))  # (cause None: since is too)
                    else:
                        records.drop()
                    return
                if len(sw) < room:
                    add((t, kid, why, None, None))
                else:
                    records.drop()
            except Exception:  # a bug here must not take the program down
                records.drop()

        return trace
