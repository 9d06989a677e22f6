"""The raw records of a recording, and the one API every capture writes them through.

A *capture* (one module a loop: ``minievent``, ``eventlet``, ``gevent``,
``asyncio``) watches a loop and writes what it sees into ``Records``, through
the methods below and nothing else; the analysis (``timeline.py``) reads them
back when somebody looks. While a program runs, writing must cost next to
nothing, so the records are raw:

* **switches**, stored *flat*, ``SLOTS`` (five) slots a switch: the time,
  the ``id()`` of the lane entered (``lane()`` files the lane key behind it:
  a GreenThread, a greenlet, a task, ``HUB``), why the lane that left did
  (a park reason, a cheap tuple such as ``("sleep", 0.5)``, made into words
  only by the analysis; None when the hub left), and since when the lane
  entered was ready and why (a timer's deadline, a poll's end...; None,
  None: not known to have waited). A tuple per switch, or a dict entry per
  readiness, would cost more: the garbage collector tracks every tuple
  kept, and leaves floats, ints and strings alone. The lane that left is
  the one the switch before entered.
* **timers** (lane key, due, fired), **I/O** (lane key, fd, READ/WRITE,
  reported, resumed), **polls** (start, end) of waits that could block;
* **spans** and **marks** of code outside greenthreads (OS threads), which
  any thread may write.

At most ``cap`` records of each kind are kept; the rest are counted in
``dropped``. The lane keys are kept alive, so that an id stays its own.

The ``Capture`` base class says what a capture does besides writing:
install and uninstall itself, name its lanes, say what was still ready
when the recording ended.
"""

from __future__ import annotations

import _thread
import bisect
import operator
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from itertools import compress, filterfalse, repeat
from types import MappingProxyType
from typing import Any

from ..hub import YIELD

__all__ = [
    "Records",
    "SLOTS",
    "Capture",
    "HUB",
    "HUB_ID",
    "SPAWN",
    "EXITED",
    "DONE",
    "YIELD",
    "DEFAULT_CAP",
    "clock",
    "pop_each",
]

clock = time.monotonic
_os_lock = _thread.allocate_lock  # bound at import: after monkey_patch() the module attribute is green

#: The lane key of the hub (asyncio: the event loop), and its id in the switch records.
HUB = "hub"
HUB_ID = id(HUB)
#: The cause of the first switch into a greenthread that was just started.
SPAWN = "spawn"
#: Why a lane that finished left: ``(DONE, id of the greenthread or None)`` as written; the
#: analysis finds the words ("exit", "raised ValueError") when somebody looks.
DONE = "done"
EXITED = (DONE, None)
#: Slots a switch in the flat switch list: time, id of the lane entered, why the one before left,
#: ready since, why ready (``Records.switch``'s arguments, in its order).
SLOTS = 5
#: Default cap on stored records of each kind.
DEFAULT_CAP = 2_000_000
_STATES = frozenset({"running", "ready", "waiting"})
#: Lanes a watchdog lets go of in one call into C (a loop over them in Python would hand the GIL to the
#: loop's busy thread every 5 ms and wait as long to get it back: 10-20 times the work in time, and a
#: recorder that falls behind a service's churn). Between two chunks the loop's thread may run.
CHUNK = 4096


def _chunks(seq: list) -> Iterable[list]:
    return (seq[i : i + CHUNK] for i in range(0, len(seq), CHUNK))


def pop_each(table: dict, kids: list) -> None:
    """``table.pop(kid, None)`` for each of ``kids``, a chunk at a time in C (see ``CHUNK``)."""
    for part in _chunks(kids):
        deque(map(table.pop, part, repeat(None)), maxlen=0)


class Records:
    """One recording's raw records. Captures write them (the hub's thread); the analysis reads them."""

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        if not isinstance(cap, int) or cap < 1:
            raise ValueError("cap must be a positive int")
        self.cap = cap
        self.dropped = 0
        self.t0: float | None = None
        self.t1: float | None = None
        #: The OS thread recorded (its ident in ``sys._current_frames()``), once started.
        self.thread: int | None = None
        #: The lane running when the recording began (None: none known).
        self.first_key: Any = None
        self._sw: list[Any] = []
        self._room = SLOTS * cap
        self._timers: list[tuple] = []
        self._io: list[tuple] = []
        self._polls: list[tuple] = []
        self._spans: list[tuple] = []
        self._marks: list[tuple] = []
        self._lock = _os_lock()  # for span() and mark(), which other threads call (a real lock, patched or not)
        self._keys: dict[int, Any] = {HUB_ID: HUB}
        #: Whether ``trim()`` dropped anything (the records no longer reach back to the start).
        self.trimmed = False

    # ------------------------------------------------------------ writing: the hub's thread
    def begin(self, first_key: Any = None) -> None:
        """The recording starts now, in this OS thread, with ``first_key``'s lane running."""
        self.t0 = clock()
        self.thread = thread_ident()
        if first_key is not None:
            self.lane(first_key)
        self.first_key = first_key

    def end(self) -> None:
        self.t1 = clock()

    def lane(self, key: Any) -> int:
        """File ``key`` as a lane (kept alive while the records are); its id, for ``switch``."""
        kid = id(key)
        if kid not in self._keys:
            self._keys[kid] = key
        return kid

    def lane_ids(self) -> Mapping[int, Any]:
        """The lanes filed so far, id -> key: a read-only live view (``kid in view`` costs no call)."""
        return MappingProxyType(self._keys)

    def switch(self, t: float, kid: int, why: Any, since: float | None = None, cause: Any = None) -> None:
        """At ``t`` the lane ``kid`` (from ``lane()``) was entered; the one that left did because of ``why``.

        ``since``/``cause``: it was ready since then, because of that (a timer's deadline, "woken");
        a ``since`` without a cause is not kept.
        """
        sw = self._sw
        if len(sw) >= self._room:
            self.dropped += 1
            return
        sw.extend((t, kid, why, since if cause is not None else None, cause))  # (one C call: no half switch)

    def switch_log(self) -> tuple[list[Any], int]:
        """The flat switch list and how many slots it may hold, for a capture's hottest path: a switch
        may be added there as its ``SLOTS`` slots in one ``extend`` (time, an id from ``lane()``, why,
        ready since, why ready: ``switch()``'s arguments, since None when the cause is) while
        ``len(log) < room``, which costs less than a call to ``switch()``. ``trim()`` deletes whole
        switches from its front, so the switches stay aligned."""
        return self._sw, self._room

    def room(self) -> bool:
        """Whether another switch would be kept."""
        return len(self._sw) < self._room

    def timer(self, key: Any, due: float, fired: float) -> None:
        """The timer of lane ``key``, due at ``due``, resumed it at ``fired``."""
        if len(self._timers) < self.cap:
            self._timers.append((key, due, fired))
        else:
            self.dropped += 1

    def io(self, key: Any, fd: int, evtype: int, reported: float, resumed: float) -> None:
        """The poll reported ``fd`` ready (READ or WRITE) at ``reported``; lane ``key`` resumed at ``resumed``."""
        if len(self._io) < self.cap:
            self._io.append((key, fd, evtype, reported, resumed))
        else:
            self.dropped += 1

    def poll(self, start: float, end: float) -> None:
        """The loop waited in a poll that could block from ``start`` to ``end``."""
        if len(self._polls) < self.cap:
            self._polls.append((start, end))
        else:
            self.dropped += 1

    def drop(self, n: int = 1) -> None:
        """``n`` records could not be kept."""
        self.dropped += n

    # ------------------------------------------------------------ writing: any thread
    def span(self, lane: str, label: str | None, start: float, end: float, state: str) -> None:
        """``lane`` (a name) was in ``state`` from ``start`` to ``end``, doing ``label``."""
        if state not in _STATES:
            raise ValueError(f"state must be one of {sorted(_STATES)}, not {state!r}")
        with self._lock:
            if len(self._spans) < self.cap:
                self._spans.append((lane, label, start, end, state))
            else:
                self.dropped += 1

    def mark(self, lane: str, label: str, t: float) -> None:
        """An instant on ``lane`` (a name)."""
        with self._lock:
            if len(self._marks) < self.cap:
                self._marks.append((lane, label, t))
            else:
                self.dropped += 1

    # ------------------------------------------------------------ keeping a window (the flight recorder's)
    def trim(self, horizon: float) -> int:
        """Drop what is older than ``horizon`` (the loop's thread, or a watchdog while it writes).

        The last switch before the horizon is kept: it says who ran at the
        horizon. Returns how many switches went.
        """
        sw = self._sw
        n = len(sw) // SLOTS
        k = _first_at(sw, n, horizon, SLOTS) - 1
        if k < 1:
            return 0
        first = self._keys.get(sw[SLOTS * (k - 1) + 1])
        del sw[: SLOTS * k]
        self.first_key = first
        self.t0 = sw[0] if sw else horizon
        self.trimmed = True
        for rows, at in ((self._timers, 2), (self._io, 4), (self._polls, 1)):
            _drop_before(rows, at, horizon)
        return k

    def trim_polls(self, horizon: float) -> None:
        """Drop the polls that ended before ``horizon`` (a capture that keeps its switches raw trims those)."""
        _drop_before(self._polls, 1, horizon)

    def finished_lanes(self, over_among: Callable[[list], Iterable[bool]]) -> list[int]:
        """The ids of the lanes that can never run again (``over_among(keys)``: for each, a dead greenlet, a
        done task) and that no kept switch enters: what ``forget`` may let go of. Any thread.

        The lanes over are found first, the switches kept after: the loop's thread writes meanwhile, and a
        greenthread that starts, runs and ends between the two looks would otherwise be let go of with its
        switches still in the log (a KeyError for every reader after). One over before can't run again.
        A chunk of lanes (switches) at a time, each in one call into C (see ``CHUNK``)."""
        lanes = self._keys.copy()  # (one C call: the loop's thread may file a lane meanwhile)
        kids, keys = list(lanes), list(lanes.values())
        over_now: list[int] = []
        for kid_part, key_part in zip(_chunks(kids), _chunks(keys), strict=True):
            over_now += compress(kid_part, over_among(key_part))
        sw = self._sw
        n = len(sw) // SLOTS
        keep = {HUB_ID, id(self.first_key)}
        for i in range(0, n, CHUNK):
            keep.update(sw[SLOTS * i + 1 : SLOTS * min(n, i + CHUNK) : SLOTS])
        return list(filterfalse(keep.__contains__, over_now))

    def forget(self, kids: list) -> None:
        """Let go of these lanes (from ``finished_lanes``): their keys may be freed, their ids reused.

        A long-running service starts and ends greenthreads for ever: a window keeps only the
        lanes it still shows, or memory would grow by every greenthread that ever ran."""
        pop_each(self._keys, kids)

    def window(self, since: float, until: float) -> Records:
        """A copy of the records from ``since`` to ``until``, ended at ``until``. Any thread, while it writes.

        The copy starts with the switch before ``since`` (who ran then).
        """
        out = Records(self.cap)
        sw = list(self._sw)
        n = len(sw) // SLOTS
        k = max(0, _first_at(sw, n, since, SLOTS) - 1)
        out.first_key = self._keys.get(sw[SLOTS * (k - 1) + 1]) if k > 0 else self.first_key
        out._sw = sw[SLOTS * k : SLOTS * n]
        out._timers = [r for r in list(self._timers) if r[2] >= since]
        out._io = [r for r in list(self._io) if r[4] >= since]
        out._polls = [r for r in list(self._polls) if r[1] >= since]
        out._spans = [r for r in self.spans() if r[3] >= since]
        out._marks = [r for r in self.marks() if r[2] >= since]
        out._keys = dict(self._keys)
        out.dropped = self.dropped
        out.thread = self.thread
        out.trimmed = self.trimmed
        out.t0 = sw[SLOTS * k] if k > 0 and out._sw else (self.t0 if self.t0 is not None else since)
        out.t1 = until
        return out

    def switch_after(self, t: float) -> float | None:
        """The time of the first switch after ``t`` (None: none yet). Any thread."""
        sw = self._sw
        n = len(sw) // SLOTS
        k = _first_at(sw, n, t + 1e-9, SLOTS)
        return sw[SLOTS * k] if k < n else None

    # ------------------------------------------------------------ reading
    def latest(self) -> tuple[int, float, int | None]:
        """(switches so far, time of the latest, id of the lane it entered; None: unknown). Any thread.

        Cheap, and safe from another OS thread (a watchdog's): it reads, never converts.
        """
        sw = self._sw
        n = len(sw) // SLOTS  # switches appended completely
        if n:
            return (n, sw[SLOTS * (n - 1)], sw[SLOTS * (n - 1) + 1])
        return (0, self.t0 or 0.0, id(self.first_key) if self.first_key is not None else None)

    def switch_count(self) -> int:
        return len(self._sw) // SLOTS

    def switches(self, start: int = 0) -> Any:
        """Switch records from number ``start`` on: (number, t, lane key, why, ready since, cause)."""
        sw, keys = self._sw, self._keys
        for n in range(start, len(sw) // SLOTS):
            at = SLOTS * n
            yield n, sw[at], keys[sw[at + 1]], sw[at + 2], sw[at + 3], sw[at + 4]

    def columns(self, start: int, end: int) -> tuple[list[float], list[int], list[tuple | None]]:
        """Switches ``start`` .. ``end - 1`` as columns: their times, the ids of the lanes entered, and
        (ready since, cause) or None for each. Sliced at C speed, for a reader in another thread that
        must keep up with a busy loop (the flight recorder's watchdog) without a tuple a switch."""
        sw = self._sw
        a, b = SLOTS * start, SLOTS * min(end, len(sw) // SLOTS)
        ready = [
            None if cause is None else (since, cause)
            for since, cause in zip(sw[a + 3 : b : SLOTS], sw[a + 4 : b : SLOTS], strict=True)
        ]
        return sw[a:b:SLOTS], sw[a + 1 : b : SLOTS], ready

    def entered(self, start: int = 0) -> list[Any]:
        """The lane key of each switch from number ``start`` on."""
        keys = self._keys
        return [keys[kid] for kid in self._sw[SLOTS * start + 1 :: SLOTS]]

    def timers(self, start: int = 0) -> list[tuple]:
        """(lane key, due, fired) of each timer from number ``start`` on."""
        return self._timers[start:]

    def timer_count(self) -> int:
        return len(self._timers)

    def ios(self) -> list[tuple]:
        return list(self._io)

    def polls(self, start: int = 0) -> list[tuple]:
        """(start, end) of each poll that could block, from number ``start`` on."""
        return self._polls[start:]

    def spans(self) -> list[tuple]:
        with self._lock:
            return list(self._spans)

    def marks(self) -> list[tuple]:
        with self._lock:
            return list(self._marks)


class Capture:
    """What a capture does: ``install(records)`` starts writing them, ``uninstall()`` stops."""

    #: Which loop it records: "minievent", "eventlet", "gevent", "asyncio".
    kind = ""

    def __init__(self) -> None:
        self.records: Records | None = None
        #: id(lane key) -> its name, found while the lane was alive
        self.names: dict[int, str] = {}

    def install(self, records: Records) -> None:
        raise NotImplementedError

    def uninstall(self) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Write what the capture holds back into the records (before somebody reads them)."""

    def latest(self) -> tuple[int, float, int | None]:
        """As ``Records.latest()``, for what the capture holds back too. Any thread."""
        return self.records.latest()  # type: ignore[union-attr]

    def lane_name(self, key: Any) -> str:
        """The name of the lane of ``key`` (before the analysis numbers names seen twice)."""
        return self.names.get(id(key)) or func_name(key) or type(key).__name__

    def outside(self) -> Any:
        """The lane key of the code that runs outside the loop in its thread (asyncio's), or None."""
        return None

    def over_among(self, keys: list) -> Iterable[bool]:
        """For each of ``keys``, whether its lane can never run again: a dead greenlet (or GreenThread).
        (``getattr(key, "dead", False) is True``, in C: ``Records.finished_lanes``.)"""
        return map(operator.is_, map(getattr, keys, repeat("dead"), repeat(False)), repeat(True))

    def forget(self, kids: list) -> None:
        """The records let go of these lanes (``Records.forget``): drop what this capture keeps by their ids
        (before the ids can be reused). Any thread: what the loop's thread writes here is for live lanes."""
        pop_each(self.names, kids)

    def ready_at_end(self, end: float) -> dict[Any, tuple]:
        """Lanes known ready (since, why) by ``end`` that had not run again: key -> (since, cause)."""
        return {}


def _first_at(sw: list[Any], n: int, t: float, slots: int = 3) -> int:
    """The number of the first of the ``n`` flat records of ``slots`` slots at or after ``t`` (n: none); the
    time is each one's first slot (``SLOTS`` in ``Records``' switches, three in minievent's raw log)."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        if sw[slots * mid] < t:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _drop_before(rows: list[tuple], at: int, horizon: float) -> None:
    """Drop the leading ``rows`` whose time in slot ``at`` is before ``horizon`` (they are in time order)."""
    del rows[: bisect.bisect_left(rows, horizon, key=operator.itemgetter(at))]


def thread_ident() -> int:
    """This OS thread's ident, as ``sys._current_frames()`` knows it.

    Not ``threading.get_ident()``: once eventlet or gevent has monkey-patched
    the program, that names the running greenlet.
    """
    me = sys._getframe()
    for ident, frame in sys._current_frames().items():
        if frame is me:
            return ident
    raise RuntimeError("this thread is not in sys._current_frames()")  # (never: we are running)


def func_name(fn: Any) -> str | None:
    """A lane's name from the function it runs: "heartbeat", not "main.<locals>.heartbeat".

    A (monkey-patched, green) ``threading.Thread``'s bootstrap is named after its target; an
    oslo.service looping call's ``loop_func`` after the call and what it loops:
    ``FixedIntervalLoopingCall(report_state)``.
    """
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, threading.Thread):
        target = getattr(owner, "_target", None)
        return func_name(target) if target is not None else owner.name
    call = _looping_call(fn)
    if call is not None:
        return call
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return name.rsplit("<locals>.", 1)[-1] if isinstance(name, str) else None


def _looping_call(fn: Any) -> str | None:
    # oslo.service's LoopingCallBase._start spawns a closure, loop_func, over the call (self), whose
    # ``f`` is what it loops (every backend: _common/loopingcall.py). Only names are read.
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            call = cell.cell_contents
        except ValueError:  # (an empty cell)
            continue
        if hasattr(type(call), "_run_loop"):
            name = getattr(getattr(call, "f", None), "__name__", None)
            if isinstance(name, str):
                return f"{type(call).__name__}({name})"
    return None
