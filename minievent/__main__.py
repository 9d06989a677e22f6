"""Command line: ``python -m minievent heartbeat ...`` runs the late-heartbeat scenario.

    python -m minievent heartbeat --interval 1 --task-seconds 8 --kind cpu --plot heartbeat.png --trace trace.json

says on stderr what it runs and for about how long, then a line per beat and
one a second while no beat comes (``--quiet``: none), prints a short table
(beats, max gap, down or up, warnings), and writes the picture and a Chrome
trace (open it in https://ui.perfetto.dev) to the paths it prints. Bad
arguments, including ones that would never end or would change nothing, and
output paths that cannot be created, get one line on stderr and exit status 2
before the run, never a traceback. Ctrl-C stops the run, says so, and prints
and writes what was recorded until then (exit status 130).

``python -m minievent trace script.py [args...]`` records any program's event
loop (minievent, eventlet, gevent, asyncio): see ``minievent.trace``.

``python -m minievent flight [options] (script.py | -m module | console-script) [args...]``
runs a service with the flight recorder armed: see ``minievent.recording.flight``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence

from .cli import Output, Parser

PROG = "python -m minievent"


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}")
    if not math.isfinite(value):  # inf would run forever; nan compares false with every deadline
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds, not {text}")
    return value


def _positive(text: str) -> float:
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def _non_negative(text: str) -> float:
    value = _number(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {text}")
    return value


#: A run longer than this is a typo (nova's own numbers, 10 s beats and a 300 s task, fit easily).
MAX_RUN = 3600.0
#: Below this the heartbeat measures the machine's timer resolution, not a service.
MIN_INTERVAL = 0.001


def build_parser() -> argparse.ArgumentParser:
    from .scenarios.heartbeat import BACKENDS, FIXES, KINDS

    parser = Parser(prog=PROG, description="minievent: a greenthread library you can watch.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    hb = sub.add_parser(
        "heartbeat",
        help="run the late-heartbeat scenario (a nova-style service with a long periodic task)",
        description="A service reports its state every INTERVAL seconds while a long periodic task runs in "
        "the same process. Without a fix, a task that never yields makes the heartbeat late and the "
        "service is reported down. Prints a table; writes a picture (--plot) and a Chrome trace (--trace).",
    )
    hb.add_argument("--interval", type=_positive, default=1.0, help="seconds between reports (default 1; nova: 10)")
    hb.add_argument(
        "--task-seconds",
        type=_non_negative,
        default=8.0,
        help="length of the long task, longer than the 6 s without a beat that make the service down (default 8)",
    )
    hb.add_argument(
        "--kind",
        choices=KINDS,
        default="cpu",
        help="cpu: pure Python; blocking: real time.sleep (C call, no yield); green: green sleep (default cpu)",
    )
    hb.add_argument(
        "--fix",
        choices=["none", *[f for f in FIXES if f]],
        default="none",
        help="sleep0: yield every 5 ms; tpool: task in a thread; thread: heartbeat in a native thread (default none)",
    )
    hb.add_argument(
        "--backend", choices=BACKENDS, default="minievent", help="what runs the service (default minievent)"
    )
    hb.add_argument(
        "--service-down-time",
        type=_positive,
        default=None,
        help="no report for this long means down (default 6 x interval; nova: 60)",
    )
    hb.add_argument(
        "--duration", type=_positive, default=None, help="seconds to run (default: until 3 intervals after the task)"
    )
    hb.add_argument("--plot", metavar="PNG", help="write the picture here (.png, .svg, .pdf...; needs matplotlib)")
    hb.add_argument("--trace", metavar="JSON", help="write a Chrome trace here (.json; Perfetto, chrome://tracing)")
    hb.add_argument("-q", "--quiet", action="store_true", help="no progress lines while it runs")
    hb.epilog = (
        "The table: max gap is the longest wait between two beats; the silence after the last beat is "
        "shown apart; warnings counts oslo's 'run outlasted interval' lines, logged only when report_state "
        "itself ran long, so a heartbeat delayed by another task logs none."
    )
    from .trace import add_parser  # python -m minievent trace script.py: minievent/trace.py

    add_parser(sub)
    return parser


def _expected_seconds(args: argparse.Namespace, task_at: float) -> float:
    from .scenarios import heartbeat

    # The run's deadline, or, by default, three intervals after the task; a task that
    # holds the loop runs to its end whatever the deadline; a subprocess starts in about a second.
    end = args.duration if args.duration is not None else task_at + args.task_seconds + 3 * args.interval
    if task_at < end:
        end = max(end, task_at + args.task_seconds)
    return end + (1.0 if args.backend in heartbeat.SUBPROCESS_BACKENDS else 0.0)


def _check(args: argparse.Namespace) -> float:
    """Reject what would never end or would silently do nothing; return the expected length of the run."""

    task_at = 2.5 * args.interval
    if args.interval < MIN_INTERVAL:
        raise ValueError(f"--interval {args.interval:g}: below {MIN_INTERVAL:g} s it measures the machine's timers")
    sdt = args.service_down_time if args.service_down_time is not None else 6 * args.interval
    if sdt <= args.interval:
        raise ValueError(
            f"--service-down-time {sdt:g} is not longer than --interval {args.interval:g}: "
            "every beat would count as late"
        )
    if args.fix != "none" and args.task_seconds == 0:
        raise ValueError(f"--fix {args.fix} with --task-seconds 0: there is no long task to fix")
    if args.kind == "green" and args.fix in ("sleep0", "tpool"):
        raise ValueError(f"--fix {args.fix} changes nothing for --kind green: a green task already yields")
    if args.backend == "threads" and args.fix != "none":
        raise ValueError(f"--fix {args.fix} with --backend threads: every part already has its own thread")
    if args.duration is not None and args.duration <= task_at:
        raise ValueError(
            f"--duration {args.duration:g} ends before the long task starts ({task_at:g} s, "
            "2.5 intervals in): the run would show nothing"
        )
    seconds = _expected_seconds(args, task_at)
    if seconds > MAX_RUN:
        raise ValueError(f"the run would last about {seconds:.3g} s, more than {MAX_RUN:g} s: surely a typo")
    return seconds


def _outputs(args: argparse.Namespace) -> tuple[Output | None, Output | None]:
    """The picture and the trace, created before a run of many seconds, not found unwritable after it."""
    picture = None
    if args.plot is not None:
        try:
            import matplotlib
        except ImportError:
            raise ValueError("--plot needs matplotlib (pip install matplotlib)")
        matplotlib.use("Agg")
        from matplotlib.backend_bases import FigureCanvasBase

        formats = sorted(FigureCanvasBase.get_supported_filetypes(), key=lambda ext: ext != "png")
        picture = Output("--plot", args.plot, formats)
    try:
        trace = Output("--trace", args.trace, ["json"]) if args.trace is not None else None
    except ValueError:
        if picture is not None:
            picture.discard()
        raise
    return picture, trace


def _heartbeat(args: argparse.Namespace) -> int:
    from .scenarios import heartbeat

    seconds = _check(args)
    picture, trace = _outputs(args)
    print(
        f"running: a {args.kind} task of {args.task_seconds:g} s, fix {args.fix}, beside a heartbeat every "
        f"{args.interval:g} s, on {args.backend}; about {seconds:.0f} s (Ctrl-C stops it and keeps what was "
        "recorded)...",
        file=sys.stderr,
        flush=True,
    )
    status = 0
    try:
        result = heartbeat.run(
            interval=args.interval,
            task_seconds=args.task_seconds,
            kind=args.kind,
            fix=args.fix,
            backend=args.backend,
            service_down_time=args.service_down_time,
            duration=args.duration,
            record=bool(picture or trace),
            progress=None if args.quiet else lambda line: print(line, file=sys.stderr, flush=True),
        )
    except heartbeat.Interrupted as e:
        result, status = e.result, 130
        print(
            f"{PROG} heartbeat: interrupted after {result.duration:.1f} s; what was recorded until then:",
            file=sys.stderr,
            flush=True,
        )
    except BaseException:
        for output in (picture, trace):
            if output is not None:
                output.discard()
        raise
    print(result.table(), flush=True)
    if picture is not None:
        from . import plot

        plot.heartbeat_figure(result, picture.path)
        print(f"picture     {picture.path}")
    if trace is not None:
        if result.timeline is not None:
            result.timeline.write_chrome_trace(trace.path)
            print(f"trace       {trace.path} (open in https://ui.perfetto.dev)")
        else:
            trace.discard()
    return status


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["flight"]:  # its program's own options follow it: parsed apart (minievent/recording/flight.py)
        from .recording import flight

        return flight.main(argv[1:], prog=f"{PROG} flight")
    if argv[:1] == ["trace"]:  # the same: minievent/trace.py
        from . import trace

        return trace.main(argv[1:], prog=f"{PROG} trace")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error("choose a command: heartbeat or trace")
    try:
        return getattr(args, "handler", _heartbeat)(args)
    except (ValueError, OSError) as e:
        # Wrong combinations, unwritable paths: one clear line, no traceback.
        print(f"{PROG} {args.command}: error: {e} (see --help)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before a run began (a run says so itself, and keeps what it recorded)
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    status = main()
    if status == 130:
        # Interrupted, and everything recorded is written: leave now, without waiting for a
        # thread that still computes the abandoned task (an executor's threads are joined at exit).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)
