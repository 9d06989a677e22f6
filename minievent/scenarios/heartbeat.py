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
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from ..foreign import timeline_for as record_loop
from ..patcher import original
from ..timeline import Timeline
from ..trace import load

#: Real OS threads even under monkey_patch(), which makes threading.Thread a greenthread:
#: the "thread" fix and the threads backend are about OS threads.
_OSThread = original("threading").Thread

__all__ = ["run", "Params", "HeartbeatResult", "FixedIntervalLoopingCall", "KINDS", "FIXES", "BACKENDS"]

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
        """The part of ``silence_at_end`` during which the service was still expected to beat."""
        end = self.duration if self.service_end is None else min(self.service_end, self.duration)
        return max(0.0, end - self.beats[-1]) if self.beats else end

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
        task = (
            f"{self.task_start:.2f}..{self.task_end:.2f} s"
            if self.task_start is not None and self.task_end is not None
            else "-"
        )
        if self.silence_expected > self.service_down_time:
            tail = f"{self.silence_at_end:.2f} s after the last beat, silent while still expected to beat: DOWN"
        else:
            tail = f"{self.silence_at_end:.2f} s after the last beat, while the service was stopping (not a gap)"
        rows = [
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


def _run_green(ops: _GreenOps, p: Params, tl: Timeline | None, sg: ServiceGroup | None = None) -> dict:
    interval, kind, fix = p.interval, p.kind, p.fix
    rec = _Rec(tl)
    out: dict[str, Any] = {"beats": [], "task_start": None, "task_end": None}
    t0 = clock()
    end = _Deadline(t0, p)

    def report_state() -> None:
        out["beats"].append(clock() - t0)
        if sg is not None:
            sg.report_state()

    looping = FixedIntervalLoopingCall(report_state, interval, ops.sleep)

    def heartbeat() -> None:
        looping.run_until(end)

    def heartbeat_thread() -> None:
        # fix="thread": a native thread with the real time.sleep; the GIL
        # lets it in every few ms whatever the greenthreads do.
        def sleep(seconds: float) -> None:
            rec.sleep("heartbeat thread", time.sleep, seconds, f"time.sleep({seconds:.2f})")

        looping.run_until(end, sleep)

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
    out["warnings"] = looping.warnings
    out["duration"] = clock() - t0
    out["service_end"] = end() - t0
    return out


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


def _run_minievent(p: Params, sg: ServiceGroup | None = None) -> dict:
    tl = Timeline() if p.record else None
    if tl is not None:
        tl.start()
    try:
        out = _run_green(_GreenOps("minievent"), p, tl, sg)
    finally:
        if tl is not None:
            tl.stop()
    out["timeline"] = tl
    return out


def _run_subprocess(p: Params, backend: str) -> dict:
    # In a subprocess: eventlet's or gevent's hub and minievent's must not share a
    # thread (and eventlet, once imported, likes to patch things).
    if importlib.util.find_spec(backend) is None:
        raise ValueError(f"backend {backend!r} needs {backend} installed (pip install {backend})")
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("EVENTLET_NO_GREENDNS", "yes")
    proc = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            "-c",
            "from minievent.scenarios.heartbeat import _child; _child()",
            backend,
            json.dumps(asdict(p)),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=p.duration * 3 + p.task_seconds + 60,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the {backend} run failed:\n{proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    trace = out.pop("trace", None)  # the child's recording, as a Chrome trace
    out["timeline"] = load(trace) if trace is not None else None
    return out


def _child() -> None:
    """Entry point of the eventlet or gevent subprocess: run, print the result as JSON."""
    backend, p = sys.argv[1], Params(**json.loads(sys.argv[2]))
    ops = _GreenOps(backend)
    tl = record_loop(backend) if p.record else None  # minievent.foreign: eventlet's or gevent's switches
    if tl is not None:
        tl.start()
    try:
        out = _run_green(ops, p, tl)
    finally:
        if tl is not None:
            tl.stop()
    if tl is not None:
        out["trace"] = tl.to_chrome_trace()
    print(json.dumps(out))


# ---------------------------------------------------------------- threads
def _run_threads(p: Params) -> dict:
    # Every part in its own OS thread, as services do once off eventlet. The
    # GIL is handed over every 5 ms, so even a pure-Python task can't starve
    # the heartbeat for long.
    tl = Timeline() if p.record else None
    rec = _Rec(tl)
    interval, kind = p.interval, p.kind
    out: dict[str, Any] = {"beats": [], "task_start": None, "task_end": None}
    t0 = clock()
    end = _Deadline(t0, p)

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
    threads = [
        _OSThread(target=looping.run_until, args=(end,), name="heartbeat", daemon=True),
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
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if tl is not None:
        tl.stop()
    out["warnings"] = looping.warnings
    out["timeline"] = tl
    out["duration"] = clock() - t0
    out["service_end"] = end() - t0
    return out


# ---------------------------------------------------------------- asyncio
def _run_in_own_loop(main: Callable[[], Any]) -> None:
    """``asyncio.run(main())``; in a thread of its own if this thread already runs a loop.

    One running loop per thread: inside Jupyter (whose kernel runs an asyncio
    loop in the main thread) ``asyncio.run`` would refuse to start.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(main())
        return
    error: list[BaseException] = []

    def body() -> None:
        try:
            asyncio.run(main())
        except BaseException as e:  # handed to the caller
            error.append(e)

    t = _OSThread(target=body, name="heartbeat asyncio loop")
    t.start()
    t.join()
    if error:
        raise error[0]


def _run_asyncio(p: Params) -> dict:
    # The same service as coroutines: await is the only place a coroutine
    # yields, so a long synchronous task holds the event loop exactly as a
    # greenthread holds the hub.
    tl = record_loop("asyncio") if p.record else None  # minievent.foreign: each task step, each ready handle
    rec = _Rec(tl)  # (only for the heartbeat thread of fix="thread": the loop's tasks are recorded as they run)
    interval, kind, fix, seconds = p.interval, p.kind, p.fix, p.task_seconds
    out: dict[str, Any] = {"beats": [], "task_start": None, "task_end": None}
    warnings: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        t0 = clock()
        end = _Deadline(t0, p)
        looping = FixedIntervalLoopingCall(lambda: out["beats"].append(clock() - t0), interval, time.sleep)

        async def heartbeat() -> None:
            while clock() < end():
                start = clock()
                looping.f()
                idle = looping.idle_for(clock() - start)
                await asyncio.sleep(idle)

        async def long_task() -> None:
            if kind == "green":
                await asyncio.sleep(seconds)
            elif fix == "tpool":
                await loop.run_in_executor(None, compute_for if kind == "cpu" else block_for, seconds)
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

        if fix == "thread":

            def hb_sleep(s: float) -> None:
                rec.sleep("heartbeat thread", time.sleep, s, f"time.sleep({s:.2f})")

            hb = _OSThread(target=looping.run_until, args=(end, hb_sleep), daemon=True)
            hb.start()
            await asyncio.create_task(periodic_tasks())  # (a task of its own: its own lane)
            await loop.run_in_executor(None, hb.join)
        else:
            await asyncio.gather(heartbeat(), periodic_tasks())
        warnings.extend(looping.warnings)
        out["duration"] = clock() - t0
        out["service_end"] = end() - t0

    if tl is not None:
        tl.start()  # records the loop _run_in_own_loop starts (in a thread of its own under Jupyter)
    try:
        _run_in_own_loop(main)
    finally:
        if tl is not None:
            tl.stop()
    out["warnings"] = warnings
    out["timeline"] = tl
    return out


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
) -> HeartbeatResult:
    """Run the service once and return what its heartbeat looked like.

    ``duration`` (seconds; default: long enough for the task and three more
    intervals) bounds the run; ``task_at`` (default 2.5 intervals) is when the
    long task starts, half-way between two beats. ``record`` keeps a
    ``Timeline`` in ``result.timeline`` where the backend allows. ``servicegroup``
    (minievent backend) is told of every beat and runs a periodic task of its own:
    ``minievent.scenarios.servicegroup`` puts the service in a real database.
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
    )
    if servicegroup is not None and backend != "minievent":
        raise ValueError(f"a servicegroup runs with the minievent backend, not {backend!r}")
    if servicegroup is not None:
        out = _run_minievent(p, servicegroup)
    elif backend in SUBPROCESS_BACKENDS:
        out = _run_subprocess(p, backend)
    else:
        out = {"minievent": _run_minievent, "threads": _run_threads, "asyncio": _run_asyncio}[backend](p)
    return HeartbeatResult(
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
    )
