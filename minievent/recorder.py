"""The hub recorder: the instrument that writes minievent's switches into a ``Timeline``.

It sits on the hub's three single points (see ``minievent.instrument``) and,
while recording, only *appends* to one flat list: one record per park (time,
greenthread, why it parked) and one per resume the run phase announces (time,
the entry it calls); ``after_poll`` adds the fds each poll
reported. Turning those into the switch records that ``Timeline`` reads
(``timeline.py`` documents them) -- what the entry was, what made it ready and
since when -- is ``flush()``'s work, done when somebody reads the recording,
not while the program runs:

* a greenthread resumed by a bare ``greenlet.switch`` entry (a ``sleep(0)``
  yield) has no resume record -- the hub skips ``resumed`` for those, which
  keeps the hottest path to one append. It started running when the hub
  last let go of the CPU: the park (or poll) just before its own park;
* a resume announced by the run phase does not know *whom* it resumes (a
  timer may run a callback, a waiter wakes a greenlet): the next park names
  the lane; if another resume comes first, the hub ran a plain callback.

Lanes are the GreenThread a worker greenlet runs at that moment (a worker
runs many), the main greenlet, or a plain greenlet.
"""

from __future__ import annotations

import time
from types import MethodType
from typing import Any

from .greenthread import GreenThread
from .hub import _SWITCH, YIELD, Hub, Listener, Timer
from .instrument import Instrument
from .waiter import Waiter

clock = time.monotonic
_START = GreenThread._start
#: The middle slot of a resume record: ``(time, RESUMED, entry)``.
RESUMED = "resumed"
_POLLED = object()  # the middle slot of the record of a poll's events (a park's: the lane)


_STOP = object()  # ... of the record stop() writes
_UNKNOWN = object()  # the lane of a finished greenthread the recording never saw alive


class HubRecorder(Instrument):
    """Installed on one hub by ``Timeline.start()``; writes into that timeline."""

    def __init__(self, timeline: Any, hub: Hub, hub_id: int, spawn: str) -> None:
        self.tl = timeline
        self.hub = hub
        self._hub_id = hub_id
        self._spawn = spawn
        self._raw: list[Any] = []  # flat, 3 slots a record: (t, lane, why), (t, RESUMED, entry), (t, _POLLED, events)
        self._scheduled: dict[Any, float] = {}  # entry -> when it was made ready
        self._fd_seen: dict[int, float] = {}  # fd -> when a poll last reported it
        self._poll_start = 0.0
        # flush() state: where the raw records stand, as of the last flush.
        self._by_id: dict[int, Any] = {}
        timeline._keys.setdefault(-1, "hub")  # a resume read before its lane is known shows as the hub's
        first = timeline._first_key
        self._entered: Any = None if timeline._keys.get(hub_id) is first else first  # who has the CPU (None: the hub)
        self._prev_t = timeline.t0  # when the hub last let go of it
        self._pending = -1  # switch number of a resume whose lane is not known yet
        self._pending_row: tuple | None = None  # ... and its timer or I/O row
        self._polls_seen = 0
        self._room = 3 * timeline.cap  # (slots in _raw)

    # ------------------------------------------------------------ the hooks
    def parked(self, g: Any, why: Any) -> None:
        raw = self._raw
        if len(raw) < self._room:  # (three appends: cheaper than building a tuple to extend by)
            raw.append(clock())
            try:
                raw.append(g.gt)  # the greenthread a worker greenlet runs
            except AttributeError:
                raw.append(g)  # the main greenlet, or a plain one
            raw.append(why)
        else:
            self.tl.dropped += 2 if why is YIELD else 1  # (a yield's resume is a switch too)

    def scheduled(self, entry: Any) -> None:
        # (Listeners are not announced: one is ready since its poll reported the fd, which
        # after_poll notes.) A bare switch (a worker told to end) never reaches resumed().
        if type(entry) is not _SWITCH:
            self._scheduled[entry] = clock()

    def before_poll(self, timeout: float | None) -> None:
        self._poll_start = clock() if timeout != 0.0 else 0.0

    def after_poll(self, events: list[tuple[int, int]]) -> None:
        end = clock()
        tl = self.tl
        if self._poll_start:
            if len(tl._polls) < tl.cap:
                tl._polls.append((self._poll_start, end))
            else:
                tl.dropped += 1
        if events:  # when each fd was reported: flush() reads it at the listener's resume
            raw = self._raw
            if len(raw) < self._room:
                raw.extend((end, _POLLED, events))
            else:
                tl.dropped += 1

    def resumed(self, entry: Any) -> None:
        # (Not called for a bare switch, a yield's resume: its park says it.)
        raw = self._raw
        if len(raw) < self._room:
            raw.append(clock())
            raw.append(RESUMED)
            # A listener as (fd, READ|WRITE): numbers cost the garbage collector nothing, objects kept
            # by the hundred thousand slow every collection down.
            raw.append((entry.fd, entry.evtype) if type(entry) is Listener else entry)
        else:
            self.tl.dropped += 1

    def _resume_info(self, entry: Any, t: float) -> tuple[Any, Any, Any, tuple | None]:
        """What a resumed entry was, for flush(): (since when ready, what made it ready, its lane, row)."""
        cls = type(entry)
        if cls is tuple:  # a listener, as the hub writes it: (fd, READ|WRITE)
            fd, evtype = entry
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
            return None, self._spawn, entry.__self__, None
        return self._scheduled.pop(entry, None), None, None, None  # a callback (a kill's throw...)

    # ------------------------------------------------------------ making switch records
    def flush(self) -> None:
        """Turn the raw records so far into the timeline's switch records."""
        raw, tl = self._raw, self.tl
        sw, extra, hub_id = tl._sw, tl._sw_extra, self._hub_id
        room = 3 * tl.cap
        polls = sorted(end for _start, end in tl._polls[self._polls_seen :])
        self._polls_seen = len(tl._polls)
        p = 0
        for i in range(0, len(raw), 3):
            t, key, why = raw[i], raw[i + 1], raw[i + 2]
            while p < len(polls) and polls[p] <= t:  # a poll that ended since is when the hub let go
                self._prev_t = max(self._prev_t, polls[p])
                p += 1
            if len(sw) + 3 > room:
                tl.dropped += 2 if why is YIELD else 1  # (a yield's resume is a switch too)
                continue
            if key is _STOP:  # whoever stopped the recording was running: a pending resume was theirs,
                gt = self._interrupted()  # unless an interrupt ended the greenthread that ran (a dead one is falsy)
                if self._pending >= 0:
                    self._settle(self._file(why if gt is None else gt))
                elif gt is not None and self._entered is None:  # it had been resumed by a bare switch (a yield)
                    sw.extend((self._prev_t, self._file(gt), None))
                    self._entered = gt
                continue
            if key is _POLLED:
                for fd, _bits in why:
                    self._fd_seen[fd] = t
                continue
            if key is RESUMED:
                since, cause, key, row = self._resume_info(why, t)
                self._settle(hub_id)  # a resume that nobody parked after was the hub's callback
                n = len(sw) // 3
                if cause is not None:
                    extra[n] = (since, cause)
                sw.extend((t, self._file(key) if key is not None else -1, None))
                self._pending, self._pending_row = n, row
                if key is not None:
                    self._settle(id(key))
                self._entered = key if key is not None else RESUMED
                continue
            if key is None:  # a worker whose greenthread just finished: the reason names it by id
                key = self._by_id.get(why[1], _UNKNOWN)
            kid = self._file(key)
            if self._pending >= 0:
                self._settle(kid)
            elif self._entered is None:  # the hub had the CPU: resumed by a bare switch (a yield)
                sw.extend((self._prev_t, kid, None))
                if len(sw) + 3 > room:
                    tl.dropped += 1
                    self._entered = key
                    continue
            sw.extend((t, hub_id, why))
            self._entered, self._prev_t = None, t
        del raw[:]

    def _interrupted(self) -> Any:
        """The greenthread a KeyboardInterrupt or SystemExit ended while it ran, if any.

        Those go from the greenthread to the main greenlet around the hub's one resume
        point, so no park record says who ran until then (Ctrl-C inside a long task).
        """
        for key in self.tl._keys.values():
            end = getattr(key, "_exit", None) if type(key) is GreenThread else None
            if end is not None and isinstance(end[1], (KeyboardInterrupt, SystemExit)):
                return key
        return None

    def _file(self, key: Any) -> int:
        kid = id(key)
        if kid not in self.tl._keys:
            self.tl._keys[kid] = key  # (and keeps it alive, so the id stays unique)
            self._by_id[kid] = key
        return kid

    def _settle(self, kid: int) -> None:
        # Fill in the lane of the pending resume, and file its timer or I/O row.
        n, row = self._pending, self._pending_row
        if n < 0:
            return
        self._pending, self._pending_row = -1, None
        tl = self.tl
        tl._sw[3 * n + 1] = kid
        if row is None:
            return
        lst = tl._timers if row[0] == "timer" else tl._io
        if row[0] == "io" and kid == self._hub_id:
            return  # I/O only the hub saw (its doorbell): not a greenthread's
        if len(lst) < tl.cap:
            lst.append((tl._keys[kid], *row[1:]))
        else:
            tl.dropped += 1

    def latest(self) -> tuple[int, float, Any]:
        """(records so far, time of the latest, its lane's id or None if the records can't say). Any thread."""
        raw = self._raw
        n = len(raw) // 3
        if not n:
            return (len(self.tl._sw) // 3, self._prev_t, None if self._entered is None else id(self._entered))
        t, key, why = raw[3 * n - 3], raw[3 * n - 2], raw[3 * n - 1]
        count = n + len(self.tl._sw) // 3
        if key is RESUMED and type(why) is MethodType and why.__func__ is _START:  # a spawn: we know whom
            return (count, t, id(why.__self__))
        # After a park the hub has the CPU -- or a yield it resumed with a bare switch: unknown.
        return (count, t, None)

    def finish(self, current: Any) -> None:
        """Recording stops: the lane still running is the one that calls ``stop()`` (settled on flush)."""
        self._raw.extend((clock(), _STOP, getattr(current, "gt", None) or current))
