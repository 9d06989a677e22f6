"""The capture of minievent's own hub: an instrument on its three single points.

``HubRecorder`` sits on the hub's single points (see ``minievent.instrument``)
and, while recording, only *appends* to one flat list: one record per park
(time, greenthread, why it parked) and one per resume the run phase announces
(time, the entry it calls); ``after_poll`` adds the fds each poll reported.
Turning those into the switch records of ``records.py`` -- what the entry was,
what made it ready and since when -- is ``flush()``'s work, done when somebody
reads the recording, not while the program runs; it writes them through
``Records``' public API like every other capture:

* a greenthread resumed by a bare ``greenlet.switch`` entry (a ``sleep(0)``
  yield) has no resume record -- the hub skips ``resumed`` for those, which
  keeps the hottest path to one append. It started running when the hub
  last let go of the CPU: the park (or poll) just before its own park;
* a resume announced by the run phase does not know *whom* it resumes (a
  timer may run a callback, a waiter wakes a greenlet): the next park names
  the lane; if another resume comes first, the hub ran a plain callback.

``HubCapture`` installs the recorder on the calling thread's hub and names
minievent's lanes: a GreenThread after its name (a worker greenlet runs many
over time), the main greenlet "main", any other greenlet "greenlet".
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
import time
from types import MethodType
from typing import Any

import greenlet

from ..greenthread import GreenThread
from ..hub import _SWITCH, YIELD, Hub, Listener, Timer, get_hub
from ..instrument import Instrument
from ..waiter import Waiter
from .records import HUB, HUB_ID, SPAWN, Capture, Records, _first_at, thread_ident

__all__ = ["HubCapture", "HubRecorder", "in_hub"]

clock = time.monotonic
_START = GreenThread._start
#: The middle slot of a resume record: ``(time, _RESUMED, entry)``.
_RESUMED = object()
_POLLED = object()  # ... of the record of a poll's events: (time, _POLLED, events)
_STOP = object()  # ... of the record stop() writes: (time, _STOP, the lane running)
_NOT_PARKS = (_RESUMED, _POLLED, _STOP)
_UNKNOWN = object()  # the lane of a finished greenthread the recording never saw alive


class HubRecorder(Instrument):
    """Installed on one hub by ``HubCapture``; writes into ``records`` when flushed."""

    def __init__(self, records: Records) -> None:
        self.records = records
        self._lanes = records.lane_ids()
        self._raw: list[Any] = []  # flat, 3 slots a record: (t, lane, why), (t, _RESUMED, entry), (t, _POLLED, events)
        self._scheduled: dict[Any, float] = {}  # entry -> when it was made ready
        self._fd_seen: dict[int, float] = {}  # fd -> when a poll last reported it
        # flush() state: where the raw records stand, as of the last flush.
        first = records.first_key
        self._entered: Any = None if first is HUB else first  # who has the CPU (None: the hub)
        self._prev_t = records.t0  # when the hub last let go of it
        self._pending: tuple | None = None  # a resume whose lane is not known yet: (t, since, cause, row)
        self._polls_seen = 0
        self._resumed_at = -math.inf  # when the resumed hook appended the latest resume,
        self._due_resumed_at = -math.inf  # ... the latest of a Timer or a Waiter (late_since's cues)
        self._hooks()

    # ------------------------------------------------------------ the hooks
    # The class's methods say what each hook does; __init__ replaces each on the instance (what the hub
    # calls: it takes the instance's attribute) by the same code as a closure from _hooks(), which reads
    # what it writes to from its cells rather than from self: parked() runs at every switch.
    def parked(self, g: Any, why: Any) -> None:
        """Append (time, the greenthread a worker greenlet runs -- or the greenlet --, why)."""

    def scheduled(self, entry: Any) -> None:
        """Note when ``entry`` was made ready (not a listener: after_poll notes its fd; not a bare switch)."""

    def before_poll(self, timeout: float | None) -> None:
        """Note when a poll that may block starts."""

    def after_poll(self, events: list[tuple[int, int]]) -> None:
        """File the poll, and append (its end, _POLLED, the fds it reported) when it reported some."""

    def resumed(self, entry: Any) -> None:
        """Append (time, _RESUMED, the entry: a listener as fd << 2 | READ or WRITE). Not for a yield's resume."""

    def _hooks(self) -> None:
        raw, records, ready_at = self._raw, self.records, self._scheduled
        append, drop, cap = raw.append, records.drop, records.cap
        # Records this recorder may still append before it counts the room again: one next() a record
        # (len() of a long list makes a new int each time, and takes longer). Room that trim() frees
        # is found when this runs out, so the raw log never holds more than ``cap`` records.
        left = itertools.repeat(True, cap)
        poll_start = 0.0

        def room() -> bool:
            nonlocal left
            free = cap - len(raw) // 3
            left = itertools.repeat(True, free - 1)
            return free > 0

        def parked(self: HubRecorder, g: Any, why: Any) -> None:
            try:
                next(left)  # (cheaper than next(left, False), measured)
            except StopIteration:
                if not room():
                    drop(2 if why is YIELD else 1)  # (a yield's resume is a switch too)
                    return
            append(clock())  # (three appends: cheaper than building a tuple to extend by)
            try:
                append(g.gt)  # the greenthread a worker greenlet runs
            except AttributeError:
                append(g)  # the main greenlet, or a plain one
            append(why)

        def scheduled(self: HubRecorder, entry: Any) -> None:
            # (Listeners are not announced: one is ready since its poll reported the fd, which
            # after_poll notes.) A bare switch (a worker told to end) never reaches resumed().
            if type(entry) is not _SWITCH:
                ready_at[entry] = clock()

        def before_poll(self: HubRecorder, timeout: float | None) -> None:
            nonlocal poll_start
            poll_start = clock() if timeout != 0.0 else 0.0

        def after_poll(self: HubRecorder, events: list[tuple[int, int]]) -> None:
            end = clock()
            if poll_start:
                records.poll(poll_start, end)
            if events:  # when each fd was reported: flush() reads it at the listener's resume
                if next(left, False) or room():
                    raw.extend((end, _POLLED, events))
                else:
                    drop()

        def resumed(self: HubRecorder, entry: Any) -> None:
            # (Not called for a bare switch, a yield's resume: its park says it.)
            if next(left, False) or room():
                self._resumed_at = t = clock()  # (late_since's cues: a resume since then,
                cls = type(entry)
                if cls is Listener:
                    # A listener as one int, fd << 2 | READ or WRITE (1, 2): numbers cost the garbage
                    # collector nothing, objects kept by the hundred thousand slow every collection down,
                    # and an fd under 64 makes one of the ints Python keeps made (no allocation).
                    entry = entry.fd << 2 | entry.evtype
                elif cls is Timer or cls is Waiter:
                    self._due_resumed_at = t  # one that had a deadline or a wake-up to be late for)
                append(t)
                append(_RESUMED)
                append(entry)
            else:
                drop()

        for hook in (parked, scheduled, before_poll, after_poll, resumed):  # (bound: the hub names the
            setattr(self, hook.__name__, MethodType(hook, self))  # instrument of a hook that fails by __self__)

    def finish(self, current: Any) -> None:
        """Recording stops: the lane still running is the one that calls ``stop()`` (settled on flush)."""
        self._raw.extend((clock(), _STOP, getattr(current, "gt", None) or current))

    # ------------------------------------------------------------ making switch records
    def _resume_info(self, entry: Any, t: float) -> tuple[Any, Any, Any, tuple | None]:
        """What a resumed entry was, for flush(): (since when ready, what made it ready, its lane, row)."""
        cls = type(entry)
        if cls is int:  # a listener, as the hook writes it: fd << 2 | READ or WRITE
            fd, evtype = entry >> 2, entry & 3
            since = self._fd_seen.get(fd, t)
            return since, ("fd", fd), None, ("io", fd, evtype, since, t)
        if cls is Timer:
            fn = entry.fn
            key = fn.__self__ if type(fn) is MethodType and fn.__func__ is _START else None  # spawn_after
            return entry.deadline, "timer due", key, ("timer", entry.deadline, t)
        if cls is Waiter:
            return self._scheduled.pop(entry, t), "woken", None, None
        if cls is MethodType and entry.__func__ is _START:  # spawn
            self._scheduled.pop(entry, None)
            return None, SPAWN, entry.__self__, None
        return self._scheduled.pop(entry, None), None, None, None  # a callback (a kill's throw...)

    def flush(self) -> None:
        """Turn the raw records so far into switch records (the hub's thread, or a decoder's own copy)."""
        raw, records = self._raw, self.records
        polls = sorted(end for _start, end in records.polls(self._polls_seen))
        self._polls_seen += len(polls)
        p = 0
        for i in range(0, len(raw), 3):
            t, key, why = raw[i], raw[i + 1], raw[i + 2]
            while p < len(polls) and polls[p] <= t:  # a poll that ended since is when the hub let go
                self._prev_t = max(self._prev_t, polls[p])
                p += 1
            if key is _STOP:  # whoever stopped the recording was running: a pending resume was theirs,
                gt = self._interrupted()  # unless an interrupt ended the greenthread that ran (a dead one is falsy)
                if self._pending is not None:
                    self._settle(why if gt is None else gt)
                elif gt is not None and self._entered is None:  # it had been resumed by a bare switch (a yield)
                    records.switch(self._prev_t, records.lane(gt), None)
                    self._entered = gt
                continue
            if key is _POLLED:
                for fd, _bits in why:
                    self._fd_seen[fd] = t
                continue
            if key is _RESUMED:
                since, cause, key, row = self._resume_info(why, t)
                self._settle(HUB)  # a resume that nobody parked after was the hub's callback
                self._pending = (t, since, cause, row)
                if key is not None:
                    self._settle(key)
                self._entered = key if key is not None else _RESUMED
                continue
            if key is None:  # a worker whose greenthread just finished: the reason names it by id
                key = self._lanes.get(why[1], _UNKNOWN)
            if self._pending is not None:
                self._settle(key)
            elif self._entered is None:  # the hub had the CPU: resumed by a bare switch (a yield)
                records.switch(self._prev_t, records.lane(key), None)
            records.switch(t, HUB_ID, why)
            self._entered, self._prev_t = None, t
        del raw[:]

    def _interrupted(self) -> Any:
        """The greenthread a KeyboardInterrupt or SystemExit ended while it ran, if any.

        Those go from the greenthread to the main greenlet around the hub's one resume
        point, so no park record says who ran until then (Ctrl-C inside a long task).
        """
        for key in list(self._lanes.values()):
            end = getattr(key, "_exit", None) if type(key) is GreenThread else None
            if end is not None and isinstance(end[1], (KeyboardInterrupt, SystemExit)):
                return key
        return None

    def _settle(self, key: Any) -> None:
        # Write the pending resume, now that its lane is known, and its timer or I/O row.
        if self._pending is None:
            return
        (t, since, cause, row), self._pending = self._pending, None
        records = self.records
        records.switch(t, records.lane(key), None, since, cause)
        if row is None or (row[0] == "io" and key is HUB):  # (I/O only the hub saw, its doorbell: no lane's)
            return
        if row[0] == "timer":
            records.timer(key, *row[1:])
        else:
            records.io(key, *row[1:])

    # ------------------------------------------------------------ reading while it records
    def latest(self) -> tuple[int, float, Any]:
        """(records so far, time of the latest, its lane's id or None if the records can't say). Any thread."""
        raw = self._raw
        n = len(raw) // 3
        if not n:
            entered = self._entered
            return (self.records.switch_count(), self._prev_t, None if entered is None else id(entered))
        t, key, why = raw[3 * n - 3], raw[3 * n - 2], raw[3 * n - 1]
        count = n + self.records.switch_count()
        if key is _RESUMED and type(why) is MethodType and why.__func__ is _START:  # a spawn: we know whom
            return (count, t, id(why.__self__))
        # After a park the hub has the CPU -- or a yield it resumed with a bare switch: unknown.
        return (count, t, None)

    def trim(self, horizon: float) -> int:
        """Drop the raw records older than ``horizon``, and the entries made ready before it that never ran.
        For a recording nobody flushes while it runs (the flight recorder's, read through ``window()``).
        Near the cap the oldest go too, down to 3/4 of it: the hooks refuse what is beyond the cap, and a
        flight recorder keeps the latest. A chunk at a time (an eighth of the log at least): each cut
        moves what stays, and at every look of a busy loop's watchdog that was the whole log.
        Returns how many records went."""
        raw = self._raw
        n, cap = len(raw) // 3, self.records.cap
        k = _first_at(raw, n, horizon)
        if n > cap - cap // 8:
            k = max(k, n - (cap - cap // 4))
        if k and 8 * k >= n:
            del raw[: 3 * k]  # (one statement: the hub's appends go on after it)
            self.records.trimmed = True
        else:
            k = 0
        for entry, since in list(self._scheduled.items()):
            if since < horizon:
                self._scheduled.pop(entry, None)
        return k

    def window(self, since: float, until: float) -> Records:
        """The records from ``since`` to ``until``, decoded from a copy of the raw log (any thread; the live
        recording is not touched). They start at the first park after ``since``, when the hub had the CPU."""
        live = self._raw
        n = len(live) // 3
        start = _first_at(live, n, since)  # (the hub only appends; only the reader's thread trims)
        raw = live[3 * start : 3 * n]  # (the part asked for: a copy of the whole log at every look is long)
        n -= start
        i = 0
        while i < n and any(raw[3 * i + 1] is x for x in _NOT_PARKS):
            i += 1
        out = Records(2 * self.records.cap)  # (up to two switches a raw record: a yield, or a resume and its park)
        out.t0 = raw[3 * i] if i < n else since
        out.thread = self.records.thread
        out.first_key = HUB
        for start, end in self.records.polls():
            if end >= out.t0:
                out.poll(start, end)
        decoder = HubRecorder(out)
        decoder._raw = raw[3 * (i + 1) : 3 * n]  # (the park itself: the hub had the CPU from then)
        decoder._scheduled = dict(self._scheduled)
        decoder.flush()
        out.t1 = until
        return out

    def late_since(self, since: float, by: float, held: float | None = None) -> tuple[float | None, bool, Any]:
        """For a watchdog between two looks, without decoding: the time of the latest park from ``since`` on
        (None: none), whether a resume before it came more than ``by`` seconds after its timer's deadline
        or its wake, and (``held`` given, else None) the runs ``held`` or longer that ``window()`` would find
        there when it holds no resume (a loop of yields: no schedule latency to count), None when it has
        one (decode it). Any thread; one pass over the new part of the raw log -- none when no timer's or
        waiter's resume was appended since ``since`` (the resumed hook notes when the latest was; I/O and
        yields have no deadline to be late for), but to find the runs of a part with no resume at all."""
        raw = self._raw
        n = len(raw) // 3  # (before reading the cues: a resume before a park counted here was noted)
        start = _first_at(raw, n, since)
        if self._due_resumed_at < since:  # (nothing can be late: no copy of the part)
            last = n - 1
            while last >= start and any(raw[3 * last + 1] is x for x in _NOT_PARKS):
                last -= 1
            if last < start:
                return None, False, None
            runs = None
            if held is not None and self._resumed_at < since:  # (a loop of yields)
                stop = 3 * last + 1
                runs = self._runs(raw[3 * start : stop : 3], raw[3 * start + 1 : stop : 3], held)
            return raw[3 * last], False, runs
        part = raw[3 * start : 3 * n]
        times, mids, whats = part[0::3], part[1::3], part[2::3]
        last = len(mids) - 1
        while last >= 0 and any(mids[last] is x for x in _NOT_PARKS):
            last -= 1
        if last < 0:
            return None, False, None
        # (at C speed, by identity, calling no __eq__ or __hash__ of the program's: a loop of yields announces none)
        if not any(map(operator.is_, mids[:last], itertools.repeat(_RESUMED))):
            runs = None if held is None else self._runs(times[: last + 1], mids[: last + 1], held)
            return times[last], False, runs
        sched = self._scheduled
        for k in [k for k, m in enumerate(mids[:last]) if m is _RESUMED]:
            entry = whats[k]
            due = entry.deadline if type(entry) is Timer else sched.get(entry) if type(entry) is Waiter else None
            if due is not None and times[k] - due > by:
                return times[last], True, None
        return times[last], False, None

    def _runs(self, times: list, mids: list, floor: float) -> list[float] | None:
        """The runs ``floor`` or longer in a part of parks (and polls' events) with no resume, as flush()
        finds them: a lane a bare switch resumed ran from the park before its own, or from a poll's end
        if later. None: a stop record in it (decode it)."""
        if any(map(operator.is_, mids, itertools.repeat(_STOP))):
            return None
        if any(map(operator.is_, mids, itertools.repeat(_POLLED))):  # (a zero-timeout poll's events: no park)
            times = [t for t, m in zip(times, mids, strict=True) if m is not _POLLED]
        gaps = list(map(operator.sub, times[1:], times[:-1]))
        if max(gaps, default=0.0) < floor:  # (a run is no longer than the gap between its park and the last)
            return []
        ends = [end for _start, end in self.records.polls()]  # (in order: the hub appends them)
        runs = []
        for k in [k for k, gap in enumerate(gaps) if gap >= floor]:
            i = bisect.bisect_right(ends, times[k + 1])
            ran = times[k + 1] - (max(times[k], ends[i - 1]) if i else times[k])
            if ran >= floor:
                runs.append(ran)
        return runs


class HubCapture(Capture):
    """Records the hub of the OS thread that installs it."""

    kind = "minievent"

    def install(self, records: Records) -> None:
        hub = get_hub()  # (other instruments may be installed on it: the flight recorder, another recording)
        self.records, self.hub, self.main = records, hub, hub.main
        cur = greenlet.getcurrent()
        records.begin(HUB if cur is hub.greenlet else getattr(cur, "gt", None) or cur)
        self.recorder = HubRecorder(records)
        hub.add_instrument(self.recorder)

    def uninstall(self) -> None:
        if thread_ident() != self.records.thread:  # type: ignore[union-attr]
            raise RuntimeError("stop() must be called from the OS thread that called start()")
        if self.recorder in self.hub.instruments:  # (not if a failing hook had it removed)
            self.hub.remove_instrument(self.recorder)
        self.recorder.finish(greenlet.getcurrent())

    def flush(self) -> None:
        self.recorder.flush()

    def latest(self) -> tuple[int, float, int | None]:
        return self.recorder.latest()

    # -- a window of a recording that runs (the flight recorder's), read from another OS thread
    def trim(self, horizon: float) -> int:
        """Drop what is older than ``horizon``: the raw log (see ``HubRecorder.trim``) and the polls."""
        self.records.trim_polls(horizon)  # type: ignore[union-attr]
        return self.recorder.trim(horizon)

    def window(self, since: float, until: float) -> Records:
        """The records from ``since`` to ``until`` (``HubRecorder.window``)."""
        return self.recorder.window(since, until)

    def late_since(self, since: float, by: float, held: float | None = None) -> tuple[float | None, bool, Any]:
        """Whether anything ran late since ``since``, and the runs ``held`` or longer when no decoding
        is needed for the metrics (``HubRecorder.late_since``)."""
        return self.recorder.late_since(since, by, held)

    def lane_name(self, key: Any) -> str:
        if isinstance(key, GreenThread):
            return str(key.name)
        return "main" if key is self.main else "greenlet"


def in_hub(frame: Any) -> bool:
    """Whether ``frame`` runs in minievent's hub greenlet (the bottom of its stack is ``Hub.run``).

    For a watchdog: after a yield, the records cannot say who runs; the stack can.
    """
    while frame.f_back is not None:
        frame = frame.f_back
    return frame.f_code is Hub.run.__code__
