"""``python -m minievent trace script.py [args...]``: record any program's event loop, as cProfile profiles it.

    python -m minievent trace --plot lanes.png --trace trace.json --threshold 0.1 service.py --port 8080

runs ``service.py`` as ``__main__`` (its ``sys.argv`` is ``[script, *args]``),
records whichever loop it uses -- minievent, eventlet or gevent (on the
first switch to their hub), asyncio (each loop that starts running) -- and
when it ends (normally, ``sys.exit``, an exception, Ctrl-C or SIGTERM) writes
the Chrome trace (Perfetto) and a swimlane picture, and prints on stderr
which greenthreads or tasks held the loop longest, for how long, and at
which line.

The line comes from a watchdog OS thread, as in ``minievent.debug``: a few
times per ``threshold`` it looks at the last switch recorded; when the same
greenthread or task has run longer than ``threshold``, it takes the recorded
thread's stack from ``sys._current_frames()`` and notes the innermost frame
of the program's own code. A run is sampled every period while it lasts; the
report names the line seen most often.
"""

from __future__ import annotations

import _thread
import collections
import json
import os
import runpy
import signal
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import greenlet

from . import recording
from .recording.records import HUB_ID, clock
from .recording.timeline import Mark, Span, Timeline, TimerRecord

__all__ = ["Tracer", "HeldLoop", "Recording", "load", "run", "main"]

#: Files under these directories are libraries; the line reported is the program's own.
_LIB_DIRS = tuple(
    {os.path.dirname(os.__file__), os.path.dirname(os.path.dirname(greenlet.__file__)), os.path.dirname(__file__)}
)


@dataclass
class HeldLoop:
    """``lane`` ran ``duration`` seconds from ``start`` (seconds into the recording) without yielding."""

    loop: str
    lane: str
    start: float
    duration: float
    where: str = "(not sampled)"  # "spin (service.py:12)": the line seen most often while it ran
    lines: collections.Counter = field(default_factory=collections.Counter)

    def __str__(self) -> str:
        return f"{self.duration:8.3f} s  {self.lane:<24} at {self.start:7.3f} s  {self.where}"


def _where(frame: Any) -> str:
    # The innermost frame of the program's own code (not the stdlib, a library, or minievent).
    inner = None
    f = frame
    while f is not None:
        if inner is None:
            inner = f
        if not f.f_code.co_filename.startswith(_LIB_DIRS):
            return f"{f.f_code.co_qualname} ({os.path.basename(f.f_code.co_filename)}:{f.f_lineno})"
        f = f.f_back
    if inner is None:
        return "(no stack)"
    return f"{inner.f_code.co_qualname} ({inner.f_code.co_filename}:{inner.f_lineno})"


class Tracer:
    """Records every loop that appears in this process until ``stop()``; ``report()`` says who held it.

    ``loop``: None (all that appear), or one of ``recording.LOOPS``.
    """

    def __init__(self, loop: str | None = None, threshold: float = 0.1) -> None:
        if loop is not None and loop not in recording.LOOPS:
            raise ValueError(f"loop must be one of {recording.LOOPS} or None, not {loop!r}")
        if not threshold > 0:
            raise ValueError("threshold must be > 0 seconds")
        self.loop, self.threshold = loop, float(threshold)
        self.timelines: list[Timeline] = []
        # (id(timeline), start of the run) -> Counter of lines seen while it ran
        self._samples: dict[tuple[int, float], collections.Counter] = {}
        # The watchdog is a bare OS thread (_thread, not threading), with locks
        # made now: the program may monkey-patch threading after we start, and
        # a threading.Thread started before that trips over the patched
        # get_ident when it ends. Start the tracer before the program patches.
        self._stop = _thread.allocate_lock()
        self._done = _thread.allocate_lock()
        self._watching = False
        self._prev_trace: Any = None
        self._detecting = False

    # ------------------------------------------------------------ on / off
    def start(self) -> Tracer:
        if self.loop in (None, "asyncio"):
            self._begin("asyncio")
        if self.loop != "asyncio":
            # Greenlet loops: wait for the first switch to a hub we know.
            self._prev_trace = greenlet.gettrace()
            self._detecting = True
            greenlet.settrace(self._detect)
        self._stop.acquire()
        self._done.acquire()
        _thread.start_new_thread(self._watch, ())
        self._watching = True
        return self

    def stop(self) -> None:
        if self._detecting:
            greenlet.settrace(self._prev_trace)
            self._detecting = False
        for tl in self.timelines:
            try:
                tl.stop()
            except RuntimeError:  # stopped from another thread than its loop's: it stops with its loop
                pass
        if self._watching:
            self._watching = False
            self._stop.release()
            self._done.acquire(timeout=10)

    def _begin(self, loop: str) -> None:
        tl = recording.timeline_for(loop)
        tl.start()
        self.timelines.append(tl)

    def _detect(self, event: str, args: Any) -> None:
        # Until a hub is seen: one look per switch at which library it belongs to.
        prev = self._prev_trace
        kind = None
        for g in args:
            kind = _hub_kind(g)
            if kind is not None:
                break
        if kind is not None and self.loop in (None, kind):
            greenlet.settrace(prev)
            self._detecting = False
            self._begin(kind)  # (its tracer chains whatever was installed before ours)
        if prev is not None:
            prev(event, args)

    # ------------------------------------------------------------ the watchdog
    def _watch(self) -> None:
        period = min(max(self.threshold / 4, 0.001), 0.05)
        try:
            while not self._stop.acquire(timeout=period):
                for tl in list(self.timelines):
                    self._sample(tl)
        finally:
            self._done.release()

    def _sample(self, tl: Timeline) -> None:
        n, since, kid = tl.latest()
        if kid == HUB_ID or not tl.recording or clock() - since <= self.threshold:
            return
        frame = sys._current_frames().get(tl.thread)  # type: ignore[arg-type]
        if frame is None or tl.latest()[0] != n:
            return  # it switched while we looked: not stuck after all
        if kid is None and _in_minievent_hub(frame):
            return  # the records can't say who runs (after a yield): the frame says it is the hub
        self._samples.setdefault((id(tl), since), collections.Counter())[_where(frame)] += 1

    # ------------------------------------------------------------ results
    def recorded(self) -> list[Timeline]:
        """The recordings that saw a switch, most switches first."""
        return sorted((tl for tl in self.timelines if tl.latest()[0]), key=lambda tl: -tl.latest()[0])

    def held(self, top: int = 10) -> list[HeldLoop]:
        """The longest runs over ``threshold``, longest first, each with the line it was at."""
        out = []
        for tl in self.recorded():
            loop = tl.loop
            outside = tl.outside_lane
            for s in tl.blocked(self.threshold):
                if s.lane == outside:
                    continue  # the thread's code before or after asyncio's loop holds no loop
                lines = self._samples.get((id(tl), s.start + tl.t0), collections.Counter())  # type: ignore[operator]
                if not lines:  # (float keys: match the run's start within a microsecond)
                    for (i, t), c in self._samples.items():
                        if i == id(tl) and abs(t - tl.t0 - s.start) < 1e-6:  # type: ignore[operator]
                            lines = c
                held = HeldLoop(loop, s.lane, s.start, s.duration, lines=lines)
                if lines:
                    held.where = lines.most_common(1)[0][0]
                out.append(held)
        out.sort(key=lambda h: -h.duration)
        return out[:top]

    def report(self, top: int = 10) -> str:
        rec = self.recorded()
        if not rec:
            why = " (uvloop's loop is C: it cannot be recorded)" if "uvloop" in sys.modules else ""
            return f"minievent trace: no event loop ran (no greenlet switch, no asyncio loop){why}"
        lines = []
        for tl in rec:
            loop = tl.loop
            lines.append(
                f"minievent trace: recorded {loop}: {tl.duration:.3f} s, {len(tl.switches)} switches, "
                f"{len(tl.lanes)} lanes, {tl.dropped} dropped"
            )
        held = self.held(top)
        if held:
            lines.append(f"held the loop longest (runs over {self.threshold:g} s without yielding):")
            lines += [f"  {h}" for h in held]
        else:
            lines.append(f"no greenthread or task held the loop over {self.threshold:g} s")
        return "\n".join(lines)


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

    def spans(self) -> list[Span]:
        return list(self._spans)

    def to_chrome_trace(self, path: Any = None) -> dict:
        """The trace it was read from (written to ``path`` if given), as ``Timeline.to_chrome_trace``."""
        if path is not None:
            with open(path, "w") as f:
                json.dump(self._trace, f)
        return self._trace

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
    return Recording([names[t] for t in sorted(names)], duration, spans, marks, timers, other.get("dropped", 0), trace)


def _in_minievent_hub(frame: Any) -> bool:
    """Whether ``frame`` runs in minievent's hub greenlet (the bottom of its stack is ``Hub.run``)."""
    from .hub import Hub

    while frame.f_back is not None:
        frame = frame.f_back
    return frame.f_code is Hub.run.__code__


def _hub_kind(g: Any) -> str | None:
    """Which library's hub greenlet ``g`` is, if any (looked up only in libraries already imported)."""
    mh = sys.modules.get("minievent.hub")
    if mh is not None and g is getattr(mh.existing_hub(), "greenlet", None):
        return "minievent"
    eh = sys.modules.get("eventlet.hubs")
    if eh is not None and g is getattr(getattr(eh._threadlocal, "hub", None), "greenlet", None):
        return "eventlet"
    gh = sys.modules.get("gevent.hub")
    if gh is not None and isinstance(g, gh.Hub):
        return "gevent"
    return None


def _outputs(tracer: Tracer, plot: str | None, trace: str | None, script: str) -> list[str]:
    written = []
    for i, tl in enumerate(tracer.recorded()):
        loop = tl.loop
        suffix = "" if i == 0 else f"-{loop}"  # a second loop in one program: a second file
        if trace:
            root, ext = os.path.splitext(trace)
            path = root + suffix + ext
            tl.to_chrome_trace(path)
            written.append(f"trace      {path} (open in https://ui.perfetto.dev)")
        if plot:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            from . import plot as plotmod

            root, ext = os.path.splitext(plot)
            path = root + suffix + ext
            ax = plotmod.swimlanes(tl, title=f"{os.path.basename(script)} on {loop}")
            ax.figure.savefig(path, dpi=110)
            plt.close(ax.figure)
            written.append(f"picture    {path}")
    return written


def run(
    script: str,
    args: Sequence[str],
    plot: str | None = None,
    trace: str | None = None,
    threshold: float = 0.1,
    loop: str | None = None,
) -> int:
    """Run ``script`` as ``__main__`` under a ``Tracer``; write the outputs; print the report. Exit status."""
    if not os.path.isfile(script):
        raise ValueError(f"{script}: no such file")
    for flag, path in (("--plot", plot), ("--trace", trace)):
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise ValueError(f"{flag} {path}: the directory does not exist")
    if plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ValueError("--plot needs matplotlib (pip install matplotlib)")
    old_argv, old_path0 = sys.argv[:], sys.path[0]
    sys.argv[:] = [script, *args]
    sys.path[0] = os.path.dirname(os.path.abspath(script))  # as `python script.py` would
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    tracer = Tracer(loop, threshold).start()
    status = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if e.code is not None and not isinstance(e.code, int):
            print(e.code, file=sys.stderr)
    except KeyboardInterrupt:
        status = 130
        print("minievent trace: interrupted", file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        status = 1
    finally:
        tracer.stop()
        sys.argv[:], sys.path[0] = old_argv, old_path0
    print(tracer.report(), file=sys.stderr)
    for line in _outputs(tracer, plot, trace, script):
        print(line, file=sys.stderr)
    return status


def main(args: Any) -> int:
    """The ``trace`` subcommand (``args`` from ``minievent.__main__``'s parser)."""
    return run(
        args.script,
        args.args,
        plot=args.plot,
        trace=args.trace,
        threshold=args.threshold,
        loop=None if args.loop == "auto" else args.loop,
    )


def add_parser(sub: Any, positive: Any) -> None:
    """Add ``trace`` to the subcommands of ``python -m minievent``."""
    p = sub.add_parser(
        "trace",
        help="run any Python program (minievent, eventlet, gevent, asyncio) under the recorder",
        description="Run SCRIPT as __main__ with ARGS, record its event loop, and on exit write a Chrome "
        "trace (--trace), a swimlane picture (--plot) and a report of who held the loop longest, at which line.",
    )
    p.add_argument("--plot", metavar="PNG", help="write the swimlane picture here (needs matplotlib)")
    p.add_argument("--trace", metavar="JSON", help="write a Chrome trace here (Perfetto, chrome://tracing)")
    p.add_argument(
        "--threshold",
        type=positive,
        default=0.1,
        metavar="S",
        help="report runs longer than S seconds without yielding (default 0.1)",
    )
    p.add_argument(
        "--loop",
        choices=["auto", *recording.LOOPS],
        default="auto",
        help="record only this loop (default: every one that appears)",
    )
    p.add_argument("script", help="the Python program to run")
    p.add_argument("args", nargs="...", help="its arguments")
    p.set_defaults(handler=main)
