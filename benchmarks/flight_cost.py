"""What the flight recorder costs, always on: each case under ``python -m minievent flight`` against the same
program without it, side by side.

    flock /work/team/heavy.lock python -m benchmarks.flight_cost               # every case, 5 runs of each
    flock /work/team/heavy.lock python -m benchmarks.flight_cost eventlet-sleep0 service

``python -m benchmarks`` runs it too, after its table. Each run is a fresh process (the recorder
arms before the program, as an operator starts it); the runs alternate off and on, so a loaded
machine slows both alike. Printed: the ratio of the medians on/off (1.0: free) with the ratio of
the best runs beside it, and the goal.

The cases:

* ``sleep(0)`` on minievent, eventlet, gevent and asyncio: two greenthreads (tasks) yielding in
  turn, switches per CPU second of the process (``benchmarks.worker``'s switch scenario: every
  thread's CPU counts, the watchdog's too);
* echo with 100 connections on minievent: round trips per second, the client in another process
  (the worker's echo scenario);
* the nova-shaped service on the real oslo.service (eventlet): healthy, its periodic task
  computing 4 ms in every 10 ms and ``report_state`` every 10 ms, for 3 s: instances whose power
  state it worked out per second (``ServiceRun.synced``), its own work, what an operator pays for.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

from . import report, runner


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    lib: str
    scenario: str  # a benchmarks.worker scenario, or "service"
    params: dict
    metric: str  # the value of the worker's result that is compared
    goal: float  # the least on/off ratio of the medians


def cases(size: str = "full") -> list[Case]:
    n = {"full": 200_000, "quick": 50_000, "tiny": 2_000}[size]
    msgs = {"full": 500, "quick": 50, "tiny": 5}[size]
    conns = 100 if size != "tiny" else 5
    seconds = {"full": 3.0, "quick": 1.5, "tiny": 0.5}[size]
    out = [
        Case(f"{lib}-sleep0", f"{lib} sleep(0)", lib, "switch", {"n": n}, "switch", goal)
        for lib, goal in (("minievent", 0.85), ("eventlet", 0.7), ("gevent", 0.6), ("asyncio", 0.6))
    ]
    out.append(
        Case(
            "minievent-echo100",
            f"minievent echo, {conns} connections",
            "minievent",
            "echo",
            {"conns": conns, "msgs": msgs},
            f"echo{conns}",
            0.93,
        )
    )
    out.append(
        Case(
            "service",
            "oslo.service (eventlet) nova-shaped service: its own work",
            "eventlet",
            "service",
            {"seconds": seconds},
            "synced_per_s",
            0.97,
        )
    )
    return out


def _service(params: dict, under: Sequence[str]) -> dict:
    from minievent.scenarios import nova_compute
    from minievent.scenarios.nova_compute import ServiceParams

    p = ServiceParams(
        report_interval=0.01,
        service_down_time=1.0,
        sync_interval=0.01,
        sync_seconds=0.004,
        stalls=10**9,  # every run computes its 4 ms
        periodic_interval_max=0.01,
        duration=params["seconds"],
    )
    try:
        r = nova_compute.run("eventlet", p, under=under)
    except (RuntimeError, OSError) as e:
        return {"error": str(e).strip().splitlines()[-1]}
    return {"values": {"synced_per_s": r.synced / (r.stopped - r.started), "reports": len(r.reports)}}


def _one(case: Case, flight: bool, folder: str) -> dict:
    under = ["-m", "minievent", "flight", "--dir", folder] if flight else []
    if case.scenario == "service":
        return _service(case.params, under)
    return runner.run_one(case.lib, case.scenario, case.params, 300, under=under)


def measure(case: Case, runs: int = 5) -> dict:
    """``runs`` runs off and ``runs`` on, alternating; the medians, the bests and their ratios."""
    off: list[float] = []
    on: list[float] = []
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="flight-cost-") as tmp:
        folder = f"{tmp}/incidents"
        for r in range(runs):
            order = (False, True) if r % 2 == 0 else (True, False)
            for flight in order:
                out = _one(case, flight, folder)
                if "values" in out:
                    (on if flight else off).append(out["values"][case.metric])
                else:
                    errors.append(f"{'on' if flight else 'off'}: {out.get('error') or out.get('skip')}")
        incidents = len(os.listdir(folder)) if os.path.isdir(folder) else 0
    row = {"name": case.name, "title": case.title, "goal": case.goal, "off": off, "on": on, "errors": errors}
    row["incidents"] = incidents
    if off and on:
        row["ratio"] = statistics.median(on) / statistics.median(off)
        row["best_ratio"] = max(on) / max(off)
        row["ok"] = row["ratio"] >= case.goal
    return row


def run(size: str = "full", runs: int = 5, names: Sequence[str] = (), progress: bool = True) -> list[dict]:
    rows = []
    for case in cases(size):
        if names and case.name not in names:
            continue
        if progress:
            print(f"flight cost: {case.title} ({runs} runs off, {runs} on)...", file=sys.stderr, flush=True)
        rows.append(measure(case, runs))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.flight_cost", description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help="cases to run (default all): " + ", ".join(c.name for c in cases()))
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--sizes", choices=["full", "quick", "tiny"], default="full")
    args = p.parse_args(argv)
    known = {c.name for c in cases()}
    unknown = [n for n in args.names if n not in known]
    if unknown or args.runs < 1:
        p.error(f"unknown cases {unknown}" if unknown else "--runs must be at least 1")
    rows = run(args.sizes, args.runs, args.names)
    print(report.flight_text({"runs": args.runs, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
