"""The late heartbeat: a scaled-down nova-compute service, and the outage it had.

The service runs two things in one process:

* ``heartbeat``: ``report_state`` every ``interval`` seconds, through a
  fixed-interval looping call that behaves like oslo.service's: after each run
  it sleeps ``interval - elapsed``, never catches up on missed runs, and warns
  "run outlasted interval by N sec" only when *its own* run was long;
* ``periodic_tasks``: a few short tasks, one after another in one greenthread
  with ``sleep(0)`` between them, every ``interval`` -- and, once, a long task
  of ``task_seconds``.

nova's ``report_interval`` is 10 s and the scheduler calls a service down when
its last report is older than ``service_down_time`` = 60 s; here everything is
scaled down (1 s and 6x by default) so that a run takes seconds.

The long task is of one ``kind``: ``"cpu"`` (pure Python computation),
``"blocking"`` (a call that blocks the OS thread without yielding but releases
the GIL: the real ``time.sleep``, standing for libvirt or a C database driver)
or ``"green"`` (a green sleep, standing for green I/O). The ``fix`` is one of
the field remedies: ``"sleep0"`` (yield every few ms), ``"tpool"`` (run the
task in a real thread), ``"thread"`` (run the heartbeat in a native thread).
The same service runs on ``backend`` minievent, eventlet or gevent (each in a
subprocess, so that its hub never meets minievent's), plain threads, or asyncio.
On gevent, ``sleep(0)`` runs the other ready greenlets but not the loop's
timers (gevent looks at the clock only every 50 callbacks), so with
``fix="sleep0"`` (a ``sleep(0)`` every 5 ms) its beats come 0.1 to 0.4 s late.

    >>> r = run(interval=0.2, task_seconds=1.0, kind="cpu")
    >>> r.max_gap > 1.0, r.down
    (True, True)

``run(progress=print)`` says what happens while it happens (a line per beat, one a
second while no beat comes); Ctrl-C raises ``Interrupted``, a ``KeyboardInterrupt``
that carries the result recorded until then.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from ..patcher import original
from ..recording import Timeline
from ..recording import timeline_for as record_loop
from ..trace import load

#: Real OS threads even under monkey_patch(), which makes threading.Thread a greenthread:
#: the "thread" fix and the threads backend are about OS threads.
_OSThread = original("threading").Thread
_OSEvent = original("threading").Event

__all__ = ["run", "Params", "HeartbeatResult", "Interrupted", "FixedIntervalLoopingCall", "KINDS", "FIXES", "BACKENDS"]

KINDS = ("cpu", "blocking", "green")
FIXES = (None, "sleep0", "tpool", "thread")
BACKENDS = ("minievent", "threads", "asyncio", "eventlet", "gevent")
#: Backends that run in a subprocess of their own (their hub must not meet minievent's); they record nothing.
SUBPROCESS_BACKENDS = ("eventlet", "gevent")

#: With fix="sleep0" the long task yields this often (seconds).
YIELD_EVERY = 0.005

clock = time.monotonic


# ---------------------------------------------------------------- the parameters
@dataclass(frozen=True)
class Params:
    """One run's parameters, checked by ``run()``; every backend reads the same fields.

    Plain numbers and strings only, so that a subprocess backend gets them as JSON.
    """

    #: seconds between two report_state calls (nova's report_interval, scaled down)
    interval: float
    #: length of the long periodic task, seconds
    task_seconds: float
    #: "cpu", "blocking" or "green": what the long task does (see KINDS)
    kind: str
    #: None, "sleep0", "tpool" or "thread": the remedy applied (see FIXES)
    fix: str | None
    #: seconds the service runs (its deadline); moved later if ``extend`` and the task overran
    duration: float
    #: when the long task starts, seconds after the service started
    task_at: float
    #: keep a Timeline (backends that can record)
    record: bool = True
    #: True when the caller gave no duration: the deadline follows the task's real end
    extend: bool = False
    #: say what happens while it happens (a subprocess backend writes the lines to its stderr)
    progress: bool = False
    #: no beat for this long means down (the progress lines say when it is passed)
    service_down_time: float | None = None


# ---------------------------------------------------------------- the result
@dataclass
class HeartbeatResult:
    """What the scheduler would have seen: when the service reported, and whether it looked down."""

    interval: float
    task_seconds: float
    kind: str
    fix: str | None
    backend: str
    service_down_time: float
    duration: float
    task_at: float
    #: when report_state ran, in seconds since the service started
    beats: list[float] = field(default_factory=list)
    #: what the looping call logged ("run outlasted interval by N sec")
    warnings: list[str] = field(default_factory=list)
    task_start: float | None = None
    task_end: float | None = None
    #: the recording (minievent, threads, asyncio backends; None for eventlet, gevent or record=False)
    timeline: Timeline | None = None
    #: when the service stopped expecting to beat (its deadline), in seconds since it started;
    #: None: the end of the run. The run itself ends a little later, when every part has noticed.
    service_end: float | None = None
    #: when the heartbeat noticed the deadline and stopped: one interval after its last beat
    #: when on time, later when something held it (a task that ran on past the deadline)
    heartbeat_end: float | None = None
    #: True when Ctrl-C cut the run short: everything here is what was recorded until then
    interrupted: bool = False

    @property
    def gaps(self) -> list[float]:
        """Seconds between consecutive beats; ``interval`` when all is well."""
        return [b - a for a, b in zip(self.beats, self.beats[1:], strict=False)]

    @property
    def max_gap(self) -> float:
        """The longest wait for a beat: between two beats, or from the start to the first one.

        The silence after the last beat is not a gap (the run ends only when a
        greenthread notices the deadline, up to an interval or so later): see
        ``silence_at_end``. A run without a single beat has ``max_gap`` = its duration.
        """
        if not self.beats:
            return self.duration
        return max(self.beats[0], *self.gaps)

    @property
    def silence_at_end(self) -> float:
        """Seconds from the last beat to the end of the run."""
        return self.duration - self.beats[-1] if self.beats else self.duration

    @property
    def silence_expected(self) -> float:
        """The part of ``silence_at_end`` during which the service was still expected to beat.

        Until the deadline, or until the heartbeat noticed the deadline if that was later:
        a heartbeat held past the deadline (by a task that ran on) could not even stop, and
        the silence up to its next run is the task's doing, not the service stopping.
        """
        end = self.duration if self.service_end is None else min(self.service_end, self.duration)
        if self.heartbeat_end is not None:
            end = min(max(end, self.heartbeat_end), self.duration)
        return max(0.0, end - self.beats[-1]) if self.beats else end

    @property
    def held_past_the_end(self) -> bool:
        """True if the heartbeat noticed the deadline more than an interval late (something held it)."""
        if self.heartbeat_end is None or self.service_end is None:
            return False
        return self.heartbeat_end > self.service_end + 1.5 * self.interval

    @property
    def down(self) -> bool:
        """True if the scheduler would have called the service down at some point.

        A gap longer than ``service_down_time``, or a service that went silent
        for longer than that while it was still expected to beat (starved to the end).
        """
        return max(self.max_gap, self.silence_expected) > self.service_down_time

    @property
    def time_down(self) -> float:
        """Seconds the scheduler would have shown the service as down, in total."""
        waits = [*([self.beats[0]] if self.beats else []), *self.gaps, self.silence_expected]
        return sum(max(0.0, w - self.service_down_time) for w in waits)

    def table(self) -> str:
        """A short plain-text summary, as the command line prints it."""
        if self.task_start is None:
            task = "-"
        elif self.task_end is None:
            task = f"{self.task_start:.2f} s.., still running when the run was interrupted"
        else:
            task = f"{self.task_start:.2f}..{self.task_end:.2f} s"
        held = (
            f" (the heartbeat, held by the long task, could not run until {self.heartbeat_end:.2f} s)"
            if self.held_past_the_end
            else ""
        )
        if self.interrupted:
            tail = f"{self.silence_at_end:.2f} s after the last beat, when the run was interrupted"
            if self.silence_expected > self.service_down_time:
                tail += ": DOWN"
        elif self.silence_expected > self.service_down_time:
            tail = f"{self.silence_at_end:.2f} s after the last beat, silent while still expected to beat{held}: DOWN"
        else:
            tail = f"{self.silence_at_end:.2f} s after the last beat, while the service was stopping (not a gap)"
        rows = [
            *(
                [("run", f"interrupted (Ctrl-C) after {self.duration:.2f} s: what was recorded until then")]
                if self.interrupted
                else []
            ),
            ("backend", self.backend),
            ("long task", f"{self.kind}, {self.task_seconds:g} s, fix={self.fix or 'none'} (ran {task})"),
            ("interval", f"{self.interval:g} s (down after {self.service_down_time:g} s without a beat)"),
            ("beats", str(len(self.beats))),
            ("max gap", f"{self.max_gap:.2f} s between two beats ({self.max_gap / self.interval:.1f}x the interval)"),
            ("at the end", tail),
            ("service", f"DOWN for {self.time_down:.2f} s" if self.down else "up"),
            (
                "warnings",
                f'{len(self.warnings)} ("run outlasted interval" lines: report_state itself ran long; '
                "a beat held up by another task logs none)",
            ),
        ]
        lines = [f"{k:<11} {v}" for k, v in rows]
        lines += [f"  {w}" for w in self.warnings]
        return "\n".join(lines)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during ``run()``: ``result`` is what was recorded until then (``result.interrupted``).

    A ``KeyboardInterrupt`` still, for whoever does not look inside.
    """

    def __init__(self, result: HeartbeatResult) -> None:
        super().__init__("the heartbeat run was interrupted")
        self.result = result


# ---------------------------------------------------------------- the looping call
class FixedIntervalLoopingCall:
    """oslo.service's fixed-interval looping call, reduced to its timing rule.

    Run ``f``; if the run took less than ``interval``, sleep the rest; if it
    took longer, warn and start again at once. Missed runs are *not* made up:
    a heartbeat held up for 30 s produces one late beat, not three.
    ``sleep`` is whatever the caller's world sleeps with (green or real).
    """

    def __init__(
        self, f: Callable[[], Any], interval: float, sleep: Callable[[float], Any], now: Callable[[], float] = clock
    ) -> None:
        self.f = f
        self.interval = interval
        self.sleep = sleep
        self.now = now
        self.warnings: list[str] = []

    def idle_for(self, elapsed: float) -> float:
        # oslo rounds to 1/100 s, warns when positive, sleeps the remainder otherwise.
        delay = round(elapsed - self.interval, 2)
        if delay > 0:
            name = getattr(self.f, "__name__", repr(self.f))
            self.warnings.append(f"Function {name!r} run outlasted interval by {delay:.2f} sec")
            return 0.0
        return -delay

    def run_until(self, deadline: float | Callable[[], float], sleep: Callable[[float], Any] | None = None) -> None:
        """Loop until ``deadline`` (a time, or a function giving the current one)."""
        sleep = sleep or self.sleep
        limit = deadline if callable(deadline) else (lambda: deadline)
        while self.now() < limit():
            start = self.now()
            self.f()
            sleep(self.idle_for(self.now() - start))


# ---------------------------------------------------------------- the long task
def _work() -> int:
    return sum(range(300))  # a few microseconds of pure Python


def compute_for(seconds: float, yield_: Callable[[], Any] | None = None) -> None:
    """Pure-Python work for ``seconds``; with ``yield_``, call it every ``YIELD_EVERY`` s."""
    end = last = clock()
    end += seconds
    while True:
        now = clock()
        if now >= end:
            return
        _work()
        if yield_ is not None and now - last >= YIELD_EVERY:
            yield_()
            last = clock()


def block_for(seconds: float, yield_: Callable[[], Any] | None = None) -> None:
    """Block the OS thread for ``seconds`` (the real ``time.sleep``); with ``yield_``, in slices."""
    if yield_ is None:
        time.sleep(seconds)
        return
    end = clock() + seconds
    while (left := end - clock()) > 0:
        time.sleep(min(YIELD_EVERY, left))
        yield_()


# ---------------------------------------------------------------- when to stop
class _Deadline:
    """The end of the run; by default it moves to three intervals after the long task really ended.

    A task that overruns (a loaded machine) must not end the run before the
    heartbeat has had a chance to beat again.
    """

    def __init__(self, t0: float, p: Params) -> None:
        self.at = t0 + p.duration
        self.extend = p.extend
        self.interval = p.interval

    def __call__(self) -> float:
        return self.at

    def task_ended(self) -> None:
        if self.extend:
            self.at = max(self.at, clock() + 3 * self.interval)

    def stop(self) -> None:
        # An interrupted run: every loop still going (a heartbeat thread) ends at its next look.
        self.at = min(self.at, clock())


# ---------------------------------------------------------------- the record of a run, as it grows
#: What a backend hands back (a subprocess backend as JSON); "end" and "timeline" stay in the process.
_FIELDS = ("beats", "warnings", "task_start", "task_end", "heartbeat_end", "duration", "service_end", "interrupted")


def _record(p: Params) -> dict:
    """The run's record, filled in while it runs: readable at any moment (progress lines, Ctrl-C)."""
    out: dict[str, Any] = dict.fromkeys(_FIELDS)
    out.update(beats=[], warnings=[], interrupted=False, timeline=None)
    _begin(out, p)
    return out


def _begin(out: dict, p: Params) -> tuple[float, _Deadline]:
    """The service starts now: its clock's zero and its deadline."""
    out["t0"] = t0 = clock()
    out["end"] = end = _Deadline(t0, p)
    return t0, end


def _finish(out: dict) -> None:
    """How long the run lasted and when it meant to stop, however it ended."""
    t0 = out["t0"]
    out["duration"] = clock() - t0
    out["service_end"] = out["end"]() - t0


# ---------------------------------------------------------------- progress
#: A subprocess backend's progress lines, told apart from anything else on its stderr.
_PROGRESS = "@progress "


class _Progress:
    """Says what happens while it happens: a line per beat, and one a second while no beat comes.

    An OS thread of its own reads the run's record once a second (a greenthread, or a
    task, that holds the loop can't stop it) and writes what happened since its last
    look, in the service's clock. Its cost is one wake-up a second.
    """

    def __init__(self, out: dict, p: Params, say: Callable[[str], Any], every: float = 1.0) -> None:
        self.out, self.p, self.say, self.every = out, p, say, every
        self.beats_seen = 0
        self.task_started = self.task_ended = False
        self.done = _OSEvent()
        self.thread = _OSThread(target=self._watch, name="heartbeat progress", daemon=True)

    def start(self) -> _Progress:
        self.thread.start()
        return self

    def stop(self) -> None:
        """Write what is left (every beat, the task's end) and stop."""
        self.done.set()
        self.thread.join(5.0)
        self._look(final=True)

    def _watch(self) -> None:
        while not self.done.wait(self.every):
            self._look()

    def _line(self, t: float, text: str) -> None:
        self.say(f"{t:8.2f} s  {text}")

    def _look(self, final: bool = False) -> None:
        out, p = self.out, self.p
        now = clock() - out["t0"]
        beats = out["beats"][:]  # (a copy: the service appends meanwhile)
        events: list[tuple[float, str]] = []
        on_time: list[tuple[int, float]] = []

        def flush_on_time() -> None:
            if len(on_time) > 3:  # a fast heartbeat: one line for a run of punctual beats
                (first, t), (last, _) = on_time[0], on_time[-1]
                events.append((t, f"beats {first}-{last}, on time"))
            else:
                events.extend((t, f"beat {n}") for n, t in on_time)
            on_time.clear()

        for n in range(self.beats_seen + 1, len(beats) + 1):
            t = beats[n - 1]
            gap = t - beats[n - 2] if n > 1 else t
            if gap > 1.5 * p.interval:
                flush_on_time()
                late = f"beat {n}, {gap:.2f} s after the one before" if n > 1 else f"beat 1, {gap:.2f} s in"
                if p.service_down_time is not None and gap > p.service_down_time:
                    late += f": longer than service_down_time ({p.service_down_time:g} s), it was DOWN"
                events.append((t, late))
            else:
                on_time.append((n, t))
        flush_on_time()
        self.beats_seen = len(beats)
        start, end = out["task_start"], out["task_end"]
        if start is not None and not self.task_started:
            self.task_started = True
            fix = f", fix {p.fix}" if p.fix else ""
            events.append((start, f"the long task starts: {p.kind}, {p.task_seconds:g} s{fix}"))
        if end is not None and not self.task_ended:
            self.task_ended = True
            events.append((end, f"the long task ends, after {end - start:.2f} s"))
        for t, text in sorted(events, key=lambda e: e[0]):
            self._line(t, text)
        # While the heartbeat still means to beat (it has not noticed the deadline), say how long it has been silent.
        since = now - (beats[-1] if beats else 0.0)
        if not final and out["heartbeat_end"] is None and since > 1.5 * p.interval:
            text = f"no beat for {since:.1f} s"
            if p.service_down_time is not None and since > p.service_down_time:
                text += f": past service_down_time ({p.service_down_time:g} s), the scheduler calls it DOWN"
            if start is not None and end is None:
                text += f"; the long task has run {now - start:.1f} s"
            self._line(now, text)


# ---------------------------------------------------------------- recording helpers
class _Rec:
    """Spans for what the greenlet tracer cannot see (OS threads, asyncio); no-ops when not recording.

    A lane runs from the moment its wait ended until its next wait (or a span
    recorded with ``ran``), so its running spans are drawn like a greenthread's.
    """

    def __init__(self, tl: Timeline | None) -> None:
        self.tl = tl
        self.woke: dict[str, float] = {}  # lane -> when its last wait ended

    def sleep(self, lane: str, sleep: Callable[[float], Any], seconds: float, label: str) -> None:
        # Due at start + seconds; anything after that it was ready, not waiting.
        start = clock()
        sleep(seconds)
        self.waited(lane, start, seconds, clock(), label)

    def _ran_until(self, lane: str, t: float) -> None:
        woke = self.woke.pop(lane, None)
        if woke is not None and t > woke:
            self.tl.add_span(lane, woke, t, "running", "running")  # type: ignore[union-attr]

    def waited(self, lane: str, start: float, seconds: float, end: float, label: str) -> None:
        if self.tl is None:
            return
        self._ran_until(lane, start)
        due = min(start + seconds, end)
        self.tl.add_span(lane, start, due, "waiting", label)
        if end > due:
            self.tl.add_span(lane, due, end, "ready", "due")
        self.woke[lane] = end

    def ran(self, lane: str, start: float, label: str) -> None:
        if self.tl is not None:
            self._ran_until(lane, start)
            self.woke[lane] = now = clock()
            self.tl.add_span(lane, start, now, "running", label)

    def close(self) -> None:
        # The run is over (or interrupted): a thread still at work adds nothing to the stopped recording.
        self.tl = None


class ServiceGroup(Protocol):
    """Where the service reports to (nova's servicegroup driver); see ``scenarios.servicegroup``."""

    def report_state(self) -> None: ...  # called in every beat
    def periodic_task(self) -> None: ...  # one more periodic task, run with the others


# ---------------------------------------------------------------- green backends
class _GreenOps:
    """The handful of eventlet-style calls the service needs, from minievent, eventlet or gevent."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.wait: Callable[[Any], Any] = lambda gt: gt.wait()
        if name == "eventlet":
            import eventlet
            import eventlet.tpool

            self.spawn, self.sleep, self.execute = eventlet.spawn, eventlet.sleep, eventlet.tpool.execute
        elif name == "gevent":
            import gevent

            def execute(fn: Callable[..., Any], *args: Any) -> Any:
                return gevent.get_hub().threadpool.apply(fn, args)  # gevent's tpool: a thread, the hub goes on

            self.spawn, self.sleep, self.execute = gevent.spawn, gevent.sleep, execute
            self.wait = lambda gt: gt.get()  # get(), not join(): an error in the greenlet is raised here
        else:
            import minievent
            from minievent import tpool

            self.spawn, self.sleep, self.execute = minievent.spawn, minievent.sleep, tpool.execute


def _run_green(ops: _GreenOps, p: Params, tl: Timeline | None, out: dict, sg: ServiceGroup | None = None) -> None:
    interval, kind, fix = p.interval, p.kind, p.fix
    rec = _Rec(tl)
    t0, end = _begin(out, p)

    def report_state() -> None:
        out["beats"].append(clock() - t0)
        if sg is not None:
            sg.report_state()

    looping = FixedIntervalLoopingCall(report_state, interval, ops.sleep)
    out["warnings"] = looping.warnings

    def heartbeat() -> None:
        looping.run_until(end)
        out["heartbeat_end"] = clock() - t0

    def heartbeat_thread() -> None:
        # fix="thread": a native thread with the real time.sleep; the GIL
        # lets it in every few ms whatever the greenthreads do.
        def sleep(seconds: float) -> None:
            rec.sleep("heartbeat thread", time.sleep, seconds, f"time.sleep({seconds:.2f})")

        looping.run_until(end, sleep)
        out["heartbeat_end"] = clock() - t0

    def long_task() -> None:
        seconds = p.task_seconds
        yield_ = (lambda: ops.sleep(0)) if fix == "sleep0" else None
        if kind == "green":
            ops.sleep(seconds)
        elif fix == "tpool":
            body = compute_for if kind == "cpu" else block_for

            def in_thread() -> None:
                start = clock()
                body(seconds)
                rec.ran("tpool thread", start, f"long task ({kind})")

            ops.execute(in_thread)
        elif kind == "cpu":
            compute_for(seconds, yield_)
        else:
            block_for(seconds, yield_)

    def periodic_tasks() -> None:
        tasks = (_short_task, _short_task) + ((sg.periodic_task,) if sg is not None else ())
        _periodic(ops.sleep, long_task, out, t0, end, interval, p.task_at, tasks)

    threads = []
    try:
        if fix == "thread":
            threads.append(_OSThread(target=heartbeat_thread, name="heartbeat", daemon=True))
            threads[0].start()
            gts = []
        else:
            gts = [ops.spawn(heartbeat)]
        gts.append(ops.spawn(periodic_tasks))
        for gt in gts:
            ops.wait(gt)
        for t in threads:
            t.join()
    finally:
        rec.close()
        _finish(out)


def _short_task() -> None:
    for _ in range(20):
        _work()


def _periodic(
    sleep: Callable[[float], Any],
    long_task: Callable[[], Any],
    out: dict,
    t0: float,
    end: _Deadline,
    interval: float,
    task_at: float,
    tasks: tuple[Callable[[], Any], ...] = (_short_task, _short_task),
) -> None:
    # Runs every interval (offset by half of one from the heartbeat), the short
    # tasks one after another with sleep(0) between them, and the long task
    # once, in the first run at or after task_at.
    next_run = t0 + interval / 2
    long_done = False
    while True:
        sleep(max(0.0, next_run - clock()))
        if clock() >= end():
            return
        for task in tasks:
            task()
            sleep(0)
        if not long_done and clock() - t0 >= task_at:
            long_done = True
            out["task_start"] = clock() - t0
            long_task()
            out["task_end"] = clock() - t0
            end.task_ended()
            sleep(0)
        while next_run <= clock():
            next_run += interval


def _run_minievent(p: Params, out: dict, sg: ServiceGroup | None = None) -> None:
    out["timeline"] = tl = Timeline() if p.record else None
    if tl is not None:
        tl.start()
    try:
        _run_green(_GreenOps("minievent"), p, tl, out, sg)
    finally:
        if tl is not None:
            tl.stop()


def _run_subprocess(p: Params, backend: str, out: dict, progress: Callable[[str], Any] | None) -> None:
    # In a subprocess: eventlet's or gevent's hub and minievent's must not share a
    # thread (and eventlet, once imported, likes to patch things).
    if importlib.util.find_spec(backend) is None:
        raise ValueError(f"backend {backend!r} needs {backend} installed (pip install {backend})")
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("EVENTLET_NO_GREENDNS", "yes")
    command = [sys.executable, "-W", "ignore", "-c", "from minievent.scenarios.heartbeat import _child; _child()"]
    proc = subprocess.Popen(
        [*command, backend, json.dumps(asdict(p))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    stdout: list[str] = []
    stderr: list[str] = []

    def read_stderr() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            if not line.startswith(_PROGRESS):
                stderr.append(line)
            elif progress is not None:
                progress(line[len(_PROGRESS) :].rstrip("\n"))

    readers = [
        _OSThread(target=lambda: stdout.append(proc.stdout.read()), daemon=True),  # type: ignore[union-attr]
        _OSThread(target=read_stderr, daemon=True),
    ]
    for t in readers:
        t.start()
    interrupted = False
    try:
        proc.wait(timeout=p.duration * 3 + p.task_seconds + 60)
    except KeyboardInterrupt:
        interrupted = True
        # Ctrl-C at a terminal reaches the child as well; a signal sent to this process alone is passed on.
        try:
            proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"the {backend} run did not end in time:\n{''.join(stderr)[-2000:]}")
    for t in readers:
        t.join(10)
    lines = "".join(stdout).strip().splitlines()
    if proc.returncode != 0 or not lines:
        if interrupted:
            raise KeyboardInterrupt
        raise RuntimeError(f"the {backend} run failed:\n{''.join(stderr)[-2000:]}")
    got = json.loads(lines[-1])
    trace = got.pop("trace", None)  # the child's recording, as a Chrome trace
    out.update(got)
    out["timeline"] = load(trace) if trace is not None else None
    if interrupted:
        raise KeyboardInterrupt


def _child() -> None:
    """Entry point of the eventlet or gevent subprocess: run, print the result as JSON."""
    backend, p = sys.argv[1], Params(**json.loads(sys.argv[2]))
    ops = _GreenOps(backend)
    out = _record(p)
    tl = record_loop(backend) if p.record else None  # minievent.recording: eventlet's or gevent's switches
    watcher = _Progress(out, p, lambda line: print(_PROGRESS + line, file=sys.stderr, flush=True))
    if p.progress:
        watcher.start()
    if tl is not None:
        tl.start()
    try:
        _run_green(ops, p, tl, out)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # one is enough: the parent may pass the same Ctrl-C on
        out["interrupted"] = True
    finally:
        if tl is not None:
            tl.stop()
        if p.progress:
            watcher.stop()
    result = {name: out[name] for name in _FIELDS}
    if tl is not None:
        result["trace"] = tl.to_chrome_trace()
    print(json.dumps(result), flush=True)


# ---------------------------------------------------------------- threads
def _run_threads(p: Params, out: dict) -> None:
    # Every part in its own OS thread, as services do once off eventlet. The
    # GIL is handed over every 5 ms, so even a pure-Python task can't starve
    # the heartbeat for long.
    out["timeline"] = tl = Timeline() if p.record else None
    rec = _Rec(tl)
    interval, kind = p.interval, p.kind
    t0, end = _begin(out, p)

    def report_state() -> None:
        out["beats"].append(clock() - t0)

    def hb_sleep(seconds: float) -> None:
        rec.sleep("heartbeat", time.sleep, seconds, f"time.sleep({seconds:.2f})")

    def pt_sleep(seconds: float) -> None:
        if seconds > 0:
            rec.sleep("periodic_tasks", time.sleep, seconds, f"time.sleep({seconds:.2f})")

    def long_task() -> None:
        start = clock()
        if kind == "cpu":
            compute_for(p.task_seconds)
        else:
            time.sleep(p.task_seconds)
        rec.ran("periodic_tasks", start, f"long task ({kind})")

    looping = FixedIntervalLoopingCall(report_state, interval, hb_sleep)
    out["warnings"] = looping.warnings

    def heartbeat() -> None:
        looping.run_until(end)
        out["heartbeat_end"] = clock() - t0

    threads = [
        _OSThread(target=heartbeat, name="heartbeat", daemon=True),
        _OSThread(
            target=_periodic,
            args=(pt_sleep, long_task, out, t0, end, interval, p.task_at),
            name="periodic_tasks",
            daemon=True,
        ),
    ]
    if tl is not None:
        tl.start(greenlets=False)  # spans only: no greenlets here
        rec.woke.update(heartbeat=clock(), periodic_tasks=clock())
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        rec.close()
        if tl is not None:
            tl.stop()
        _finish(out)


# ---------------------------------------------------------------- asyncio
def _run_loop(main: Callable[[], Any]) -> None:
    """``asyncio.run(main())``, but Ctrl-C interrupts a step that computes, as on the green backends.

    ``asyncio.run`` answers SIGINT by cancelling the main task, which a step that
    never awaits does not see until it ends (30 s later, for a 30 s task); with
    Python's own handler the KeyboardInterrupt is raised inside the step.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # (as asyncio.run does)
    try:
        loop.run_until_complete(main())
    finally:
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        try:
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            # After a Ctrl-C the main task wakes with the KeyboardInterrupt and raises it again out of
            # the loop above: mark what each task raised as seen (it is on its way out already), or the
            # collector logs its traceback later, into whatever runs then.
            for task in pending:
                if task.done() and not task.cancelled():
                    task.exception()
            asyncio.set_event_loop(None)
            loop.close()


def _run_in_own_loop(main: Callable[[], Any]) -> None:
    """Run ``main()`` on a new event loop; in a thread of its own if this thread already runs a loop.

    One running loop per thread: inside Jupyter (whose kernel runs an asyncio
    loop in the main thread) ``asyncio.run`` would refuse to start.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        _run_loop(main)
        return
    error: list[BaseException] = []

    def body() -> None:
        try:
            _run_loop(main)
        except BaseException as e:  # handed to the caller
            error.append(e)

    t = _OSThread(target=body, name="heartbeat asyncio loop")
    t.start()
    t.join()
    if error:
        raise error[0]


async def _in_os_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """``loop.run_in_executor(None, fn, *args)``, on a daemon thread: an interrupted run need not wait for it."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if not done.done():
            done.set_result(value) if error is None else done.set_exception(error)

    def body() -> None:
        try:
            value, error = fn(*args), None
        except Exception as e:  # handed to the awaiting task
            value, error = None, e
        try:
            loop.call_soon_threadsafe(settle, value, error)
        except RuntimeError:  # the loop is closed: the run was interrupted
            pass

    _OSThread(target=body, name="asyncio executor", daemon=True).start()
    return await done


def _run_asyncio(p: Params, out: dict) -> None:
    # The same service as coroutines: await is the only place a coroutine
    # yields, so a long synchronous task holds the event loop exactly as a
    # greenthread holds the hub.
    out["timeline"] = tl = record_loop("asyncio") if p.record else None  # each task step, each ready handle
    rec = _Rec(tl)  # (only for the heartbeat thread of fix="thread": the loop's tasks are recorded as they run)
    interval, kind, fix, seconds = p.interval, p.kind, p.fix, p.task_seconds

    async def main() -> None:
        t0, end = _begin(out, p)
        looping = FixedIntervalLoopingCall(lambda: out["beats"].append(clock() - t0), interval, time.sleep)
        out["warnings"] = looping.warnings

        async def heartbeat() -> None:
            while clock() < end():
                start = clock()
                looping.f()
                idle = looping.idle_for(clock() - start)
                await asyncio.sleep(idle)
            out["heartbeat_end"] = clock() - t0

        async def long_task() -> None:
            if kind == "green":
                await asyncio.sleep(seconds)
            elif fix == "tpool":
                await _in_os_thread(compute_for if kind == "cpu" else block_for, seconds)
            elif fix == "sleep0":
                end_task = clock() + seconds
                while clock() < end_task:
                    (compute_for if kind == "cpu" else block_for)(min(YIELD_EVERY, end_task - clock()))
                    await asyncio.sleep(0)
            elif kind == "cpu":
                compute_for(seconds)
            else:
                time.sleep(seconds)

        async def periodic_tasks() -> None:
            next_run = t0 + interval / 2
            long_done = False
            while True:
                await asyncio.sleep(max(0.0, next_run - clock()))
                if clock() >= end():
                    return
                for task in (_short_task, _short_task):
                    task()
                    await asyncio.sleep(0)
                if not long_done and clock() - t0 >= p.task_at:
                    long_done = True
                    out["task_start"] = clock() - t0
                    await long_task()
                    out["task_end"] = clock() - t0
                    end.task_ended()
                while next_run <= clock():
                    next_run += interval

        try:
            if fix == "thread":

                def hb_sleep(s: float) -> None:
                    rec.sleep("heartbeat thread", time.sleep, s, f"time.sleep({s:.2f})")

                def hb_body() -> None:
                    looping.run_until(end, hb_sleep)
                    out["heartbeat_end"] = clock() - t0

                hb = _OSThread(target=hb_body, daemon=True)
                hb.start()
                await asyncio.create_task(periodic_tasks())  # (a task of its own: its own lane)
                await _in_os_thread(hb.join)
            else:
                await asyncio.gather(heartbeat(), periodic_tasks())
        finally:
            _finish(out)

    if tl is not None:
        tl.start()  # records the loop _run_in_own_loop starts (in a thread of its own under Jupyter)
    try:
        _run_in_own_loop(main)
    finally:
        rec.close()
        if tl is not None:
            tl.stop()


# ---------------------------------------------------------------- the entry point
def _check_seconds(name: str, value: Any, zero: bool = False) -> None:
    # inf or NaN would make a run that never ends, or compares false with every deadline.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise ValueError(f"{name} must be a finite number of seconds {'>= 0' if zero else '> 0'}, not {value!r}")


def run(
    interval: float = 1.0,
    task_seconds: float = 3.0,
    kind: str = "cpu",
    fix: str | None = None,
    backend: str = "minievent",
    service_down_time: float | None = None,
    record: bool = True,
    duration: float | None = None,
    task_at: float | None = None,
    servicegroup: ServiceGroup | None = None,
    progress: Callable[[str], Any] | None = None,
) -> HeartbeatResult:
    """Run the service once and return what its heartbeat looked like.

    ``duration`` (seconds; default: long enough for the task and three more
    intervals) bounds the run; ``task_at`` (default 2.5 intervals) is when the
    long task starts, half-way between two beats. ``record`` keeps a
    ``Timeline`` in ``result.timeline`` where the backend allows. ``servicegroup``
    (minievent backend) is told of every beat and runs a periodic task of its own:
    ``minievent.scenarios.servicegroup`` puts the service in a real database.
    ``progress`` (``print``, say) is given a line per beat and one a second while
    no beat comes, as they happen. Ctrl-C raises ``Interrupted``, whose
    ``result`` is what was recorded until then.
    """
    _check_seconds("interval", interval)
    _check_seconds("task_seconds", task_seconds, zero=True)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if fix == "none":
        fix = None
    if fix not in FIXES:
        raise ValueError(f"fix must be one of none, {', '.join(f for f in FIXES if f)}, not {fix!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if backend == "threads" and fix is not None:
        raise ValueError("the threads backend needs no fix: every part already has its own thread")
    if service_down_time is None:
        service_down_time = 6 * interval
    _check_seconds("service_down_time", service_down_time)
    if task_at is None:
        task_at = 2.5 * interval
    _check_seconds("task_at", task_at, zero=True)
    extend = duration is None
    if duration is None:
        duration = task_at + task_seconds + 3 * interval
    _check_seconds("duration", duration)
    p = Params(
        interval=float(interval),
        task_seconds=float(task_seconds),
        kind=kind,
        fix=fix,
        duration=float(duration),
        task_at=float(task_at),
        record=bool(record),
        extend=extend,
        progress=progress is not None,
        service_down_time=float(service_down_time),
    )
    if servicegroup is not None and backend != "minievent":
        raise ValueError(f"a servicegroup runs with the minievent backend, not {backend!r}")
    out = _record(p)
    # A subprocess backend says its progress itself (its lines come back through its stderr).
    watcher = _Progress(out, p, progress) if progress is not None and backend not in SUBPROCESS_BACKENDS else None
    interrupted = False
    if watcher is not None:
        watcher.start()
    try:
        if servicegroup is not None:
            _run_minievent(p, out, servicegroup)
        elif backend in SUBPROCESS_BACKENDS:
            _run_subprocess(p, backend, out, progress)
        else:
            {"minievent": _run_minievent, "threads": _run_threads, "asyncio": _run_asyncio}[backend](p, out)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        out["end"].stop()  # whatever still runs (a heartbeat thread) ends at its next look
        if watcher is not None:
            watcher.stop()
    if out["duration"] is None:
        _finish(out)
    result = HeartbeatResult(
        interval=float(interval),
        task_seconds=float(task_seconds),
        kind=kind,
        fix=fix,
        backend=backend,
        service_down_time=float(service_down_time),
        duration=out["duration"],
        task_at=float(task_at),
        beats=out["beats"],
        warnings=list(out["warnings"]),
        task_start=out["task_start"],
        task_end=out["task_end"],
        timeline=out["timeline"],
        service_end=out["service_end"],
        heartbeat_end=out["heartbeat_end"],
        interrupted=interrupted or bool(out["interrupted"]),
    )
    if result.interrupted:
        raise Interrupted(result)
    return result
