"""The floor of a per-switch Python hook: what the least a recorder must do costs ``sleep(0)``.

    flock /work/team/heavy.lock python -m benchmarks.hook_floor            # minievent, gevent, eventlet
    python -m benchmarks.hook_floor gevent --runs 3

A recorder keeps at least a time and a lane at every switch. This runs two workers that only
``sleep(0)``, each run a fresh process, the runs interleaved across modes, with a hook that does:

* ``off``: no hook;
* ``empty``: a hook that does nothing (the call alone);
* ``clock``: a hook that reads ``perf_counter``;
* ``ints``: a hook that keeps the time and the greenlet's id (one ``list.extend``);
* ``stamp``: a hook that keeps the time and the greenlet itself (one ``list.extend``).

On minievent the hook is an ``Instrument.parked``; on gevent and eventlet a ``greenlet.settrace``
tracer, the only switch hook greenlet offers. Printed: switches per second, the median of the runs,
and each mode's ratio to ``off`` (the best run's ratio beside it). A goal above ``stamp``'s ratio
needs a hook in C.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

LIBS = ("minievent", "gevent", "eventlet")
MODES = ("off", "empty", "clock", "ints", "stamp")


def _tracers(log: list) -> dict[str, Callable[[str, Any], None]]:
    """Each mode as a ``greenlet.settrace`` tracer: called with (event, (origin, target))."""
    now, keep = time.perf_counter, log.extend

    def empty(event: str, args: Any) -> None:
        pass

    def clock(event: str, args: Any) -> None:
        now()

    def ints(event: str, args: Any) -> None:
        keep((now(), id(args[1])))

    def stamp(event: str, args: Any) -> None:
        keep((now(), args[1]))

    return {"empty": empty, "clock": clock, "ints": ints, "stamp": stamp}


def _parked(log: list) -> dict[str, Callable[[Any, Any, Any], None]]:
    """Each mode as an ``Instrument.parked`` method: called with (self, greenlet, why)."""
    now, keep = time.perf_counter, log.extend

    def empty(self: Any, greenlet: Any, why: Any) -> None:
        pass

    def clock(self: Any, greenlet: Any, why: Any) -> None:
        now()

    def ints(self: Any, greenlet: Any, why: Any) -> None:
        keep((now(), id(greenlet)))

    def stamp(self: Any, greenlet: Any, why: Any) -> None:
        keep((now(), greenlet))

    return {"empty": empty, "clock": clock, "ints": ints, "stamp": stamp}


def measure(lib: str, mode: str, n: int) -> float:
    """Switches per second of two workers doing ``n`` ``sleep(0)`` each, under ``mode``'s hook."""
    log: list = []
    if lib == "minievent":
        import minievent
        from minievent.hub import get_hub
        from minievent.instrument import Instrument

        if mode != "off":
            floor = type("Floor", (Instrument,), {"parked": _parked(log)[mode]})
            get_hub().add_instrument(floor())
        spawn, sleep, wait = minievent.spawn, minievent.sleep, lambda g: g.wait()
    else:
        import greenlet

        mod = __import__(lib)
        if mode != "off":
            greenlet.settrace(_tracers(log)[mode])
        spawn, sleep = mod.spawn, mod.sleep
        wait = (lambda g: g.join()) if lib == "gevent" else (lambda g: g.wait())

    def worker() -> None:
        for _ in range(n):
            sleep(0)

    start = time.perf_counter()
    a, b = spawn(worker), spawn(worker)
    wait(a)
    wait(b)
    return 2 * n / (time.perf_counter() - start)


def run(libs: Sequence[str], runs: int, n: int) -> dict[str, dict[str, list[float]]]:
    """Every (lib, mode) ``runs`` times, each a fresh process, interleaved: {lib: {mode: [rates]}}."""
    out: dict[str, dict[str, list[float]]] = {lib: {m: [] for m in MODES} for lib in libs}
    for _ in range(runs):
        for lib in libs:
            for mode in MODES:
                cmd = [sys.executable, "-W", "ignore", "-m", "benchmarks.hook_floor", "--one", lib, mode, str(n)]
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
                out[lib][mode].append(float(done.stdout.split()[-1]))
    return out


def table(results: dict[str, dict[str, list[float]]]) -> str:
    lines = []
    for lib, modes in results.items():
        off = statistics.median(modes["off"])
        best_off = max(modes["off"])
        lines.append(f"{lib}: off {off:,.0f} switches/s (median of {len(modes['off'])})")
        for mode in MODES[1:]:
            rates = modes[mode]
            median = statistics.median(rates)
            lines.append(f"  {mode:6} {median:>12,.0f}  {median / off:.3f}x of off (best {max(rates) / best_off:.3f}x)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.hook_floor", description=__doc__.split("\n\n")[0])
    p.add_argument("libs", nargs="*", metavar="LIB", help="of " + ", ".join(LIBS) + " (default: all)")
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--n", type=int, default=300_000, help="sleep(0) a worker (default 300,000)")
    p.add_argument("--one", nargs=3, metavar=("LIB", "MODE", "N"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        lib, mode, n = args.one
        print(f"{measure(lib, mode, int(n)):.1f}")
        return 0
    unknown = [lib for lib in args.libs if lib not in LIBS]
    if unknown or args.runs < 1 or args.n < 1:
        p.error(f"unknown libraries {unknown}" if unknown else "--runs and --n must be at least 1")
    print(table(run(args.libs or LIBS, args.runs, args.n)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
