"""Run the plan: every measurement in a fresh subprocess, interleaved, N times.

Why interleaved: on a shared 2-core machine the speed drifts by tens of
percent within minutes (other processes, thermal limits, the page cache).
Running library A's five runs and then library B's five would turn that
drift into a difference between A and B. Instead each round runs every
library once, in an order that rotates from round to round, and the table
reports the median of the rounds with the min..max beside it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from . import plan

ROOT = Path(__file__).resolve().parent.parent


def missing_libraries(libs: list[str]) -> dict[str, str]:
    """{library: why it is skipped} for libraries that are not installed."""
    out = {}
    for lib in libs:
        module = plan.LIBRARIES[lib]
        if importlib.util.find_spec(module) is None:
            out[lib] = f"not installed (module {module!r}); pip install -e '.[compare]'"
    return out


def machine() -> dict:
    """Where the numbers came from: they mean little without it."""
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        model = platform.processor()
    versions = {}
    for dist in ("greenlet", "eventlet", "gevent", "uvloop", "minievent"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "versions": versions,
    }


def loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


class Progress:
    """One line on stderr, rewritten in place on a terminal, plain lines otherwise."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.done, self.t0 = total, 0, time.monotonic()
        self.enabled = enabled
        self.tty = sys.stderr.isatty()

    def step(self, text: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.t0
        eta = elapsed / (self.done - 1) * (self.total - self.done + 1) if self.done > 1 else 0
        line = f"[{self.done:3d}/{self.total}] {elapsed:5.0f}s elapsed, ~{eta:4.0f}s left  {text}"
        if self.tty:
            sys.stderr.write("\r\033[K" + line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def run_one(lib: str, scenario: str, params: dict, timeout: float, under: Sequence[str] = ()) -> dict:
    """One worker subprocess; returns {"values": {...}} or {"skip": why} or {"error": why}.

    ``under``: what runs the worker, between ``python`` and ``-m benchmarks.worker`` (the flight recorder)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-W", "ignore", *under, "-m", "benchmarks.worker", lib, scenario, json.dumps(params)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"exit {proc.returncode}: {tail}"}


def run(size: str, runs: int, libs: list[str], progress: bool = True, only: list[str] | None = None) -> dict:
    """Measure everything; returns the results document (what results.json holds)."""
    started = time.time()
    load_before = loadavg()
    skipped = missing_libraries(libs)
    present = [lib for lib in libs if lib not in skipped]
    metrics = [m for m in plan.metrics_for(size) if only is None or m.scenario in only]
    jobs = [j for j in plan.jobs_for(size, present) if only is None or j.scenario in only]
    samples: dict[str, dict[str, list[float]]] = {m.id: {} for m in metrics}
    notes: dict[str, dict[str, str]] = {m.id: {} for m in metrics}
    errors: list[str] = []

    schedule = []
    for r in range(runs):
        for job in jobs:
            k = r % len(job.libs)
            for lib in job.libs[k:] + job.libs[:k]:  # rotate the order every round
                if r > 0 and (lib, job.scenario) in plan.RUN_ONCE:
                    continue
                schedule.append((r, job, lib))

    bar = Progress(len(schedule), progress)
    for r, job, lib in schedule:
        params = plan.params_for(job, lib, size)
        label = job.scenario + (f"{params['conns']}" if job.scenario == "echo" else "")
        bar.step(f"{label:<10} {lib:<14} round {r + 1}/{runs}")
        timeout = 900 if (lib, job.scenario) in plan.RUN_ONCE else 300
        out = run_one(lib, job.scenario, params, timeout)
        if "values" in out:
            for mid in job.metrics:
                if mid in out["values"]:
                    samples[mid].setdefault(lib, []).append(out["values"][mid])
        else:
            why = out.get("skip") or out.get("error", "?")
            for mid in job.metrics:
                notes[mid][lib] = why
            if "error" in out:
                errors.append(f"{lib} {label} round {r + 1}: {why}")
    bar.finish()

    for lib in plan.LIBRARIES:
        for m in metrics:
            if runs > 1 and lib in m.libs and lib in present and (lib, m.scenario) in plan.RUN_ONCE:
                notes[m.id].setdefault(lib, "1 run only (it takes minutes)")

    doc = {
        "command": " ".join(["python", "-m", "benchmarks", *sys.argv[1:]]),
        "started": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(time.time() - started, 1),
        "size": size,
        "runs": runs,
        "machine": machine(),
        "load_average": {"before": load_before, "after": loadavg()},
        "skipped": skipped,
        "errors": errors,
        "metrics": [],
    }
    for m in metrics:
        results = {}
        for lib in m.libs:
            vals = samples[m.id].get(lib)
            if vals:
                results[lib] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "runs": vals}
        doc["metrics"].append(
            {
                "id": m.id,
                "title": m.title,
                "unit": m.unit,
                "better": m.better,
                "note": m.note,
                "libs": [lib for lib in m.libs if lib in libs],
                "results": results,
                "advantage": advantages(m.better, results),
                "notes": {lib: why for lib, why in notes[m.id].items() if lib in m.libs},
            }
        )
    doc["goals"] = goals(doc)
    return doc


def advantage(better: str, mine: float, theirs: float) -> float | None:
    """How many times better minievent is than a peer (> 1: minievent wins).

    None when either figure is zero or negative: a timer that fires early
    (uvloop rounds its clock to the millisecond) has no meaningful ratio.
    """
    if mine is None or theirs is None or mine <= 0 or theirs <= 0:
        return None
    return mine / theirs if better == "higher" else theirs / mine


def advantages(better: str, results: dict) -> dict[str, float]:
    base = results.get("minievent")
    if base is None:
        return {}
    out = {}
    for lib, r in results.items():
        if lib != "minievent":
            a = advantage(better, base["median"], r["median"])
            if a is not None:
                out[lib] = a
    return out


def goals(doc: dict) -> list[dict]:
    """The project's targets, checked against this run's medians."""
    by_id = {m["id"]: m for m in doc["metrics"]}

    def median(mid: str, lib: str) -> float | None:
        r = by_id.get(mid, {}).get("results", {}).get(lib)
        return r["median"] if r else None

    out = []
    for mid, peer, target, text in plan.GOALS:
        mine, theirs = median(mid, "minievent"), median(mid, peer)
        better = by_id[mid]["better"] if mid in by_id else "higher"
        value = advantage(better, mine, theirs)
        if mid not in by_id:
            continue
        out.append(
            {
                "goal": text,
                "measured": value,
                "target": target,
                "kind": "ratio",
                "met": None if value is None else value >= target,
            }
        )
    for mid, limit, text in plan.LIMITS:
        value = median(mid, "minievent")
        if mid not in by_id:
            continue
        out.append(
            {
                "goal": text,
                "measured": value,
                "target": limit,
                "kind": "ms",
                "met": None if value is None else value <= limit,
            }
        )
    for mid, target, text in plan.RECORDING:
        on, off = median(mid, "minievent+rec"), median(mid, "minievent")
        # on / off as a speed: for a cost (lower is better) that is off / on.
        value = advantage(by_id[mid]["better"], on, off) if mid in by_id else None
        if mid not in by_id:
            continue
        out.append(
            {
                "goal": text,
                "measured": value,
                "target": target,
                "kind": "ratio",
                "met": None if value is None else value >= target,
            }
        )
    return out
