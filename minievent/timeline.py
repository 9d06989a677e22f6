"""The recorder: write down every switch, so a run can be *seen* afterwards.

    with minievent.record() as tl:
        ...                       # anything that uses greenthreads
    tl.spans()                    # who ran, who waited (on what), who was ready
    tl.to_chrome_trace("t.json")  # open in https://ui.perfetto.dev

Three sources feed it, all installed by ``start()`` and removed by ``stop()``:

* ``greenlet.settrace``: greenlet calls our tracer on *every* switch, with
  the greenlet left (origin) and the one entered (target). That gives the
  "running" spans. Greenthreads run on reusable worker greenlets, so a greenlet
  is named after the greenthread it runs *at that moment* (``worker.gt``).
* the hub's ``instrument`` hook (``hub.instrument is self``): the hub hands us
  each ready entry to call (``run_entry``; bare ``greenlet.switch`` entries,
  as ``sleep(0)`` queues, it calls itself: there is nothing to add) and each
  poll (``poll``). That tells us *why* a greenthread was resumed and since
  when it could have been: a timer was due at its deadline, the kernel
  reported its fd at the end of a poll.
* the wait sites (``sleep``, ``trampoline``, ``Waiter``) tell us why a
  greenthread parks (they set ``why``; a ``Waiter`` names what it waits for
  and calls ``on_wake``), when a recorder is installed.

From these, each greenthread's life is a sequence of three states:
**running**; **waiting** (for a timer, an fd, an event...); and **ready**:
what it waited for has happened, but it cannot run, because another
greenthread holds the hub. A long "ready" span is the picture of cooperative
scheduling going wrong: the heartbeat was due, and nobody let it in.

What recording costs is decided by the tracer: greenlet calls it twice per
``sleep(0)``, so it stores one small tuple per switch -- a raw
``time.monotonic()``, the GreenThread (or greenlet) entered, the reason the
other one left -- and lanes get their names, records become objects, only
when somebody asks. (So a recording keeps the greenthreads it saw alive until
it is dropped.) It keeps at most ``cap`` records of each kind and counts the
rest in ``dropped``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import MethodType
from typing import Any

import greenlet

from .greenthread import GreenThread
from .hub import READ, Listener, Timer, get_hub

__all__ = ["Timeline", "record", "Switch", "TimerRecord", "IORecord", "Span", "Mark"]

clock = time.monotonic
_START = GreenThread._start
_YIELD = "sleep(0)"  # why a greenthread that yields left: it is still ready to run
_DONE = "done"  # (_DONE, text): why a greenthread that finished left
_EXITED = (_DONE, None)  # ... as the tracer records it; the text is found when somebody looks
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
    """Wait sites hand us cheap tuples; they become text only when somebody looks."""
    if why is None or isinstance(why, str):
        return why
    kind, arg = why
    if kind == _DONE:
        return arg
    if kind == "sleep":
        return f"sleep({arg:g})"
    if kind in ("read", "write"):
        return f"{kind} on fd {arg}"
    if kind == "fd":
        return f"fd {arg} ready"
    return f"{kind} {arg}"


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
        self._lock = threading.Lock()  # for span() and event(), which other threads call
        self._keys: dict[int, Any] = {_HUB_ID: _HUB}  # id(key) -> lane key (GreenThread, greenlet, "hub")
        self._names: dict[Any, str] = {}  # lane key -> lane name
        self._name_count: dict[str, int] = {}  # base name -> how many lanes use it
        self._first_key: Any = None
        self._named_upto = 0  # switch records whose lanes have names
        self._hub: Any = None
        self._thread: int | None = None
        self._prev_trace: Any = None
        # State shared by the hooks while recording (see the module docstring).
        #: Set by a wait site right before it switches to the hub: why it parks.
        #: A plain attribute, not a method call: this is on every wait's path.
        self.why: Any = None
        self._since: float | None = None  # set by run_entry: the entry being run was ready since then
        self._cause: Any = None  # ... and this made it ready
        self._starting: GreenThread | None = None  # run_entry is starting this greenthread
        self._woken: dict[Any, float] = {}  # greenlet -> when a Waiter woke it
        self._fd_seen: dict[int, float] = {}  # fd -> when a poll last reported it

    # ------------------------------------------------------------ start / stop
    def start(self, greenlets: bool = True) -> Timeline:
        """Start recording this OS thread's hub (the thread that calls ``start``).

        ``greenlets=False`` only starts the clock, for recordings made of
        ``span``/``event`` calls alone (OS threads, asyncio).
        """
        if self.t0 is not None:
            raise RuntimeError("this Timeline was already started; make a new one")
        if not greenlets:
            self._thread = threading.get_ident()
            self.t0 = clock()
            return self
        hub = get_hub()
        if hub.instrument is not None:
            raise RuntimeError("another recorder is already installed on this thread's hub")
        self._hub = hub
        self._thread = threading.get_ident()
        self._hub_g = hub.greenlet
        self._main_g = hub.main
        cur = greenlet.getcurrent()
        self._first_key = _HUB if cur is hub.greenlet else getattr(cur, "gt", None) or cur
        self.t0 = clock()
        hub.instrument = self
        prev = greenlet.gettrace()
        self._prev_trace = prev
        greenlet.settrace(self._make_tracer(prev))
        return self

    def stop(self) -> Timeline:
        """Stop recording; put back whatever tracer was installed before ``start``."""
        if self.t0 is None or self.t1 is not None:
            return self
        if threading.get_ident() != self._thread:
            raise RuntimeError("stop() must be called from the OS thread that called start()")
        if self._hub is not None:
            greenlet.settrace(self._prev_trace)
            self._prev_trace = None
            if self._hub.instrument is self:
                self._hub.instrument = None
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

    # ------------------------------------------------------------ hooks (hot)
    def _make_tracer(self, prev: Any) -> Any:
        # The function greenlet calls on every switch and throw, in the
        # switching thread, *before* the target runs. It is the hottest code of
        # the recorder -- it decides what recording costs -- hence a closure
        # over locals, and no naming, no formatting: it stores one tuple
        #     (time, key of the lane entered, why the lane that left did[, ready since, cause])
        # The lane that left is the one the record before entered.
        hub_g = self._hub_g
        sw = self._sw
        extra = self._sw_extra
        append = sw.append
        cap = 3 * self.cap  # three slots a switch
        st = self
        woken = self._woken
        left_without_saying = self._left_without_saying
        keys = self._keys

        def trace(event: str, args: Any) -> None:
            try:
                if len(sw) >= cap:
                    st.dropped += 1
                    return
                origin, target = args
                # -- the origin leaves: why? (the hub needs no reason)
                if origin is hub_g:
                    why = None
                else:
                    why = st.why
                    if why is None:
                        why = left_without_saying(origin)
                    else:  # a wait site told us (parking)
                        st.why = None
                # -- the target enters: which lane, and since when could it have run?
                if target is hub_g:
                    append(clock())
                    append(_HUB_ID)
                    append(why)
                    return
                try:
                    key = target.gt  # the greenthread a worker greenlet runs now
                except AttributeError:
                    key = target  # main, or a plain greenlet
                if key is None:  # a worker about to pick up a new greenthread
                    key = st._starting  # (a GreenThread is falsy until it starts: no `or`)
                    if key is None:
                        key = target
                    st._starting = None
                    keys[id(key)] = key
                    extra[len(sw) // 3] = (None, _SPAWN)
                    append(clock())
                    append(id(key))
                    append(why)
                    return
                # Records hold the key's id(), an int, which the garbage
                # collector never scans; a GreenThread it would.
                kid = id(key)
                if kid not in keys:
                    keys[kid] = key  # (and keeps it alive, so the id stays unique)
                if st._since is not None:  # run_entry knows: a timer's deadline, an fd's report
                    extra[len(sw) // 3] = (st._since, st._cause)
                    st._since = None
                elif woken and target in woken:  # a Waiter woke it earlier
                    extra[len(sw) // 3] = (woken.pop(target), "woken")
                append(clock())
                append(kid)
                append(why)
            except Exception:  # a bug here must not take the program down
                st.dropped += 1

        if prev is None:
            return trace

        def trace_and_chain(event: str, args: Any) -> None:
            # Another tracer was installed before us: it still sees every switch.
            try:
                trace(event, args)
            finally:
                prev(event, args)

        return trace_and_chain

    def _left_without_saying(self, origin: Any) -> Any:
        # No wait site called parking(): the greenthread finished (its worker
        # has let go of it, or died), or it waits in a Waiter, which names
        # what it waits for, or in something we don't know.
        if getattr(origin, "gt", False) is None or origin.dead:
            return _EXITED
        return getattr(origin, "minievent_waiting_for", None) or "unknown"

    def parking(self, why: Any) -> None:
        """Say why the running greenthread is about to switch to the hub (same as setting ``why``)."""
        self.why = why

    def on_wake(self, g: Any) -> None:
        """A ``Waiter`` made greenlet ``g`` ready; it resumes when the hub gets to it."""
        self._woken[g] = clock()

    def poll(self, poll: Any, timeout: float | None) -> list[tuple[int, int]]:
        """Run the hub's poll, noting how long it blocked and when it reported each fd."""
        start = clock()
        events = poll(timeout)
        end = clock()
        if timeout != 0.0:
            if len(self._polls) < self.cap:
                self._polls.append((start, end))
            else:
                self.dropped += 1
        seen = self._fd_seen
        for fd, _bits in events:
            seen[fd] = end
        return events

    def _resumed(self, i: int) -> Any:
        # The first switch recorded after index i is the hub entering whom the entry resumed.
        sw = self._sw
        return self._keys[sw[3 * i + 1]] if len(sw) > 3 * i else _HUB

    def run_entry(self, entry: Any) -> None:
        """The hub's run phase calls each ready entry through here while recording."""
        cls = type(entry)
        if cls is Timer:
            if entry.cancelled or entry.called:
                return
            fired = clock()
            fn = entry.fn
            if type(fn) is MethodType and fn.__func__ is _START:  # spawn_after
                self._starting = fn.__self__
            self._since, self._cause = entry.deadline, "timer due"
            i = len(self._sw) // 3
            try:
                entry()
            finally:
                self._since = self._starting = None
                if len(self._timers) < self.cap:
                    self._timers.append((self._resumed(i), entry.deadline, fired))
                else:
                    self.dropped += 1
        elif cls is Listener:
            if not entry.active:
                return
            resumed = clock()
            reported = self._fd_seen.get(entry.fd, resumed)
            self._since, self._cause = reported, ("fd", entry.fd)
            i = len(self._sw) // 3
            try:
                entry()
            finally:
                self._since = None
                key = self._resumed(i)
                if key is not _HUB:
                    if len(self._io) < self.cap:
                        self._io.append((key, entry.fd, entry.evtype, reported, resumed))
                    else:
                        self.dropped += 1
        elif cls is MethodType and entry.__func__ is _START:  # spawn
            self._starting = entry.__self__
            try:
                entry()
            finally:
                self._starting = None
        else:
            entry()

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

    # ------------------------------------------------------------ reading it
    def _rel(self, t: float) -> float:
        return t - self.t0  # type: ignore[operator]

    def _end(self) -> float:
        return self.t1 if self.t1 is not None else clock()

    def _ensure_names(self) -> None:
        # Name every lane in order of first appearance, whatever is asked first.
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
            if why is _EXITED:
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
            for key, fd, ev, rep, res in self._io
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
            if origin != "hub" and not (type(why) is tuple and why[0] is _DONE):
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
            s for s in self.spans()
            if s.state == "running" and s.lane != "hub" and s.lane not in own and s.duration > threshold
        ]

    def __repr__(self) -> str:
        state = "recording" if self.recording else "stopped" if self.t1 is not None else "not started"
        return f"<Timeline {state} {self.duration:.3f}s switches={len(self._sw) // 3} dropped={self.dropped}>"

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
            ev = {"ph": "X", "pid": 1, "tid": tid[s.lane], "name": name, "cat": s.state,
                  "ts": round(s.start * 1e6, 3), "dur": round(s.duration * 1e6, 3)}
            if s.why:
                ev["args"] = {"why": s.why}
            events.append(ev)
        for m in self.marks:
            events.append({"ph": "i", "s": "t", "pid": 1, "tid": tid[m.lane], "name": m.label,
                           "ts": round(m.time * 1e6, 3)})
        for tm in self.timers:
            if tm.lane in tid:
                events.append({"ph": "i", "s": "t", "pid": 1, "tid": tid[tm.lane], "name": "timer fired",
                               "ts": round(tm.fired * 1e6, 3),
                               "args": {"due": round(tm.due, 6), "lateness_ms": round(tm.lateness * 1e3, 3)}})
        trace = {"traceEvents": events, "displayTimeUnit": "ms",
                 "otherData": {"dropped": self.dropped, "recorded_seconds": self.duration}}
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
