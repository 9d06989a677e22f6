"""Command line: ``python -m minievent heartbeat ...`` runs the late-heartbeat scenario.

    python -m minievent heartbeat --interval 1 --task-seconds 8 --kind cpu --plot heartbeat.png --trace trace.json

says on stderr what it runs and for about how long, prints a short table
(beats, max gap, down or up, warnings), and writes the picture and a Chrome
trace (open it in https://ui.perfetto.dev) to the paths it prints. Bad
arguments, including ones that would never end or would change nothing, get
one line on stderr and exit status 2, never a traceback.

``python -m minievent trace script.py [args...]`` records any program's event
loop (minievent, eventlet, gevent, asyncio): see ``minievent.trace``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

PROG = "python -m minievent"


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line on stderr (no usage block), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


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

    parser = _Parser(prog=PROG, description="minievent: a greenthread library you can watch.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    hb = sub.add_parser(
        "heartbeat",
        help="run the late-heartbeat scenario (a nova-style service with a long periodic task)",
        description="A service reports its state every INTERVAL seconds while a long periodic task runs in "
        "the same process. Without a fix, a task that never yields makes the heartbeat late and the "
        "service is reported down. Prints a table; writes a picture (--plot) and a Chrome trace (--trace).",
    )
    hb.add_argument("--interval", type=_positive, default=1.0, help="seconds between reports (default 1; nova: 10)")
    hb.add_argument("--task-seconds", type=_non_negative, default=3.0, help="length of the long task (default 3)")
    hb.add_argument(
        "--kind",
        choices=KINDS,
        default="cpu",
        help="cpu: pure Python; blocking: real time.sleep (C call, no yield); green: green sleep",
    )
    hb.add_argument(
        "--fix",
        choices=["none", *[f for f in FIXES if f]],
        default="none",
        help="sleep0: yield every 5 ms; tpool: task in a thread; thread: heartbeat in a native thread",
    )
    hb.add_argument("--backend", choices=BACKENDS, default="minievent", help="what runs the service")
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
    hb.epilog = (
        "The table: max gap is the longest wait between two beats; the silence after the last beat is "
        "shown apart; warnings counts oslo's 'run outlasted interval' lines, logged only when report_state "
        "itself ran long, so a heartbeat delayed by another task logs none."
    )
    from .trace import add_parser  # python -m minievent trace script.py: minievent/trace.py

    add_parser(sub, _positive)
    return parser


def _output(flag: str, path: str, formats: Sequence[str]) -> str:
    """The absolute path ``path`` will be written to; ValueError if it cannot be, checked before the run."""
    full = os.path.abspath(path)
    if os.path.isdir(full):
        example = os.path.join(path, "heartbeat." + formats[0])
        raise ValueError(f"{flag} {path}: is a directory; give a file name, e.g. {example}")
    if os.path.exists(full) and not os.path.isfile(full):
        raise ValueError(f"{flag} {path}: not a regular file (a device or a pipe?)")
    parent = os.path.dirname(full)
    if not os.path.isdir(parent):
        raise ValueError(f"{flag} {path}: the directory {parent} does not exist")
    if not os.access(full if os.path.exists(full) else parent, os.W_OK):
        raise ValueError(f"{flag} {path}: not writable")
    ext = os.path.splitext(full)[1].lstrip(".").lower()
    if ext not in formats:
        raise ValueError(f"{flag} {path}: unknown format {ext or '(no extension)'!r}; use one of {', '.join(formats)}")
    return full


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


def _heartbeat(args: argparse.Namespace) -> int:
    from .scenarios import heartbeat

    seconds = _check(args)
    # Check before a run of many seconds, not after it.
    trace = _output("--trace", args.trace, ["json"]) if args.trace else None
    picture = None
    if args.plot:
        try:
            import matplotlib
        except ImportError:
            raise ValueError("--plot needs matplotlib (pip install matplotlib)")
        matplotlib.use("Agg")
        from matplotlib.backend_bases import FigureCanvasBase

        formats = sorted(FigureCanvasBase.get_supported_filetypes(), key=lambda ext: ext != "png")
        picture = _output("--plot", args.plot, formats)
    print(
        f"running: a {args.kind} task of {args.task_seconds:g} s, fix {args.fix}, beside a heartbeat every "
        f"{args.interval:g} s, on {args.backend}; about {seconds:.0f} s...",
        file=sys.stderr,
        flush=True,
    )
    result = heartbeat.run(
        interval=args.interval,
        task_seconds=args.task_seconds,
        kind=args.kind,
        fix=args.fix,
        backend=args.backend,
        service_down_time=args.service_down_time,
        duration=args.duration,
        record=bool(picture or trace),
    )
    print(result.table())
    if picture:
        from . import plot

        plot.heartbeat_figure(result, picture)
        print(f"picture     {picture}")
    if trace and result.timeline is not None:
        result.timeline.to_chrome_trace(trace)
        print(f"trace       {trace} (open in https://ui.perfetto.dev)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
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
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
