"""Command line: ``python -m minievent heartbeat ...`` runs the late-heartbeat scenario.

    python -m minievent heartbeat --interval 1 --task-seconds 8 --kind cpu --plot heartbeat.png --trace trace.json

prints a short table (beats, max gap, down or up, warnings), and writes the
picture and a Chrome trace (open it in https://ui.perfetto.dev). Bad arguments
get one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

PROG = "python -m minievent"


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line on stderr (no usage block), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {text}")
    return value


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
    hb.add_argument("--kind", choices=KINDS, default="cpu",
                    help="cpu: pure Python; blocking: real time.sleep (C call, no yield); green: green sleep")
    hb.add_argument("--fix", choices=["none", *[f for f in FIXES if f]], default="none",
                    help="sleep0: yield every 5 ms; tpool: task in a thread; thread: heartbeat in a native thread")
    hb.add_argument("--backend", choices=BACKENDS, default="minievent", help="what runs the service")
    hb.add_argument("--service-down-time", type=_positive, default=None,
                    help="no report for this long means down (default 6 x interval; nova: 60)")
    hb.add_argument("--duration", type=_positive, default=None,
                    help="seconds to run (default: until 3 intervals after the task)")
    hb.add_argument("--plot", metavar="PNG", help="write the picture here (needs matplotlib)")
    hb.add_argument("--trace", metavar="JSON", help="write a Chrome trace here (Perfetto, chrome://tracing)")
    from .trace import add_parser  # python -m minievent trace script.py: minievent/trace.py

    add_parser(sub, _positive)
    return parser


def _heartbeat(args: argparse.Namespace) -> int:
    from .scenarios import heartbeat

    for flag, path in (("--plot", args.plot), ("--trace", args.trace)):
        # Check before a run of many seconds, not after it.
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise ValueError(f"{flag} {path}: the directory does not exist")
    if args.trace and args.backend == "eventlet":
        raise ValueError("--trace needs a recording; the eventlet backend runs in a subprocess and records none")
    if args.plot:
        try:
            import matplotlib
        except ImportError:
            raise ValueError("--plot needs matplotlib (pip install matplotlib)")
        matplotlib.use("Agg")
    result = heartbeat.run(
        interval=args.interval, task_seconds=args.task_seconds, kind=args.kind, fix=args.fix,
        backend=args.backend, service_down_time=args.service_down_time, duration=args.duration,
        record=bool(args.plot or args.trace),
    )
    print(result.table())
    if args.plot:
        from . import plot

        plot.heartbeat_figure(result, args.plot)
        print(f"picture    {args.plot}")
    if args.trace and result.timeline is not None:
        result.timeline.to_chrome_trace(args.trace)
        print(f"trace      {args.trace} (open in https://ui.perfetto.dev)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error("choose a command: heartbeat")
    try:
        return getattr(args, "handler", _heartbeat)(args)
    except (ValueError, OSError) as e:
        # Wrong combinations, unwritable paths: one clear line, no traceback.
        print(f"{PROG} {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
