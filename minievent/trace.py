"""``python -m minievent trace script.py [args...]``: record any program's event loop, as cProfile profiles it.

    python -m minievent trace --plot lanes.png --trace trace.json --threshold 0.1 service.py --port 8080

runs ``service.py`` as ``__main__`` (its ``sys.argv`` is ``[script, *args]``),
records whichever loop it uses -- minievent, eventlet or gevent (on the
first switch to their hub), asyncio (each loop that starts running) -- and
when it ends (normally, ``sys.exit``, an exception, Ctrl-C or SIGTERM) writes
the Chrome trace (Perfetto) and a swimlane picture, and prints on stderr
which greenthreads or tasks held the loop longest, for how long, and at
which line.

It is the flight recorder (``minievent.recording.flight``) with an unbounded
window and one dump at exit: ``threshold`` is its ``--stall``, and a stall it
would write as an incident is kept for the report instead. Its watchdog
(``minievent.recording.watchdog``) looks at the last switch recorded a few
times per ``threshold``; while the same greenthread or task has run longer
than that, it samples the recorded thread's stack, at every look. The report
shows the stack seen most often and
names the run after its culprit (``timeline.culprit``: the periodic task
oslo.service called, else the innermost frame of the program's own code), and
says how late each late timer ran ("report_state ran 1.31 s late").
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import math
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import recording
from .cli import PICTURE_FORMATS, Output, Parser
from .recording import watchdog
from .recording.flight import FlightOptions, FlightRecorder
from .recording.incident import Stall
from .recording.program import Target, split
from .recording.records import clock
from .recording.timeline import Recording, Timeline, culprit, late_text, load

__all__ = ["Tracer", "HeldLoop", "Recording", "load", "run", "main"]


@dataclass
class HeldLoop:
    """``lane`` ran ``duration`` seconds from ``start`` (seconds into the recording) without yielding."""

    loop: str
    lane: str
    start: float
    duration: float
    #: "_sync_power_states (nova_compute.py:230)": the frame it is named after (``timeline.culprit``)
    where: str = "(not sampled)"
    #: every stack the watchdog saw while it ran (outermost first), and how often
    stacks: collections.Counter = field(default_factory=collections.Counter)

    @property
    def stack(self) -> tuple:
        """The stack seen most often while it held (the innermost lines vary; the callers do not)."""
        return self.stacks.most_common(1)[0][0] if self.stacks else ()

    def __str__(self) -> str:
        return f"{self.duration:8.3f} s  {self.lane:<24} at {self.start:7.3f} s  {self.where}"


def _where(stack: tuple) -> str:
    frame = culprit(stack)
    if frame is None:
        return "(no stack)"
    return f"{frame.function} ({os.path.basename(frame.filename)}:{frame.line})"


class Tracer(FlightRecorder):
    """The flight recorder with an unbounded window and one dump at exit: records every loop that appears
    in this process from ``arm()`` to ``disarm()``; ``report()`` says who held it.

    ``loop``: None (all that appear), or one of ``recording.LOOPS``. The flight
    recorder's watchdog samples the stack of a lane while it holds its loop longer
    than ``threshold``; each such run is kept (not written as an incident) for the report.
    """

    who = "minievent trace"

    def __init__(self, loop: str | None = None, threshold: float = 0.1) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
            raise ValueError("threshold must be > 0 seconds")
        # No folder, no signal, no sidecar: nothing is written, nothing of the program's is taken, while it runs.
        # (The options' window only bounds the stall; the window kept is unbounded.)
        options = FlightOptions(None, float(threshold), float(threshold), signal=None, picture=False)
        super().__init__(options, window=math.inf, loop=loop)
        self.threshold = float(threshold)
        #: id(timeline) -> the runs over ``threshold`` the watchdog caught, with their stacks
        self.stalls: dict[int, list[Stall]] = {}

    def _observe(self, tl: Timeline, now: float) -> None:
        """Nothing while it runs: the report reads the late timers from the whole recording, at exit."""

    def _write(
        self,
        reason: str,
        tl: Timeline | None,
        stall: Stall | None,
        now: float,
        late: Sequence = (),
        wait: bool = False,
    ) -> None:
        """A stall the flight recorder would write as an incident: kept for the report, its stacks with it."""
        if tl is not None and stall is not None:
            self.stalls.setdefault(id(tl), []).append(stall)

    def _stall_at(self, tl: Timeline, start: float) -> Stall | None:
        # (float times: the run's start, as the recording has it, within a microsecond)
        return next((x for x in self.stalls.get(id(tl), ()) if abs(x.start - start) < 1e-6), None)

    def note_lines(self) -> None:
        """Each held run's culprit (named from the stack seen most often) into its recording: the running
        span's ``why`` in the Chrome trace, so ``load(...).blocked()`` says where."""
        for tl in self.timelines:
            for stall in self.stalls.get(id(tl), ()):
                if stall.stack:
                    tl.note_run(stall.start, _where(stall.stack))

    # ------------------------------------------------------------ results
    def held(self, top: int = 10) -> list[HeldLoop]:
        """The longest runs over ``threshold``, longest first, each with the line it was at."""
        out = []
        for tl in self.recorded():
            loop = tl.loop
            outside = tl.outside_lane
            for s in tl.blocked(self.threshold):
                if s.lane == outside:
                    continue  # the thread's code before or after asyncio's loop holds no loop
                stall = self._stall_at(tl, s.start + tl.t0)  # type: ignore[operator]
                stacks = stall.stacks if stall is not None else collections.Counter()
                held = HeldLoop(loop, s.lane, s.start, s.duration, stacks=stacks)
                if stacks:
                    held.where = _where(held.stack)
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
                f"minievent trace: recorded {loop}: {tl.duration:.3f} s, {tl.switch_count} switches, "
                f"{len(tl.lanes)} lanes, {tl.dropped} dropped"
            )
        held = self.held(top)
        if held:
            lines.append(f"held the loop longest (runs over {self.threshold:g} s without yielding):")
            for i, h in enumerate(held):
                lines.append(f"  {h}")
                if i < 3 and h.stack:  # (the longest: their stacks, as the watchdog saw them while they held)
                    n = sum(h.stacks.values())
                    lines.append(f"      its stack while it held (outermost first; {n} sample{'s' if n > 1 else ''}):")
                    lines += [f"        {frame}" for frame in h.stack]
        else:
            lines.append(f"no greenthread or task held the loop over {self.threshold:g} s")
        late = sorted((t for tl in rec for t in tl.timers if t.lateness > self.threshold), key=lambda t: -t.lateness)
        if late:
            lines.append(f"late (timers and heartbeats that ran over {self.threshold:g} s after they were due):")
            lines += [f"  {late_text(t.lane, t.due, t.fired)}" for t in late[:top]]
        return "\n".join(lines)


class _Progress(watchdog.Watch):
    """After the program ended: once the work takes longer than a second, a line on stderr at each step."""

    def __init__(self, step: str) -> None:
        super().__init__(None, 1.0, period=0.1)
        self.start = clock()
        self.step = step
        self.said: str | None = None

    def tick(self, now: float) -> None:
        step = self.step
        if now - self.start > 1.0 and step != self.said:
            self.said = step
            _say(f"minievent trace: {now - self.start:.1f} s after the program ended: {step}")

    def done(self) -> None:
        watchdog.remove(self)
        if self.said is not None:
            _say(f"minievent trace: done in {clock() - self.start:.1f} s")


def _say(line: str) -> None:
    try:
        os.write(2, (line + "\n").encode())
    except OSError:
        pass


def _outputs(tracer: Tracer, plot: Output | None, trace: Output | None, name: str, progress: _Progress) -> list[str]:
    written = []
    for i, tl in enumerate(tracer.recorded()):
        loop = tl.loop
        suffix = "" if i == 0 else f"-{loop}"  # a second loop in one program: a second file
        if trace is not None:
            root, ext = os.path.splitext(trace.path)
            path = root + suffix + ext
            progress.step = f"writing the trace {path}"
            tl.write_chrome_trace(path)
            trace.written = True  # type: ignore[attr-defined]
            written.append(f"trace      {path} (open in https://ui.perfetto.dev)")
        if plot is not None:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            from . import plot as plotmod

            root, ext = os.path.splitext(plot.path)
            path = root + suffix + ext
            progress.step = f"drawing the picture {path}"
            # The thread's code outside asyncio's loop is not the loop's: left out, as in the report.
            outside = tl.outside_lane
            lanes = None if outside is None else [lane for lane in tl.lanes if lane != outside]
            ax = plotmod.swimlanes(tl, lanes=lanes, title=f"{name} on {loop}")
            ax.figure.savefig(path, dpi=110)
            plt.close(ax.figure)
            plot.written = True  # type: ignore[attr-defined]
            written.append(f"picture    {path}")
    return written


def run(
    target: Target,
    plot: str | None = None,
    trace: str | None = None,
    threshold: float = 0.1,
    loop: str | None = None,
) -> int:
    """Run ``target`` as ``__main__`` under a ``Tracer``; write the outputs; print the report. Exit status.

    ``plot`` and ``trace`` are checked (a folder, a format, a path that cannot be written: ValueError)
    and created before the program runs.
    """
    picture = _output("--plot", plot, PICTURE_FORMATS) if plot else None
    if picture is not None and importlib.util.find_spec("matplotlib") is None:  # (not imported: logging)
        picture.discard()
        raise ValueError("--plot needs matplotlib (pip install matplotlib)")
    try:
        chrome = _output("--trace", trace, ("json",)) if trace else None
    except ValueError:
        if picture is not None:
            picture.discard()
        raise
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    tracer = Tracer(loop, threshold).arm()
    try:
        status = target.run()
    finally:
        tracer.disarm()
    recorded = tracer.recorded()
    tracer.note_lines()
    size = f"{sum(tl.switch_count for tl in recorded):,} switches"
    progress = _Progress(f"working out who ran when ({size})")
    watchdog.add(progress)
    try:
        print(tracer.report(), file=sys.stderr)
        written = _outputs(tracer, picture, chrome, target.name, progress)
        for line in written:
            print(line, file=sys.stderr)
    finally:
        progress.done()
        for out in (picture, chrome):
            if out is not None and not out.written:
                out.discard()  # (nothing was recorded: no empty file left behind)
    return status


def _output(flag: str, path: str, formats: Sequence[str]) -> Output:
    out = Output(flag, path, formats, example="lanes" if flag == "--plot" else "trace")
    out.written = False  # type: ignore[attr-defined]
    return out


_VALUED = {"--plot", "--trace", "--threshold", "--loop"}
USAGE = (
    "%(prog)s [--plot PNG] [--trace JSON] [--threshold S] [--loop LOOP] "
    "(script.py | -m module | console-script) [args...]"
)


def parser(prog: str = "python -m minievent trace") -> argparse.ArgumentParser:
    """The options of ``trace`` (those before the program; everything from the program on is the program's)."""
    p = Parser(
        prog=prog,
        usage=USAGE,
        description="Run a program (script.py, -m module, or a console script) as __main__ with its arguments, "
        "record its event loop (minievent, eventlet, gevent or asyncio), and on exit write a Chrome trace "
        "(--trace), a swimlane picture (--plot) and a report of who held the loop longest, at which line.",
    )
    p.add_argument(
        "--plot", metavar="PNG", help="write the swimlane picture here (.png, .svg, .pdf...; needs matplotlib)"
    )
    p.add_argument("--trace", metavar="JSON", help="write a Chrome trace here (.json; Perfetto, chrome://tracing)")
    p.add_argument(
        "--threshold",
        type=_positive,
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
    return p


def main(argv: Sequence[str], prog: str = "python -m minievent trace") -> int:
    """``python -m minievent trace``: exit status 2 for bad options or program (before it runs), else the program's."""
    ours, program = split(argv, _VALUED)
    args = parser(prog).parse_args(ours)
    try:
        if not program:
            raise ValueError("no program to run: name a script.py, -m module, or a console script")
        target = Target.parse(program)
        return run(target, args.plot, args.trace, args.threshold, None if args.loop == "auto" else args.loop)
    except ValueError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}")
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def add_parser(sub: Any) -> None:
    """List ``trace`` among the subcommands of ``python -m minievent`` (its arguments are parsed by ``main``)."""
    sub.add_parser(
        "trace",
        help="run any Python program (minievent, eventlet, gevent, asyncio) under the recorder",
        usage=USAGE,
        add_help=False,
    )
