"""The flight recorder: always on in a live service, it writes an incident when the loop is held.

    python -m minievent flight [--dir DIR] [--window S] [--stall S] [--heartbeat NAME]...
        [--signal SIG] [--metrics-port PORT] [--metrics-addr ADDR] (script.py | -m module | console-script) [args]

or from Python, in the service itself (before its loop starts)::

    from minievent.recording import flight
    flight.arm(dir="/var/log/nova/incidents", heartbeats=["report_state"])

It records the loop the program uses (minievent, eventlet, gevent or asyncio: the same
captures as ``trace``), keeps the last ``window`` seconds, and a watchdog thread looks a few
times per ``stall``: when one lane has held the loop longer than ``stall`` it samples that lane's
stack while it holds (so the periodic task that called the innermost line is named), and when
the loop comes back it writes an incident (``minievent.recording.incident``): the culprit and its
stack, every lane that was ready meanwhile and for how long, each late timer and heartbeat by
how much. At most one incident per stall. A timer or a ``--heartbeat`` lane that ran late by more
than ``stall`` without one lane holding that long (many short holders) is an incident too.
``SIGUSR2`` (``--signal``) writes one on demand; a program's own handler for it still runs.
``--metrics-port`` serves the schedule latency per lane, the loop-held histogram and the incidents
written (``minievent.recording.metrics``).

It changes nothing in the program: the program's output, exit status, exceptions and signal
handlers are its own; the watchdog and the metrics endpoint are bare OS threads (``_thread``,
not listed by ``threading.enumerate()``); a failure inside the recorder is reported once on
stderr and the recorder stands down while the program runs on.

It runs on the recording package's ``LoopRecorder`` (which loop appears) and its one watchdog
(``minievent.recording.watchdog``), and trims the live recording to the window from the watchdog.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import math
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from . import LoopRecorder
from . import incident as incidents
from . import metrics as metricsmod
from .incident import Incident, Late, Stall, stack_of
from .metrics import HELD_FLOOR, Metrics
from .minievent import in_hub
from .records import HUB_ID, Records, clock, pop_each
from .sidecar import Sidecar
from .signals import SharedSignal, signal_number
from .timeline import Timeline, program_part
from .watchdog import Hold, Watch, real_thread_functions

__all__ = ["FlightOptions", "FlightRecorder", "arm", "check_options", "DEFAULT_DIR"]

DEFAULT_DIR = "./minievent-incidents"
_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The recorder's own frames (and runpy's), left out of a culprit's stack; the rest of minievent is the program's.
_OURS = (
    os.path.dirname(os.path.abspath(__file__)) + os.sep,
    *(os.path.join(_PKG, f) for f in ("trace.py", "debug.py")),
    os.path.join(os.path.dirname(os.__file__), "runpy.py"),
)
# Incidents are written in a thread of their own, a real one (see watchdog.py: the program never sees it).
_start_thread, _allocate_lock, _ = real_thread_functions()

#: The sidecar gets the metrics at most this often (seconds), when they moved.
METRICS_EVERY = 0.25
#: After a stall ends, wait this long before writing, so the lanes it delayed have run (and say how late).
SETTLE = 0.3
#: Incidents asked for while one is written that wait their turn (uncopied); one more is not written, and said so.
WAITING = 8


@dataclass(frozen=True)
class FlightOptions:
    """The flight recorder's options, checked by ``check_options`` before anything runs."""

    dir: str | None = DEFAULT_DIR  # (None: no folder, nothing written during the run: ``trace``'s one dump at exit)
    window: float = 30.0
    stall: float = 1.0
    heartbeats: tuple[str, ...] = ()
    signal: str | int | None = "SIGUSR2"  # (None: the signal stays the program's alone)
    metrics_port: int | None = None
    metrics_addr: str = "127.0.0.1"
    picture: bool = True


def check_options(o: FlightOptions) -> FlightOptions:
    """ValueError (one line) for what cannot work; the folder is made (0700) and tried for writing."""
    for name in ("window", "stall"):
        value = getattr(o, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"--{name} must be a number of seconds, not {value!r}")
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"--{name} must be a finite number of seconds > 0, not {value!r}")
    if o.stall > o.window:
        raise ValueError(f"--stall {o.stall:g} is longer than --window {o.window:g}: no stall would fit in the window")
    for name in o.heartbeats:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"--heartbeat needs a lane name (such as report_state), not {name!r}")
    if o.signal is not None:
        signal_number(o.signal)
    if o.metrics_port is not None:
        metricsmod.check_port(o.metrics_port)
        if importlib.util.find_spec("prometheus_client") is None:
            raise ValueError("--metrics-port needs prometheus_client: pip install 'minievent[metrics]'")
    if o.dir is not None:
        incidents.make_private_dir(o.dir)
    return o


class _FlightWatch(Watch):
    """The watchdog's look at one recorded loop: a stall while it lasts, written once the loop is back."""

    def __init__(self, flight: FlightRecorder, tl: Timeline) -> None:
        o = flight.options
        period = min(max(o.stall / 8, 0.002), 0.05)
        super().__init__(tl, o.stall, period, in_loop=in_hub if tl.loop == "minievent" else None)
        self.flight, self.tl = flight, tl
        self.stall: Stall | None = None  # the stall in progress
        self.ended: list[Stall] = []  # stalls over, not written yet (SETTLE)
        self.last_written: float | None = None  # start of the last stall written

    def look(self, now: float) -> None:
        if self.flight.failed is None:
            try:
                super().look(now)
            except Exception as e:
                self.flight._stand_down(e)

    def held(self, hold: Hold, frame: Any) -> None:
        tl = self.tl
        stall = self.stall
        if stall is None or stall.start != hold.since:
            if self.last_written == hold.since:
                return  # this stall was written: once per stall
            if hold.lane is not None:
                lane = _lane_name(tl, tl.records.lane_ids().get(hold.lane))
            else:  # minievent's records can't say who runs after a timer's resume: the stack can
                lane = _greenthread_function(frame) or "greenthread"
            stall = self.stall = Stall(tl.loop, lane, hold.since)
        _sample(stall, frame)

    def released(self, hold: Hold) -> None:
        stall, self.stall = self.stall, None
        if stall is not None and stall.start == hold.since:
            stall.end = _end_of_run(self.tl, stall.start, hold.end)  # type: ignore[arg-type]
            self.ended.append(stall)

    def tick(self, now: float) -> None:
        flight = self.flight
        if not self.tl.recording:
            return
        if flight.failed is not None:
            # Stood down, the capture may still write: a greenlet tracer comes off only in the loop's own
            # thread (at the end). Keep nothing of it, or memory would grow up to the records' cap.
            with contextlib.suppress(Exception):
                flight._trim(self.tl, now, keep=0.0)
            return
        try:
            for stall in list(self.ended):
                if now - stall.end < SETTLE:  # type: ignore[operator]
                    continue  # let the lanes it delayed run first, so the report says how late they were
                self.ended.remove(stall)
                self.last_written = stall.start
                flight._late_written_upto = max(flight._late_written_upto, now)  # the stall's report names them
                flight._write("stall", self.tl, stall, now)
            if self.stall is None and not self.ended:
                flight._observe(self.tl, now)
                flight._trim(self.tl, now)
        except Exception as e:
            flight._stand_down(e)

    def unwritten(self, now: float) -> list[Stall]:
        """The stalls not written yet (one may still hold: it ends now)."""
        out = list(self.ended)
        if self.stall is not None:
            if self.stall.end is None:
                self.stall.end = now
            out.append(self.stall)
        self.ended, self.stall = [], None
        return out


class _TurnWatch(Watch):
    """The recorder's work once a look, whatever the loops: the sidecar's metrics; an incident the signal asked for."""

    def __init__(self, flight: FlightRecorder) -> None:
        super().__init__(None, flight.options.stall, min(max(flight.options.stall / 8, 0.002), 0.05))
        self.flight = flight

    def tick(self, now: float) -> None:
        flight = self.flight
        if flight.failed is not None:
            return
        try:
            flight._announce()
            flight._write_waiting(now)
            flight._tend(now)
            if flight._asked:  # (the handler only notes it)
                flight._asked = False
                for tl in flight.recorded() or [None]:
                    flight._write("signal", tl, flight._holding_now(tl, now) if tl is not None else None, now)
        except Exception as e:
            flight._stand_down(e)


class FlightRecorder(LoopRecorder):
    """The always-on recorder; ``arm()`` from the main thread, before the program's loop starts."""

    #: what its lines on stderr begin with
    who = "minievent flight"

    def __init__(
        self,
        options: FlightOptions | None = None,
        program: str = "",
        window: float | None = None,
        loop: str | None = None,
    ) -> None:
        self.options = check_options(options or FlightOptions())
        super().__init__(loop)
        self.window = self.options.window if window is None else window  # (math.inf: keep everything, as trace)
        self.program = program or os.path.basename(sys.argv[0] or "python")
        self.folder = os.path.abspath(self.options.dir) if self.options.dir is not None else None
        self.metrics = Metrics()
        self.sidecar: Sidecar | None = None  # the metrics endpoint and the pictures (see sidecar.py)
        self.metrics_url: str | None = None
        self._sent_changes = -1
        self._sent_at = 0.0
        self._sidecar_said = 0  # errors of the sidecar reported so far
        self.written: list[str] = []
        self._jobs: list[tuple] = []  # incidents being written (see _write)
        self._waiting: list[tuple] = []  # (reason, timeline, stall, late) asked for meanwhile, not copied yet
        self._done: list[tuple[str, str, bool]] = []  # (reason, folder, drawn) written, not announced yet
        self._writing = _allocate_lock()  # held by the thread writing one
        self.failed: str | None = None
        self._signal: SharedSignal | None = None
        self._asked = False
        self._lane_names: dict[int, dict[Any, str]] = {}  # id(timeline) -> {lane id: its name}
        self._seen: dict[int, list[int]] = {}  # id(timeline) -> [switches read, timers read] for metrics
        self._late_written_upto = 0.0
        self._cuts: dict[int, float] = {}  # id(timeline) -> minievent's: the park its last look ended at
        self._lanes_kept: dict[int, int] = {}  # id(timeline) -> lanes kept after the last _forget_finished

    # ------------------------------------------------------------ on / off
    def arm(self) -> FlightRecorder:
        o = self.options
        listener = metricsmod.listen(o.metrics_addr, o.metrics_port) if o.metrics_port is not None else None
        draw = o.picture and importlib.util.find_spec("matplotlib") is not None
        if listener is not None or draw:
            if listener is not None:
                self.metrics_url = metricsmod.url(listener)
                if o.metrics_port == 0:  # (the port was the system's choice: say which)
                    _say(f"{self.who}: metrics at {self.metrics_url}")
            try:
                self.sidecar = Sidecar(listener, draw=draw).start()
            except OSError as e:
                if listener is not None:
                    raise  # --metrics-port was asked for: refused before the program starts
                _say(f"{self.who}: no pictures ({e})")
            else:
                self._tend(clock())
        if o.signal is not None:
            self._signal = SharedSignal(signal_number(o.signal), self._on_signal).arm()
        self.start()
        self.add_watch(_TurnWatch(self))
        return self

    def watch(self, tl: Timeline) -> Watch:
        return _FlightWatch(self, tl)

    def disarm(self) -> None:
        self.stop()  # (the watchdog looks no more: what it left pending is written here)
        now = clock()
        for w in self.watches:
            if isinstance(w, _FlightWatch):
                for stall in w.unwritten(now):
                    if self.failed is None:
                        try:
                            self._write("stall", w.tl, stall, now, wait=True)
                        except Exception as e:
                            self._stand_down(e)
        self._wait_for_writers()
        self._write_waiting(clock(), wait=True)
        self._announce()
        if self._signal is not None:
            self._signal.disarm()
        if self.sidecar is not None:
            self._tend(clock(), force=True)
            self.sidecar.finish()
            self._report_sidecar()

    def _begin(self, loop: str) -> None:
        super()._begin(loop)
        if loop == "gevent" and self._signal is not None:
            try:
                self._signal.also_on_gevent()  # (gevent.signal_handler() would take the signal from under Python)
            except Exception as e:  # (the program runs on; the signal may not reach us once gevent takes it)
                _say(f"{self.who}: no on-demand signal through gevent's loop ({type(e).__name__}: {e})")

    def _on_signal(self) -> None:
        self._asked = True  # (a signal handler: note it; the watchdog writes)

    def _stand_down(self, e: BaseException) -> None:
        self.failed = f"{type(e).__name__}: {e}"
        self._waiting.clear()  # (nothing more is written)
        where = traceback.extract_tb(e.__traceback__)[-1:]
        at = f" at {os.path.basename(where[0].filename)}:{where[0].lineno}" if where else ""
        _say(f"{self.who}: the recorder failed ({self.failed}{at}) and stands down; the program runs on")
        try:
            self.stop_spotting()  # (a greenlet tracer is per thread: only from the loop's own it comes off)
        except Exception:
            pass

    def _tend(self, now: float, force: bool = False) -> None:
        """Send the sidecar the metrics when they moved (a few times a second at most); hear what it says."""
        car = self.sidecar
        if car is None or car.closed:
            return
        car.messages()
        if car.listener is None and self.metrics_url is not None:
            changes = self.metrics.changes
            if changes != self._sent_changes and (force or now - self._sent_at >= METRICS_EVERY):
                if car.send("metrics", self.metrics.snapshot()):
                    self._sent_changes, self._sent_at = changes, now
        self._report_sidecar()

    def _report_sidecar(self) -> None:
        car = self.sidecar
        if car is not None:
            for error in car.errors[self._sidecar_said :]:
                _say(f"{self.who}: {error}")
            self._sidecar_said = len(car.errors)

    def _holding_now(self, tl: Timeline, now: float) -> Stall | None:
        """What holds the loop as a signal asks: the stall under way, or a lane that has run longer than
        HELD_FLOOR (an operator asks because something looks wrong now), its stack sampled now."""
        for w in self.watches:
            if isinstance(w, _FlightWatch) and w.tl is tl and w.stall is not None and w.stall.end is None:
                return w.stall
        n, since, kid = tl.latest()
        if n == 0 or kid is None or kid == HUB_ID or now - since < HELD_FLOOR:
            return None
        frame = sys._current_frames().get(tl.thread)  # type: ignore[arg-type]
        if frame is None or tl.latest()[0] != n:
            return None  # it switched while we looked
        stall = Stall(tl.loop, _lane_name(tl, tl.records.lane_ids().get(kid)), since)
        _sample(stall, frame)
        return stall

    # ------------------------------------------------------------ metrics, late timers
    def _observe(self, tl: Timeline, now: float) -> None:
        """The switches and timers recorded since the last look: metrics, and what ran late.

        Per switch in Python, in the watchdog's thread, is what a busy loop pays most for (the GIL is
        shared): without a metrics endpoint only the switches into a heartbeat's lane are looked at."""
        news = self._minievent_news(tl, now) if tl.loop == "minievent" else self._news(tl)
        if news is None:
            return
        records, start, n, timers = news
        late: list[Late] = []
        if n > start and (self.metrics_url is not None or self.options.heartbeats):
            times, kids, readiness = records.columns(start, n + 1)
            late += self._read_switches(tl, records, times, kids, readiness[:-1])
        stall = self.options.stall
        for lane_key, due, fired in timers:
            if fired - due > stall:
                late.append(Late(_lane_name(tl, lane_key), due, fired))
        # (one lateness a run: a heartbeat's timer is seen twice, as a heartbeat and as a timer)
        once = {(x.lane, x.due, x.ran): x for x in sorted(late, key=lambda x: x.what != "heartbeat", reverse=True)}
        late = [x for x in once.values() if x.ran > self._late_written_upto]
        if late:
            self._late_written_upto = max(x.ran for x in late)
            self._write("late", tl, None, now, late)

    def _news(self, tl: Timeline) -> tuple[Records, int, int, list]:
        """(records, first switch not read, the newest switch, the timers not read), and they are read."""
        seen = self._seen.setdefault(id(tl), [0, 0])  # [the first switch not read yet, timers read]
        records = tl.records
        start, n = seen[0], records.switch_count() - 1  # (the newest switch's run has no end yet: read next time)
        timers = records.timers(seen[1])
        seen[0], seen[1] = max(start, n), seen[1] + len(timers)
        return records, start, n, timers

    def _minievent_news(self, tl: Timeline, now: float) -> tuple[Records, int, int, list] | None:
        """The same from minievent's raw log, which only its loop's thread turns into records: from the park
        the last look ended at to the latest, made into records here only when needed (for the metrics, or a
        resume in it was later than --stall), else one pass over it at list speed (``HubCapture.late_since``).
        With the metrics, a part with no resume has no latency to count: its long runs come without decoding."""
        capture = tl.capture
        cut = self._cuts.get(id(tl), tl.t0 or now)
        counting = self.metrics_url is not None
        floor = HELD_FLOOR if counting else None
        last, late, runs = capture.late_since(cut, self.options.stall, floor)  # type: ignore[union-attr]
        if last is None or last <= cut:
            return None
        self._cuts[id(tl)] = last  # (the next look starts at that park: what runs after it is read then)
        if not late and runs is not None:  # (a loop of yields: no latency, its long runs found without decoding)
            self.metrics.observe_held_many(runs)
            return None
        if not late and not counting:
            return None
        records = capture.window(cut, now)  # type: ignore[union-attr]
        times, kids, _ = records.columns(0, records.switch_count())
        n = next((k for k in range(len(kids) - 1, -1, -1) if kids[k] == HUB_ID and times[k] <= last), 0)
        return records, 0, n, [row for row in records.timers() if row[2] < last]

    def _read_switches(self, tl: Timeline, records: Records, times: list, kids: list, readiness: list) -> list[Late]:
        """Switches as columns (``times`` has one more, the next switch's: where the last run ended): with
        a metrics endpoint, how long each held and waited ready, gathered per lane and counted a lane at a
        time; the heartbeats' that waited ready longer than the stall, which are late."""
        name = self._namer(tl, records)
        beats, stall, metrics = self.options.heartbeats, self.options.stall, self.metrics
        counting = self.metrics_url is not None
        if counting:
            metrics.observe_held_many(
                [
                    b - a
                    for a, b, kid in zip(times, times[1:], kids, strict=False)
                    if kid != HUB_ID and b - a >= HELD_FLOOR
                ]
            )
            wanted = set(kids)
        else:  # (only the heartbeats' lanes, found at C speed)
            wanted = {kid for kid in set(kids) if kid != HUB_ID and any(b in name(kid) for b in beats)}
        waits: dict[Any, list[tuple[float, float]]] = {}
        for kid, t, ready in [r for r in zip(kids, times, readiness, strict=False) if r[0] in wanted]:
            if ready is not None and ready[0] is not None:
                waits.setdefault(kid, []).append((ready[0], t))
        late = []
        for kid, pairs in waits.items():
            lane = name(kid)
            if counting:
                metrics.observe_latency_many(lane, [ran - since for since, ran in pairs])
            if beats and any(b in lane for b in beats):
                late += [Late(lane, since, ran, "heartbeat") for since, ran in pairs if ran - since > stall]
        return late

    def _namer(self, tl: Timeline, records: Records) -> Any:
        """``name(lane id)``: the lane's name, remembered (oslo's looping-call names walk the frames once)."""
        names = self._lane_names.setdefault(id(tl), {})
        if len(names) > 10_000:
            names.clear()  # (greenthreads come and go in a long-running service: what is kept stays bounded)
        keys = records.lane_ids()

        def name(kid: Any) -> str:
            got = names.get(kid)
            if got is None:
                got = _lane_name(tl, keys.get(kid))
                if got != "loop_func":  # (a looping call not yet in its loop: named once it is)
                    names[kid] = got
            return got

        return name

    def _trim(self, tl: Timeline, now: float, keep: float | None = None) -> None:
        """Drop records older than the window (or than ``keep`` seconds) from the live recording."""
        keep = self.window if keep is None else keep
        if math.isinf(keep):
            return
        horizon = now - keep - keep / 8
        if tl.loop == "minievent":  # (its raw log: nothing is flushed while it runs, see _window)
            tl.capture.trim(horizon)  # type: ignore[union-attr]
            return
        k = tl.records.trim(horizon)
        if not k:
            return
        self._forget_finished(tl)
        seen = self._seen.get(id(tl))
        if seen is not None:
            seen[0] = max(0, seen[0] - k)
            seen[1] = 0
            self._late_written_upto = max(self._late_written_upto, horizon)

    def _forget_finished(self, tl: Timeline) -> None:
        """Let go of the lanes that ended before the window (their greenthreads, their names), each time the
        lanes kept have grown by half: a service starts greenthreads for ever, the window shows only its own.
        (A look at every lane kept, in C: a lane let go of costs about a microsecond of the watchdog's.)"""
        records, capture = tl.records, tl.capture
        known = len(records.lane_ids())
        if capture is None or known < 1.5 * self._lanes_kept.get(id(tl), 256):
            return
        gone = records.finished_lanes(capture.over_among)
        capture.forget(gone)  # (first: an id is freed, and may be reused, only once the records let go)
        pop_each(self._lane_names.get(id(tl), {}), gone)
        records.forget(gone)
        self._lanes_kept[id(tl)] = known - len(gone)

    # ------------------------------------------------------------ incidents
    def _write(
        self,
        reason: str,
        tl: Timeline | None,
        stall: Stall | None,
        now: float,
        late: Sequence[Late] = (),
        wait: bool = False,
    ) -> None:
        """Write the incident of ``now``: the window is copied (and its lanes named) here, then analysed and
        written in a thread of its own unless ``wait``: a busy service's window takes a second or so to turn
        into a report and a trace, and the watchdog must trim on meanwhile, or the records would grow by
        all that the service does in that second (some 50 MB an incident, measured on eventlet).

        One window copy at a time: asked for while another is written, the incident waits uncopied
        (``_write_waiting``). Each copy held meanwhile was one more window, with every lane kept alive in
        it (11-26 MB on the gevent churn: a writer slowed down in a busy service, SIGUSR2 asked again)."""
        if self._jobs and not wait:
            if len(self._waiting) < WAITING:
                self._waiting.append((reason, tl, stall, tuple(late)))
            else:
                _say(f"{self.who}: an incident ({reason}) is not written: {WAITING} wait for the one being written")
            return
        snap = _window(tl, max(tl.t0 or now, now - self.window), now) if tl is not None else None
        inc = Incident(
            reason=reason,
            program=self.program,
            loop=tl.loop if tl is not None else "(none seen yet)",
            t0=snap.t0 if snap is not None else (tl.t0 if tl is not None and tl.t0 is not None else now),
            now=now,
            stall=stall,
            threshold=self.options.stall,
            late=list(late),
            heartbeats=self.options.heartbeats,
        )
        if snap is not None:
            snap.lanes  # noqa: B018 (names them now: the live capture may let go of a name while it is written)
            reach = now - (snap.t0 or now)
            whole = tl.t0 is not None and now - self.window <= tl.t0 and not tl.trimmed  # type: ignore[union-attr]
            inc.window_line = f"reaches back {reach:.1f} s" + (
                " (to the start of recording)" if whole else f" (window {self.window:g} s)"
            )
        else:
            inc.window_line = "no loop recorded yet"
        job = (inc, snap, stall)
        self._jobs.append(job)
        if wait:
            self._finish(job)
        else:
            _start_thread(self._finish, (job,))

    def _write_waiting(self, now: float, wait: bool = False) -> None:
        """Write the incident that waited longest, once none is being written (the watchdog's, or the end's, with
        ``wait`` all of them): its window is the one before ``now``, which still holds when it was asked for
        unless the wait was longer than the window (the report says how far back it reaches)."""
        while self._waiting and not self._jobs and self.failed is None:
            reason, tl, stall, late = self._waiting.pop(0)
            self._write(reason, tl, stall, now, late, wait)
            if not wait:
                return

    def _finish(self, job: tuple[Incident, Timeline | None, Stall | None]) -> None:
        """Analyse and write one incident (in a thread of our own, one at a time); the watchdog announces it."""
        inc, snap, stall = job
        with self._writing:
            try:
                if self.failed is None:
                    if snap is not None:
                        _analyse(inc, snap, stall, self.options)
                    self._done.append((inc.reason, incidents.write(inc, self.folder, snap), snap is not None))
            except Exception as e:
                self._stand_down(e)
            finally:
                self._jobs.remove(job)

    def _announce(self) -> None:
        """Say what was written (the watchdog's thread, or the end's): metrics, the sidecar's picture, stderr."""
        while self._done:
            reason, path, drawn = self._done.pop(0)
            self.written.append(path)
            self.metrics.incident(reason)
            if drawn and self.sidecar is not None and self.sidecar.draw:
                self.sidecar.send("draw", path)  # (drawn in the sidecar: matplotlib is never imported here)
            _say(f"minievent flight: incident ({reason}) written to {path}")

    def _wait_for_writers(self, timeout: float = 60.0) -> None:
        """Until every incident asked for is written (at the end: Ctrl-C loses none)."""
        deadline = clock() + timeout
        while self._jobs and clock() < deadline:
            if self._writing.acquire(True, 0.05):
                self._writing.release()


def _window(tl: Timeline, since: float, until: float) -> Timeline:
    """A copy of the recording from ``since`` to ``until``, read while it records. minievent's own capture
    keeps a raw log that only its loop's thread may turn into records (and nobody does while the flight
    recorder runs): the copy is made from a copy of that log, here."""
    snap = tl.window(since, until)
    if tl.loop == "minievent":
        snap.records = tl.capture.window(since, until)  # type: ignore[union-attr]
    return snap


def _end_of_run(tl: Timeline, start: float, fallback: float) -> float:
    """When the run that began at ``start`` ended: the first switch recorded after it."""
    end = tl.records.switch_after(start)
    return end if end is not None else fallback


def _sample(stall: Stall, frame: Any) -> None:
    """One look at the holder's stack, from the program's own entry on."""
    stall.sample(program_part(stack_of(frame, _OURS)))


def _analyse(inc: Incident, snap: Timeline, stall: Stall | None, o: FlightOptions) -> None:
    """Fill in who was ready during the stall and who ran late, from the window's spans."""
    spans = snap.spans()
    t0 = snap.t0
    if stall is not None:
        start, end = stall.start - t0, (stall.end or inc.now) - t0
        for s in spans:
            overlap = min(s.end, end) - max(s.start, start)
            if s.state == "ready" and overlap > 0.001 and s.lane != stall.lane:
                inc.ready.append((s.lane, s.start + t0, s.end + t0, s.why))
                if s.end - s.start > o.stall * 0.5 and not any(x.lane == s.lane for x in inc.late):
                    what = "heartbeat" if any(b in s.lane for b in o.heartbeats) else "timer"
                    if s.why in ("timer due", None) or what == "heartbeat":
                        inc.late.append(Late(s.lane, s.start + t0, s.end + t0, what))
    for rec in snap.timers:
        if rec.lateness > o.stall and not any(x.lane == rec.lane for x in inc.late):
            inc.late.append(Late(rec.lane, rec.due + t0, rec.fired + t0))
    if stall is None and inc.late:  # late with no one lane holding that long: who ran while the latest waited
        worst = max(inc.late, key=lambda x: x.by)
        start, end = worst.due - t0, worst.ran - t0
        late_lanes = {x.lane for x in inc.late}
        busy: dict[str, list[float]] = {}
        for s in spans:
            overlap = min(s.end, end) - max(s.start, start)
            if s.state == "running" and overlap > 0 and s.lane != "hub" and s.lane not in late_lanes:
                runs = busy.setdefault(s.lane, [0.0, 0])
                runs[0] += overlap
                runs[1] += 1
        inc.busy = sorted(((lane, t, int(n)) for lane, (t, n) in busy.items()), key=lambda b: -b[1])[:8]


def _greenthread_function(frame: Any) -> str | None:
    """The function a running minievent greenthread runs: the outermost frame above minievent's own."""
    for f in stack_of(frame):
        if not f.filename.startswith(_PKG + os.sep) or os.sep + "scenarios" + os.sep in f.filename:
            return f.function
    return None


def _lane_name(tl: Timeline, key: Any) -> str:
    return tl.base_name(key)


def _say(text: str) -> None:
    try:
        os.write(2, (text + "\n").encode())
    except OSError:
        pass


_armed: FlightRecorder | None = None


def arm(
    dir: str = DEFAULT_DIR,
    window: float = 30.0,
    stall: float = 1.0,
    heartbeats: Sequence[str] = (),
    signal: str | int = "SIGUSR2",
    metrics_port: int | None = None,
    metrics_addr: str = "127.0.0.1",
) -> FlightRecorder:
    """Arm the flight recorder in this process (once; from the main thread, before the loop starts)."""
    global _armed
    if _armed is not None:
        raise RuntimeError("the flight recorder is already armed in this process")
    options = FlightOptions(dir, window, stall, tuple(heartbeats), signal, metrics_port, metrics_addr)
    _armed = FlightRecorder(options).arm()
    return _armed


# ---------------------------------------------------------------- python -m minievent flight
_VALUED = {"--dir", "--window", "--stall", "--heartbeat", "--signal", "--metrics-port", "--metrics-addr"}


class _Parser(argparse.ArgumentParser):
    """An option error is one line on stderr (no usage block), exit status 2, before the program runs."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _parser(prog: str) -> argparse.ArgumentParser:
    p = _Parser(
        prog=prog,
        description="Run a program (script.py, -m module, or a console script) with the flight recorder armed: "
        "it keeps the last --window seconds of the loop's scheduling and writes an incident into --dir when "
        "the loop is held longer than --stall, a timer or --heartbeat runs that late, or on --signal.",
        usage=f"{prog} [options] (script.py | -m module | console-script) [args...]",
    )
    p.add_argument("--dir", default=DEFAULT_DIR, help=f"where incidents go (default {DEFAULT_DIR}; made 0700)")
    p.add_argument("--window", type=float, default=30.0, metavar="S", help="seconds kept (default 30)")
    p.add_argument("--stall", type=float, default=1.0, metavar="S", help="held or late this long: an incident (1)")
    p.add_argument(
        "--heartbeat", action="append", default=[], metavar="NAME", help="a lane whose lateness matters (repeat)"
    )
    p.add_argument("--signal", default="SIGUSR2", help="the signal that writes an incident on demand (SIGUSR2)")
    p.add_argument("--metrics-port", type=int, default=None, metavar="PORT", help="serve Prometheus metrics here")
    p.add_argument("--metrics-addr", default="127.0.0.1", metavar="ADDR", help="... on this address (127.0.0.1)")
    p.add_argument("--no-picture", action="store_true", help="write report and trace only")
    return p


def main(argv: Sequence[str], prog: str = "python -m minievent flight") -> int:
    """``python -m minievent flight``: exit status 2 for bad options (before the program runs), else the program's."""
    from .program import Target, split

    ours, program = split(argv, _VALUED, ("--no-picture",))
    args = _parser(prog).parse_args(ours)
    try:
        options = FlightOptions(
            args.dir,
            args.window,
            args.stall,
            tuple(args.heartbeat),
            args.signal,
            args.metrics_port,
            args.metrics_addr,
            not args.no_picture,
        )
        check_options(options)
        target = Target.parse(program)
        # (its name only: an argument is a value, and may be a secret)
        recorder = FlightRecorder(options, program=target.name)
        recorder.arm()
    except (ValueError, OSError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    try:
        return target.run()
    finally:
        recorder.disarm()
