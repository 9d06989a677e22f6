"""The timeline: a recording of who ran, who waited and who was ready, and what to make of it.

    with minievent.record() as tl:
        ...                       # anything that uses greenthreads
    tl.spans()                    # who ran, who waited (on what), who was ready
    tl.to_chrome_trace("t.json")  # open in https://ui.perfetto.dev

This module is the *analysis and export* half; the *capture* half for
minievent is ``minievent.recorder`` (an instrument on the hub's three single
points), which ``start()`` installs. Both meet in the raw records below, so a
capture for another loop can feed the same analysis.

Each greenthread's life is a sequence of three states: **running**;
**waiting** (for a timer, an fd, an event...); and **ready**: what it waited
for has happened, but it cannot run, because another greenthread holds the
hub. A long "ready" span is the picture of cooperative scheduling going wrong:
the heartbeat was due, and nobody let it in.

The raw records, written while recording and read only when somebody asks:

* ``_sw``: the switches, stored *flat*, three slots a switch -- the time, the
  ``id()`` of the lane entered (``_keys`` maps it back to the GreenThread,
  greenlet or "hub"), and why the lane that left did (a park reason, as
  ``minievent.hub.describe`` words them; None when the hub left). A tuple per
  switch would cost more: the garbage collector tracks every new tuple, and
  leaves floats, ints and strings alone. The lane that left is the one the
  record before entered.
* ``_sw_extra[n] = (ready since, cause)`` for switch ``n`` when the entered
  lane was made ready earlier than it ran (a timer's deadline, a poll's report).
* ``_timers`` (lane key, due, fired), ``_io`` (lane key, fd, READ/WRITE,
  reported, resumed), ``_polls`` (start, end) of polls that could block.

Lanes get their names when somebody looks. So a recording keeps the
greenthreads it saw alive until it is dropped. It keeps at most ``cap``
records of each kind and counts the rest in ``dropped``.
"""

from __future__ import annotations

import _thread
import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import greenlet

from .greenthread import GreenThread
from .hub import READ, YIELD, describe, get_hub, os_thread_id

_os_lock = _thread.allocate_lock  # bound at import: after monkey_patch() the module attribute is green

__all__ = ["Timeline", "record", "Switch", "TimerRecord", "IORecord", "Span", "Mark"]

clock = time.monotonic
_YIELD = YIELD  # why a greenthread that yields left: it is still ready to run
_DONE = "done"  # (_DONE, id of the greenthread or None) as recorded; (_DONE, text) once read
_EXITED = (_DONE, None)  # a capture's "it finished": the text is found when somebody looks
_SPAWN = "spawn"  # cause of a first switch into a greenthread that was just started
_HUB = "hub"  # the lane key of the hub
_HUB_ID = id(_HUB)
_STATES = frozenset({"running", "ready", "waiting"})

#: Default cap on stored records (switches, timers, I/O, polls, marks together).
DEFAULT_CAP = 2_000_000


# ---------------------------------------------------------------- records
@dataclass(frozen=True)
class Switch:
    """The CPU passed from ``origin`` to ``target`` (lane names) at ``time``."""

    time: float
    origin: str
    target: str
    #: why ``origin`` left: "sleep(0)", "sleep(0.5)", "read on fd 7", "exit"...; None for the hub
    why: str | None = None


@dataclass(frozen=True)
class TimerRecord:
    """A timer fired ``lateness`` seconds after it was due, resuming ``lane``."""

    lane: str
    due: float
    fired: float

    @property
    def lateness(self) -> float:
        return self.fired - self.due


@dataclass(frozen=True)
class IORecord:
    """The poller reported ``fd`` ready at ``reported``; ``lane`` resumed at ``resumed``."""

    lane: str
    fd: int
    direction: str  # "read" or "write"
    reported: float
    resumed: float

    @property
    def lateness(self) -> float:
        return self.resumed - self.reported


@dataclass(frozen=True)
class Span:
    """``lane`` was in ``state`` ("running", "ready" or "waiting") from ``start`` to ``end``."""

    lane: str
    start: float
    end: float
    state: str
    #: for "waiting": what it waited on; for "ready": what made it ready; for marks: their label
    why: str | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Mark:
    """A point in time on a lane, from ``Timeline.event`` (for code outside greenthreads)."""

    lane: str
    time: float
    label: str


@dataclass
class _LaneState:
    state: str
    since: float
    why: Any = None
    fresh: bool = field(default=False)


def _why_text(why: Any) -> str | None:
    """Park reasons are cheap tuples while recording; they become text only when somebody looks."""
    if type(why) is tuple and why[0] == _DONE:
        return why[1]
    return describe(why)


def _exit_why(key: Any) -> tuple[str, str]:
    exit_ = getattr(key, "_exit", None)
    if exit_ is not None and not exit_[0]:
        return (_DONE, f"raised {type(exit_[1]).__name__}")
    return (_DONE, "exit")


# ---------------------------------------------------------------- the recorder
class Timeline:
    """A recording of one OS thread's hub. ``start()``/``stop()``, or use it as a context manager."""

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        if not isinstance(cap, int) or cap < 1:
            raise ValueError("cap must be a positive int")
        self.cap = cap
        self.dropped = 0
        self.t0: float | None = None
        self.t1: float | None = None
        # Raw switch records, times in clock() seconds, stored *flat*, three
        # slots a switch: t, id() of the lane entered, why the lane that left
        # did. (A tuple per switch costs more: the garbage collector tracks
        # every new tuple; floats, ints and strings it leaves alone.) The rarer
        # "ready since, and why" of a switch sits in _sw_extra by switch number.
        self._sw: list[Any] = []
        self._sw_extra: dict[int, tuple] = {}
        self._timers: list[tuple] = []  # (lane, due, fired)
        self._io: list[tuple] = []  # (lane, fd, evtype, reported, resumed)
        self._polls: list[tuple] = []  # (start, end) of polls that could block
        self._spans: list[tuple] = []  # (lane, label, start, end, state) from span() and add_span()
        self._marks: list[tuple] = []  # (lane, label, t) from event()
        self._lock = _os_lock()  # for span() and event(), which other threads call (a real lock, patched or not)
        self._keys: dict[int, Any] = {_HUB_ID: _HUB}  # id(key) -> lane key (GreenThread, greenlet, "hub")
        self._names: dict[Any, str] = {}  # lane key -> lane name
        self._name_count: dict[str, int] = {}  # base name -> how many lanes use it
        self._first_key: Any = None
        self._named_upto = 0  # switch records whose lanes have names
        self._hub: Any = None
        self._thread: int | None = None
        self._recorder: Any = None  # the HubRecorder installed by start()

    # ------------------------------------------------------------ start / stop
    def start(self, greenlets: bool = True) -> Timeline:
        """Start recording this OS thread's hub (the thread that calls ``start``).

        ``greenlets=False`` only starts the clock, for recordings made of
        ``span``/``event`` calls alone (OS threads, asyncio).
        """
        if self.t0 is not None:
            raise RuntimeError("this Timeline was already started; make a new one")
        if not greenlets:
            self._thread = os_thread_id()
            self.t0 = clock()
            return self
        from .recorder import HubRecorder  # (capture imports this module: import it late)

        hub = get_hub()
        if hub.instrument is not None:
            raise RuntimeError("another recorder is already installed on this thread's hub")
        self._hub = hub
        self._thread = os_thread_id()
        self._main_g = hub.main
        cur = greenlet.getcurrent()
        self._first_key = _HUB if cur is hub.greenlet else getattr(cur, "gt", None) or cur
        self.t0 = clock()
        self._recorder = HubRecorder(self, hub, _HUB_ID, _SPAWN)
        hub.install(self._recorder)
        return self

    def stop(self) -> Timeline:
        """Stop recording (from the OS thread that started it)."""
        if self.t0 is None or self.t1 is not None:
            return self
        if os_thread_id() != self._thread:
            raise RuntimeError("stop() must be called from the OS thread that called start()")
        if self._recorder is not None:
            self._hub.uninstall(self._recorder)
            self._recorder.finish(greenlet.getcurrent())
        self.t1 = clock()
        return self

    def __enter__(self) -> Timeline:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def recording(self) -> bool:
        return self.t0 is not None and self.t1 is None

    @property
    def duration(self) -> float:
        """Seconds recorded (so far, while recording)."""
        if self.t0 is None:
            return 0.0
        return (self.t1 if self.t1 is not None else clock()) - self.t0

    # ------------------------------------------------------------ naming lanes
    def _name(self, key: Any) -> str:
        # Lanes get their names when somebody looks, not while recording (it
        # is cheaper): the key is the GreenThread itself (a worker greenlet
        # runs many over time), the main greenlet, a plain greenlet, or "hub".
        # A second greenthread with the same name -- 100 handlers of one
        # server -- gets "name#2", and so on, in order of first appearance.
        name = self._names.get(key)
        if name is None:
            base = self._base_name(key)
            n = self._name_count.get(base, 0) + 1
            self._name_count[base] = n
            name = self._names[key] = base if n == 1 else f"{base}#{n}"
        return name

    def _base_name(self, key: Any) -> str:
        """A lane's name before de-duplication (the hook a capture of another loop overrides)."""
        if key is _HUB:
            return "hub"
        if isinstance(key, GreenThread):
            return str(key.name)
        return "main" if key is self._main_g else "greenlet"

    # ------------------------------------------------------------ code outside greenthreads
    @contextlib.contextmanager
    def span(self, lane: str, label: str, state: str = "running") -> Iterator[None]:
        """Record ``lane`` in ``state`` (running ``label``) for the duration of the block. Any thread."""
        start = clock()
        try:
            yield
        finally:
            self.add_span(lane, start, clock(), state, label)

    def add_span(self, lane: str, start: float, end: float, state: str = "running", label: str | None = None) -> None:
        """Record a span measured elsewhere; ``start``/``end`` are ``time.monotonic()`` values. Any thread.

        For code that knows more than a ``with`` block can: a thread whose
        ``time.sleep`` was due at one moment and returned later was *ready*
        in between (waiting for the GIL).
        """
        if state not in _STATES:
            raise ValueError(f"state must be one of {sorted(_STATES)}, not {state!r}")
        with self._lock:
            if len(self._spans) < self.cap:
                self._spans.append((lane, label, start, end, state))
            else:
                self.dropped += 1

    def event(self, lane: str, label: str) -> None:
        """Record an instant on ``lane`` (e.g. "heartbeat sent" from a native thread). Any thread."""
        t = clock()
        with self._lock:
            if len(self._marks) < self.cap:
                self._marks.append((lane, label, t))
            else:
                self.dropped += 1

    def _latest(self) -> tuple[int, float, Any]:
        """(how many records so far, time of the latest, id of the lane it entered, None: unknown).

        Cheap and safe from another OS thread (a watchdog's): it reads, never converts.
        """
        if self._recorder is not None:
            return self._recorder.latest()
        sw = self._sw
        n = len(sw) // 3  # switches appended completely
        if n:
            return (n, sw[3 * n - 3], sw[3 * n - 2])
        return (0, self.t0 or 0.0, id(self._first_key) if self._first_key is not None else None)

    # ------------------------------------------------------------ reading it
    def _rel(self, t: float) -> float:
        return t - self.t0  # type: ignore[operator]

    def _end(self) -> float:
        return self.t1 if self.t1 is not None else clock()

    def _ensure_names(self) -> None:
        # Every reader comes through here: first turn the capture's raw records
        # into switch records, then name every lane in order of first appearance.
        if self._recorder is not None:
            self._recorder.flush()
        if self._first_key is not None:
            self._name(self._first_key)
        name, sw, keys = self._name, self._sw, self._keys
        for kid in sw[3 * self._named_upto + 1 :: 3]:
            name(keys[kid])
        self._named_upto = len(sw) // 3

    def _with_origins(self) -> Iterator[tuple]:
        # Each raw switch record names the lane entered; the lane that left is
        # the one the record before entered.
        self._ensure_names()
        names, keys = self._names, self._keys
        okey = self._first_key
        origin = names.get(okey, "main")
        sw, extra, nothing = self._sw, self._sw_extra, (None, None)
        for n in range(len(sw) // 3):
            t, key, why = sw[3 * n], keys[sw[3 * n + 1]], sw[3 * n + 2]
            since, cause = extra.get(n, nothing)
            if type(why) is tuple and why[0] == _DONE and not isinstance(why[1], str):
                why = _exit_why(okey)
            lane = names[key]
            yield t, origin, lane, why, since, cause
            origin, okey = lane, key

    @property
    def switches(self) -> list[Switch]:
        r = self._rel
        return [Switch(r(t), o, g, _why_text(why)) for t, o, g, why, _s, _c in self._with_origins()]

    @property
    def timers(self) -> list[TimerRecord]:
        r, name = self._rel, self._name
        self._ensure_names()
        return [TimerRecord(name(key), r(due), r(fired)) for key, due, fired in self._timers]

    @property
    def io(self) -> list[IORecord]:
        r, name = self._rel, self._name
        self._ensure_names()
        return [
            IORecord(name(key), fd, "read" if ev == READ else "write", r(rep), r(res))
            for key, fd, ev, rep, res in filter(None, self._io)
        ]

    @property
    def marks(self) -> list[Mark]:
        r = self._rel
        return sorted((Mark(lane, r(t), label) for lane, label, t in self._marks), key=lambda m: m.time)

    @property
    def lanes(self) -> list[str]:
        """Every lane, in order of first appearance (the hub first)."""
        seen: dict[str, None] = {"hub": None} if self._hub is not None else {}
        self._ensure_names()
        if self._first_key is not None:
            seen[self._names[self._first_key]] = None
        names, keys = self._names, self._keys
        for kid in self._sw[1::3]:
            seen[names[keys[kid]]] = None
        for lane, *_ in sorted(self._spans, key=lambda s: s[2]):
            seen[lane] = None
        for lane, _label, _t in self._marks:
            seen[lane] = None
        return list(seen)

    def spans(self) -> list[Span]:
        """Every lane's running / ready / waiting intervals, sorted by start time."""
        if self.t0 is None:
            return []
        r = self._rel
        out: list[Span] = []
        states: dict[str, _LaneState] = {}

        def close(lane: str, t: float) -> _LaneState | None:
            st = states.pop(lane, None)
            if st is not None and t > st.since:
                out.append(Span(lane, r(st.since), r(t), st.state, _why_text(st.why)))
            return st

        self._ensure_names()
        if self._first_key is not None:
            states[self._names[self._first_key]] = _LaneState("running", self.t0)
        seen = set(states)
        for t, origin, target, why, since, cause in self._with_origins():
            close(origin, t)
            if origin != "hub" and not (type(why) is tuple and why[0] == _DONE):
                states[origin] = _LaneState("ready" if why == _YIELD else "waiting", t, why)
            prev = states.get(target)
            if prev is None and target not in seen and cause is not _SPAWN and target != "hub":
                # Already waiting when the recording began.
                prev = states[target] = _LaneState("waiting", self.t0)
            seen.add(target)
            if since is not None and prev is not None and prev.state == "waiting":
                ready_at = min(max(since, prev.since), t)
                close(target, ready_at)
                states[target] = _LaneState("ready", ready_at, cause)
            close(target, t)
            states[target] = _LaneState("running", t)
        end = self._end()
        for lane in list(states):
            close(lane, end)
        out = self._split_hub_polls(out)
        for lane, label, start, stop, state in self._spans:
            out.append(Span(lane, r(start), r(stop), state, label))
        out.sort(key=lambda s: (s.start, s.lane))
        return out

    def _split_hub_polls(self, spans: list[Span]) -> list[Span]:
        # While the hub blocks in epoll_wait it is waiting for the kernel, not
        # running: cut those stretches out of its running spans.
        if not self._polls:
            return spans
        r = self._rel
        polls = sorted((r(a), r(b)) for a, b in self._polls)
        out, i = [], 0
        for s in sorted(spans, key=lambda s: s.start):
            if s.lane != "hub" or s.state != "running":
                out.append(s)
                continue
            cur = s.start
            while i < len(polls) and polls[i][1] <= s.start:
                i += 1
            j = i
            while j < len(polls) and polls[j][0] < s.end:
                a, b = max(polls[j][0], s.start), min(polls[j][1], s.end)
                if a > cur:
                    out.append(Span("hub", cur, a, "running"))
                if b > a:
                    out.append(Span("hub", a, b, "waiting", "poll"))
                cur = max(cur, b)
                j += 1
            if s.end > cur:
                out.append(Span("hub", cur, s.end, "running"))
        return out

    def blocked(self, threshold: float) -> list[Span]:
        """Running spans of greenthreads (not the hub, not OS-thread spans) longer than ``threshold``."""
        own = {lane for lane, *_ in self._spans}
        return [
            s
            for s in self.spans()
            if s.state == "running" and s.lane != "hub" and s.lane not in own and s.duration > threshold
        ]

    def __repr__(self) -> str:
        state = "recording" if self.recording else "stopped" if self.t1 is not None else "not started"
        return f"<Timeline {state} {self.duration:.3f}s switches={len(self.switches)} dropped={self.dropped}>"

    # ------------------------------------------------------------ export
    def to_chrome_trace(self, path: Any = None) -> dict:
        """The recording as Chrome trace events (Perfetto, chrome://tracing); written to ``path`` if given.

        Each lane is a "thread" of one process; each span a complete event
        ("X") named after its state, with the reason in ``args``; marks and
        late timers are instant events ("i"). Times are microseconds.
        """
        lanes = self.lanes
        for s in self.spans():
            if s.lane not in lanes:
                lanes.append(s.lane)
        tid = {lane: i + 1 for i, lane in enumerate(lanes)}
        events: list[dict] = [{"ph": "M", "pid": 1, "tid": 0, "name": "process_name", "args": {"name": "minievent"}}]
        for lane, i in tid.items():
            events.append({"ph": "M", "pid": 1, "tid": i, "name": "thread_name", "args": {"name": lane}})
            events.append({"ph": "M", "pid": 1, "tid": i, "name": "thread_sort_index", "args": {"sort_index": i}})
        for s in self.spans():
            name = s.state if s.state != "running" or not s.why else s.why
            ev = {
                "ph": "X",
                "pid": 1,
                "tid": tid[s.lane],
                "name": name,
                "cat": s.state,
                "ts": round(s.start * 1e6, 3),
                "dur": round(s.duration * 1e6, 3),
            }
            if s.why:
                ev["args"] = {"why": s.why}
            events.append(ev)
        for m in self.marks:
            events.append(
                {"ph": "i", "s": "t", "pid": 1, "tid": tid[m.lane], "name": m.label, "ts": round(m.time * 1e6, 3)}
            )
        for tm in self.timers:
            if tm.lane in tid:
                events.append(
                    {
                        "ph": "i",
                        "s": "t",
                        "pid": 1,
                        "tid": tid[tm.lane],
                        "name": "timer fired",
                        "ts": round(tm.fired * 1e6, 3),
                        "args": {"due": round(tm.due, 6), "lateness_ms": round(tm.lateness * 1e3, 3)},
                    }
                )
        trace = {
            "traceEvents": events,
            "displayTimeUnit": "ms",
            "otherData": {"dropped": self.dropped, "recorded_seconds": self.duration},
        }
        if path is not None:
            with open(path, "w") as f:
                json.dump(trace, f)
        return trace


@contextlib.contextmanager
def record(cap: int = DEFAULT_CAP, loop: Any = None) -> Iterator[Timeline]:
    """Record this OS thread's hub until the ``with`` block ends: ``with minievent.record() as tl:``.

    ``loop="eventlet"``, ``"gevent"`` or ``"asyncio"`` records a program on that
    library instead (``minievent.foreign``); None: minievent, unless eventlet's
    or gevent's hub already runs this thread or has monkey-patched it.
    """
    from .foreign import timeline_for  # (it builds on this module)

    tl = timeline_for(loop, cap)
    tl.start()
    try:
        yield tl
    finally:
        tl.stop()
