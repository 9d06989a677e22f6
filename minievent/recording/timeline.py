"""The timeline: who ran, who waited and who was ready, and what to make of a recording.

    with minievent.record() as tl:
        ...                       # anything that uses greenthreads
    tl.spans()                    # who ran, who waited (on what), who was ready
    tl.to_chrome_trace("t.json")  # open in https://ui.perfetto.dev

This module is the *analysis and export*: it reads the raw records
(``records.py``) that a capture wrote -- minievent's hub (``minievent.py``)
unless the ``Timeline`` was given another -- and turns them into switches,
spans, timer and I/O lateness, and a Chrome trace; ``load`` reads such a
trace back (a ``Recording``), for a program recorded in another process
(``minievent.trace.load`` is the same function).

Each greenthread's life is a sequence of three states: **running**;
**waiting** (for a timer, an fd, an event...); and **ready**: what it waited
for has happened, but it cannot run, because another greenthread holds the
hub. A long "ready" span is the picture of cooperative scheduling going wrong:
the heartbeat was due, and nobody let it in.

Lanes get their names when somebody looks, so a recording keeps the
greenthreads it saw alive until it is dropped.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..hub import READ
from ..wording import WORDING, why_text
from .minievent import HubCapture
from .records import DEFAULT_CAP, DONE, HUB, SPAWN, YIELD, Capture, Records, clock

__all__ = [
    "Timeline",
    "Switch",
    "TimerRecord",
    "IORecord",
    "Span",
    "Mark",
    "WORDING",
    "why_text",
    "culprit",
    "program_part",
    "late_text",
    "Recording",
    "load",
]


# ---------------------------------------------------------------- what the analysis gives
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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Mark:
    """A point in time on a lane, from ``Timeline.event`` (for code outside greenthreads)."""

    lane: str
    time: float
    label: str


@dataclass(slots=True)
class _LaneState:
    state: str
    since: float
    why: Any = None


# ---------------------------------------------------------------- who held the loop, in the service's words
#: Packages whose frames are the loop's or the service framework's machinery: never what a held run is named after.
MACHINERY = ("eventlet", "gevent", "greenlet", "oslo_service", "oslo_utils", "futurist", "asyncio", "minievent")
_STDLIB = os.path.dirname(os.__file__)
#: the events ``write_chrome_trace`` encodes at once
_BATCH = 256  # (json.dumps holds about 1.5 KB an event while it encodes: 256 of them, ~0.4 MB)
_SCENARIOS = os.sep + os.path.join("minievent", "scenarios") + os.sep  # (the course's services: program code)


def _machinery(filename: str) -> bool:
    if filename.startswith("<frozen"):
        return True  # (runpy, importlib)
    if _SCENARIOS in filename:
        return False
    if filename.startswith(_STDLIB) and os.sep + "site-packages" + os.sep not in filename:
        return True  # the stdlib (a service installed in site-packages is not)
    parts = filename.split(os.sep)
    return any(name in parts for name in MACHINERY)


def culprit(stack: Sequence[Any]) -> Any | None:
    """The frame a held run is named after, from its stack (outermost first; frames with ``function`` and
    ``filename``): the periodic task that oslo.service's ``run_periodic_tasks`` called (``_sync_power_states``),
    else the innermost frame of the program's own code (not the stdlib's, the loop's, oslo's), else the innermost.

    The innermost line alone (``spin.<locals>.<genexpr>``) says what the CPU did, not whose work it was.
    """
    for outer, inner in zip(stack, stack[1:], strict=False):
        if outer.function.rsplit(".", 1)[-1] == "run_periodic_tasks" and "oslo_service" in outer.filename:
            return inner
    for frame in reversed(stack):
        if not _machinery(frame.filename):
            return frame
    return stack[-1] if stack else None


_RUNNERS = ("runpy.py", "<frozen runpy>", os.path.join("recording", "program.py"))


def program_part(stack: Sequence[Any]) -> tuple:
    """A sampled stack from the program's own entry on: what runs the program (runpy, minievent's runner) left
    out, and on asyncio what runs the step (the loop, from ``asyncio.run`` to ``Handle._run``): the task's
    coroutine is the top."""
    cut = 0
    for i, frame in enumerate(stack):
        if frame.filename.endswith(_RUNNERS) or (frame.function == "Handle._run" and "asyncio" in frame.filename):
            cut = i + 1
    return tuple(stack[cut:])


def late_text(lane: str, due: float, fired: float) -> str:
    """A late timer or heartbeat in words: "report_state ran 1.31 s late (due 1.00 s, ran 2.31 s)"."""
    return f"{lane} ran {fired - due:.2f} s late (due {due:.2f} s, ran {fired:.2f} s)"


def _exit_why(key: Any) -> tuple[str, str]:
    exit_ = getattr(key, "_exit", None)
    if exit_ is not None and not exit_[0]:
        return (DONE, f"raised {type(exit_[1]).__name__}")
    return (DONE, "exit")


# ---------------------------------------------------------------- the timeline
class Timeline:
    """A recording of one OS thread's loop. ``start()``/``stop()``, or use it as a context manager.

    ``capture``: what writes the records (``minievent.record(loop=...)`` picks
    one); None: minievent's hub in the thread that calls ``start()``.
    """

    def __init__(self, cap: int = DEFAULT_CAP, capture: Capture | None = None) -> None:
        self.records = Records(cap)
        self.capture = capture
        self._live = True  # False: a window() copy, whose capture only names lanes
        self._cached: tuple[tuple, list[Span]] | None = None  # (what the records held, their spans)
        self._notes: dict[float, str] = {}  # start of a run (clock()) -> what it did: note_run()
        self._names: dict[Any, str] = {}  # lane key -> lane name
        self._name_count: dict[str, int] = {}  # base name -> how many lanes use it
        self._named_upto = 0  # switch records whose lanes have names

    @property
    def cap(self) -> int:
        return self.records.cap

    @property
    def dropped(self) -> int:
        return self.records.dropped

    @property
    def t0(self) -> float | None:
        """When the recording began (clock() seconds); a reader may move it (a lesson's time 0)."""
        return self.records.t0

    @t0.setter
    def t0(self, t: float | None) -> None:
        self.records.t0 = t

    @property
    def t1(self) -> float | None:
        """When it ended (None: still recording)."""
        return self.records.t1

    @t1.setter
    def t1(self, t: float | None) -> None:
        self.records.t1 = t

    @property
    def loop(self) -> str:
        """Which loop was recorded: "minievent", "eventlet", "gevent" or "asyncio"."""
        return self.capture.kind if self.capture is not None else "minievent"

    # ------------------------------------------------------------ start / stop
    def start(self, greenlets: bool = True) -> Timeline:
        """Start recording this OS thread's loop (the thread that calls ``start``).

        ``greenlets=False`` only starts the clock, for recordings made of
        ``span``/``event`` calls alone (OS threads, asyncio).
        """
        if self.t0 is not None:
            raise RuntimeError("this Timeline was already started; make a new one")
        if not greenlets:
            self.capture = None
            self.records.begin()
            return self
        if self.capture is None:
            self.capture = HubCapture()
        self.capture.install(self.records)
        return self

    def stop(self) -> Timeline:
        """Stop recording (from the OS thread that started it)."""
        if self.t0 is None or self.t1 is not None:
            return self
        if self.capture is not None:
            self.capture.uninstall()
        self.records.end()
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

    @property
    def thread(self) -> int | None:
        """The OS thread recorded (its ident in ``sys._current_frames()``)."""
        return self.records.thread

    def latest(self) -> tuple[int, float, int | None]:
        """(switches so far, time of the latest, id of the lane it entered; None: unknown). Any thread."""
        if self.capture is not None and self._live:
            return self.capture.latest()
        return self.records.latest()

    @property
    def trimmed(self) -> bool:
        """Whether records older than a window were dropped (the recording no longer reaches its start)."""
        return self.records.trimmed

    def window(self, since: float, until: float) -> Timeline:
        """A stopped copy of the recording from ``since`` to ``until`` (clock() times), read while it records.

        Any thread: the loop goes on writing into this one. (Not for minievent's
        own hub yet: its capture turns its raw log into records only in the
        loop's thread, so a copy from elsewhere holds what was last flushed.)
        """
        out = Timeline(self.cap, self.capture)
        out.records = self.records.window(since, until)
        out._live = False
        return out

    # ------------------------------------------------------------ naming lanes
    def base_name(self, key: Any) -> str:
        """The name of the lane of ``key`` before names seen twice are numbered ("name#2")."""
        return "hub" if key is HUB or self.capture is None else self.capture.lane_name(key)

    def lane_keys(self) -> list[Any]:
        """Every lane key recorded so far (a GreenThread, a greenlet, a task, "hub"...)."""
        return list(self.records.lane_ids().values())

    def name_lane(self, key: Any, base: str) -> str:
        """Name the lane of ``key`` after ``base`` (numbered if taken), unless it has a name already; its name.

        For a reader that knows better than the capture what a lane runs (the
        flight recorder names oslo's looping calls): call it before reading.
        """
        name = self._names.get(key)
        if name is None:
            n = self._name_count.get(base, 0) + 1
            self._name_count[base] = n
            name = self._names[key] = base if n == 1 else f"{base}#{n}"
        return name

    def _name(self, key: Any) -> str:
        # Lanes get their names when somebody looks, not while recording (it
        # is cheaper): the key is the GreenThread itself (a worker greenlet
        # runs many over time), the main greenlet, a plain greenlet, a task, or "hub".
        # A second greenthread with the same name -- 100 handlers of one
        # server -- gets "name#2", and so on, in order of first appearance.
        name = self._names.get(key)
        return name if name is not None else self.name_lane(key, self.base_name(key))

    @property
    def outside_lane(self) -> str | None:
        """The lane of the code outside the loop in its thread (asyncio's), or None."""
        key = self.capture.outside() if self.capture is not None else None
        return None if key is None else self._name(key)

    def note_run(self, start: float, why: str) -> None:
        """Say what the run that began at ``start`` (a clock() time, as ``latest()`` gives it) did:
        its running span's ``why`` (the line where a watchdog saw it hold the loop, say)."""
        self._notes[start] = why

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
        self.records.span(lane, label, start, end, state)

    def event(self, lane: str, label: str) -> None:
        """Record an instant on ``lane`` (e.g. "heartbeat sent" from a native thread). Any thread."""
        self.records.mark(lane, label, clock())

    # ------------------------------------------------------------ reading it
    def _rel(self, t: float) -> float:
        return t - self.t0  # type: ignore[operator]

    def _end(self) -> float:
        return self.t1 if self.t1 is not None else clock()

    def _ensure_names(self) -> None:
        # Every reader comes through here: first have the capture write what it
        # holds back, then name every lane in order of first appearance.
        rec = self.records
        if self.capture is not None and self._live:
            self.capture.flush()
        if rec.first_key is not None:
            self._name(rec.first_key)
        name = self._name
        for key in rec.entered(self._named_upto):
            name(key)
        self._named_upto = rec.switch_count()

    def _with_origins(self) -> Iterator[tuple]:
        # Each raw switch record names the lane entered; the lane that left is
        # the one the record before entered.
        self._ensure_names()
        names = self._names
        okey = self.records.first_key
        origin = names.get(okey, "main")
        for _n, t, key, why, since, cause in self.records.switches():
            if type(why) is tuple and why[0] == DONE and not isinstance(why[1], str):
                why = _exit_why(okey)
            lane = names[key]
            yield t, origin, lane, why, since, cause
            origin, okey = lane, key

    @property
    def switch_count(self) -> int:
        """How many switches were recorded (``len(tl.switches)``, without making them)."""
        self._ensure_names()
        return self.records.switch_count()

    @property
    def switches(self) -> list[Switch]:
        r = self._rel
        return [Switch(r(t), o, g, why_text(why)) for t, o, g, why, _s, _c in self._with_origins()]

    @property
    def timers(self) -> list[TimerRecord]:
        r, name = self._rel, self._name
        self._ensure_names()
        return [TimerRecord(name(key), r(due), r(fired)) for key, due, fired in self.records.timers()]

    @property
    def io(self) -> list[IORecord]:
        r, name = self._rel, self._name
        self._ensure_names()
        return [
            IORecord(name(key), fd, "read" if ev == READ else "write", r(rep), r(res))
            for key, fd, ev, rep, res in filter(None, self.records.ios())
        ]

    @property
    def marks(self) -> list[Mark]:
        r = self._rel
        return sorted((Mark(lane, r(t), label) for lane, label, t in self.records.marks()), key=lambda m: m.time)

    @property
    def lanes(self) -> list[str]:
        """Every lane, in order of first appearance (the hub first)."""
        seen: dict[str, None] = {"hub": None} if self.capture is not None else {}
        self._ensure_names()
        rec = self.records
        if rec.first_key is not None:
            seen[self._names[rec.first_key]] = None
        names = self._names
        for key in rec.entered():
            seen[names[key]] = None
        for lane, *_ in sorted(rec.spans(), key=lambda s: s[2]):
            seen[lane] = None
        for lane, _label, _t in rec.marks():
            seen[lane] = None
        return list(seen)

    def spans(self) -> list[Span]:
        """Every lane's running / ready / waiting intervals, sorted by start time."""
        if self.t0 is None:
            return []
        if self.t1 is None:
            return self._spans()
        # Stopped: worked out once (the report, the trace and the picture each ask), again if a reader
        # added a span or a lane name since.
        self._ensure_names()
        rec = self.records
        key = (
            rec.switch_count(),
            len(rec.spans()),
            len(rec.marks()),
            rec.timer_count(),
            len(self._names),
            len(self._notes),
        )
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, self._spans())
        return list(self._cached[1])

    def _spans(self) -> list[Span]:
        r = self._rel
        out: list[Span] = []
        states: dict[str, _LaneState] = {}
        notes = self._notes

        def close(lane: str, t: float) -> _LaneState | None:
            st = states.pop(lane, None)
            if st is not None and t > st.since:
                why = notes.get(st.since) if st.state == "running" and notes else why_text(st.why)
                out.append(Span(lane, r(st.since), r(t), st.state, why))
            return st

        self._ensure_names()
        first = self.records.first_key
        if first is not None:
            states[self._names[first]] = _LaneState("running", self.t0)
        seen = set(states)
        for t, origin, target, why, since, cause in self._with_origins():
            close(origin, t)
            if origin != "hub" and not (type(why) is tuple and why[0] == DONE):
                states[origin] = _LaneState("ready" if why == YIELD else "waiting", t, why)
            prev = states.get(target)
            if prev is None and target not in seen and cause is not SPAWN and target != "hub":
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
        # A lane whose timer fell due, or whose event was sent, but that never ran again before the
        # recording ended (stopped, or Ctrl-C, while another held the loop) was ready from then to
        # the end, not waiting: the capture says since when where it knows (asyncio: a task whose
        # timer was due when its loop stopped); else a sleep's own length does.
        pending = self.capture.ready_at_end(end) if self.capture is not None else {}
        known = {self._names.get(key): ready for key, ready in pending.items()}
        for lane in list(states):
            st = states[lane]
            why = st.why
            if st.state == "waiting":
                ready = known.get(lane)
                if ready is None and type(why) is tuple and len(why) == 2 and why[0] == "sleep":
                    ready = (st.since + why[1], "timer due")
                if ready is not None and st.since < ready[0] < end:
                    close(lane, ready[0])
                    states[lane] = _LaneState("ready", ready[0], ready[1])
            close(lane, end)
        out = self._split_hub_polls(out)
        for lane, label, start, stop, state in self.records.spans():
            out.append(Span(lane, r(start), r(stop), state, label))
        out.sort(key=lambda s: (s.start, s.lane))
        return out

    def _split_hub_polls(self, spans: list[Span]) -> list[Span]:
        # While the hub blocks in epoll_wait it is waiting for the kernel, not
        # running: cut those stretches out of its running spans.
        polls = self.records.polls()
        if not polls:
            return spans
        r = self._rel
        polls = sorted((r(a), r(b)) for a, b in polls)
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
        own = {lane for lane, *_ in self.records.spans()}
        return [
            s
            for s in self.spans()
            if s.state == "running" and s.lane != "hub" and s.lane not in own and s.duration > threshold
        ]

    def __repr__(self) -> str:
        state = "recording" if self.recording else "stopped" if self.t1 is not None else "not started"
        return f"<Timeline {state} {self.duration:.3f}s switches={self.switch_count} dropped={self.dropped}>"

    # ------------------------------------------------------------ export
    def to_chrome_trace(self, path: Any = None) -> dict:
        """The recording as Chrome trace events (Perfetto, chrome://tracing); written to ``path`` if given.

        Each lane is a "thread" of one process; each span a complete event
        ("X") named after its state, with the reason in ``args``; marks and
        late timers are instant events ("i"). Times are microseconds.
        ``write_chrome_trace`` writes the same without holding it all.
        """
        trace = {"traceEvents": list(self._chrome_events()), "displayTimeUnit": "ms", "otherData": self._other_data()}
        if path is not None:
            text = json.dumps(trace)  # (dumps is the C encoder; dump to a file is pure Python, ten times slower)
            with open(path, "w") as f:
                f.write(text)
        return trace

    def write_chrome_trace(self, out: Any, other: dict | None = None) -> None:
        """Write ``to_chrome_trace()``'s trace to ``out`` (a path or a text file), ``other`` added to its
        ``otherData``: a batch of events at a time, so that the memory it takes is a batch's, not the
        trace's (a flight recorder's incident is written inside the service, and its window can hold
        100,000 spans: their dicts and text at once would be tens of MB the service keeps)."""
        if not hasattr(out, "write"):
            with open(out, "w") as f:
                self.write_chrome_trace(f, other)
            return
        events = self._chrome_events()
        out.write('{"traceEvents": [')
        sep = ""
        while batch := list(itertools.islice(events, _BATCH)):
            out.write(sep + json.dumps(batch)[1:-1])  # (the C encoder a batch at a time)
            sep = ", "
        out.write(f'], "displayTimeUnit": "ms", "otherData": {json.dumps({**self._other_data(), **(other or {})})}}}')

    def _other_data(self) -> dict:
        return {"dropped": self.dropped, "recorded_seconds": self.duration, "loop": self.loop}

    def _chrome_events(self) -> Iterator[dict]:
        # The thread's code outside asyncio's loop is not the loop's: one thread, one lane (the loop's).
        outside = self.outside_lane
        spans = [s for s in self.spans() if s.lane != outside]
        lanes = [lane for lane in self.lanes if lane != outside]
        tid = {lane: i + 1 for i, lane in enumerate(dict.fromkeys([*lanes, *(s.lane for s in spans)]))}
        yield {"ph": "M", "pid": 1, "tid": 0, "name": "process_name", "args": {"name": "minievent"}}
        for lane, i in tid.items():
            yield {"ph": "M", "pid": 1, "tid": i, "name": "thread_name", "args": {"name": lane}}
            yield {"ph": "M", "pid": 1, "tid": i, "name": "thread_sort_index", "args": {"sort_index": i}}
        own = {lane for lane, *_ in self.records.spans()}  # (lanes of code outside the loop: add_span's)
        for s in spans:
            # A span of add_span() is named after what it ran; a lane of the loop after its state (a
            # held run's line, from note_run(), is in its args).
            name = s.why if s.state == "running" and s.why and s.lane in own else s.state
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
            yield ev
        for m in self.marks:
            if m.lane in tid:
                yield {"ph": "i", "s": "t", "pid": 1, "tid": tid[m.lane], "name": m.label, "ts": round(m.time * 1e6, 3)}
        for tm in self.timers:
            if tm.lane in tid:
                yield {
                    "ph": "i",
                    "s": "t",
                    "pid": 1,
                    "tid": tid[tm.lane],
                    "name": "timer fired",
                    "ts": round(tm.fired * 1e6, 3),
                    "args": {"due": round(tm.due, 6), "lateness_ms": round(tm.lateness * 1e3, 3)},
                }


@dataclass
class Recording:
    """A recording read back from a Chrome trace (``load``): enough of a ``Timeline`` for
    ``spans()``, ``blocked()``, ``lanes``, ``marks``, ``timers`` and ``minievent.plot.swimlanes``."""

    lanes: list[str]
    duration: float
    _spans: list[Span]
    marks: list[Mark]
    timers: list[TimerRecord]
    dropped: int = 0
    _trace: dict = field(default_factory=dict, repr=False)
    #: the loop recorded ("minievent", "eventlet", "gevent", "asyncio"; "" for a trace that does not say)
    loop: str = ""

    def spans(self) -> list[Span]:
        return list(self._spans)

    def to_chrome_trace(self, path: Any = None) -> dict:
        """The trace it was read from (written to ``path`` if given), as ``Timeline.to_chrome_trace``."""
        if path is not None:
            self.write_chrome_trace(path)
        return self._trace

    def write_chrome_trace(self, out: Any, other: dict | None = None) -> None:
        """The trace it was read from, to ``out`` (a path or a text file), as ``Timeline.write_chrome_trace``."""
        if not hasattr(out, "write"):
            with open(out, "w") as f:
                self.write_chrome_trace(f, other)
            return
        trace = (
            self._trace
            if other is None
            else {**self._trace, "otherData": {**self._trace.get("otherData", {}), **other}}
        )
        out.write(json.dumps(trace))

    def blocked(self, threshold: float) -> list[Span]:
        return [s for s in self._spans if s.state == "running" and s.lane != "hub" and s.duration > threshold]


def load(trace: Any) -> Recording:
    """Read a Chrome trace written by ``Timeline.to_chrome_trace`` (a path, or the dict it returned).

    For programs recorded in another process -- ``python -m minievent trace
    --trace t.json script.py``, an eventlet service in a subprocess -- so that
    the notebook or tool that draws them never imports their library.
    """
    if not isinstance(trace, dict):
        with open(trace) as f:
            trace = json.load(f)
    events = trace["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    spans, marks, timers = [], [], []
    for e in events:
        lane = names.get(e.get("tid"))
        if e["ph"] == "X":
            start = e["ts"] / 1e6
            spans.append(Span(lane, start, start + e["dur"] / 1e6, e["cat"], e.get("args", {}).get("why")))
        elif e["ph"] == "i" and e["name"] == "timer fired":
            fired = e["ts"] / 1e6
            timers.append(TimerRecord(lane, fired - e["args"]["lateness_ms"] / 1e3, fired))
        elif e["ph"] == "i":
            marks.append(Mark(lane, e["ts"] / 1e6, e["name"]))
    spans.sort(key=lambda s: (s.start, s.lane))
    other = trace.get("otherData", {})
    duration = other.get("recorded_seconds") or max((s.end for s in spans), default=0.0)
    lanes = [names[t] for t in sorted(names)]
    return Recording(lanes, duration, spans, marks, timers, other.get("dropped", 0), trace, other.get("loop", ""))
