"""``python -m benchmarks``: run the side-by-side benchmarks, print a table, write JSON and a chart."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import flight_cost, plan, report, runner

HERE = Path(__file__).resolve().parent


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="minievent against eventlet, gevent, asyncio, uvloop and native threads, side by side.",
    )
    p.add_argument("--quick", action="store_true", help="a short run: smaller sizes, one run each")
    p.add_argument("--sizes", choices=sorted(plan.SIZES), help="full (default), quick, or tiny (the smoke test)")
    p.add_argument("--runs", type=int, help="runs of each measurement (default: 3 full, 1 quick/tiny)")
    p.add_argument("--libs", help="comma-separated subset of: " + ", ".join(plan.LIBRARIES))
    p.add_argument("--only", help="comma-separated subset of the scenarios: " + ", ".join([*plan.SCENARIOS, "flight"]))
    p.add_argument("--no-flight", action="store_true", help="skip the flight recorder's cost (benchmarks.flight_cost)")
    p.add_argument("--out", type=Path, default=HERE, help="where results.json, results.png, results.md go")
    p.add_argument("--no-chart", action="store_true", help="skip the PNG (no matplotlib needed)")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    args = p.parse_args(argv)
    if args.sizes is None:
        args.sizes = "quick" if args.quick else "full"
    if args.runs is None:
        args.runs = 1 if args.quick else plan.DEFAULT_RUNS[args.sizes]
    if args.runs < 1:
        p.error("--runs must be at least 1")
    if args.libs:
        args.libs = [x.strip() for x in args.libs.split(",") if x.strip()]
        unknown = [x for x in args.libs if x not in plan.LIBRARIES]
        if unknown:
            p.error(f"unknown libraries {unknown}; choose from {', '.join(plan.LIBRARIES)}")
    else:
        args.libs = list(plan.LIBRARIES)
    if args.only:
        args.only = [x.strip() for x in args.only.split(",") if x.strip()]
        unknown = [x for x in args.only if x not in [*plan.SCENARIOS, "flight"]]
        if unknown:
            p.error(f"unknown scenarios {unknown}; choose from {', '.join(plan.SCENARIOS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    only = [x for x in args.only if x != "flight"] if args.only else None  # ([]: only the flight recorder's)
    doc = runner.run(args.sizes, args.runs, args.libs, progress=not args.no_progress, only=only)
    if not args.no_flight and (not args.only or "flight" in args.only):
        # Ratios of medians of 5 in a full run (the goals are quoted so); the smaller sizes take --runs.
        runs = max(args.runs, 5) if args.sizes == "full" else args.runs
        started = time.monotonic()
        doc["flight"] = {"runs": runs, "rows": flight_cost.run(args.sizes, runs, progress=not args.no_progress)}
        doc["duration_s"] = round(doc["duration_s"] + time.monotonic() - started, 1)
    for lib, why in doc["skipped"].items():
        print(f"note: {lib} skipped: {why}", file=sys.stderr)
    print(report.text_table(doc))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    (args.out / "results.md").write_text(report.markdown(doc) + "\n")
    written = ["results.json", "results.md"]
    if not args.no_chart:
        try:
            report.chart(doc, args.out / "results.png")
            written.append("results.png")
        except ImportError:
            print("note: matplotlib is not installed; no chart", file=sys.stderr)
    print(f"\nwrote {', '.join(str(args.out / w) for w in written)} in {doc['duration_s']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
