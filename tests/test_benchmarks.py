"""Smoke test of ``python -m benchmarks``: it runs end to end and writes well-formed results.

Tiny sizes only, and never a speed assertion: on a shared machine the speed
of one run says nothing, and the benchmarks exist to print numbers, not to
judge them. What must hold is that every library that is installed runs
every scenario it takes part in, and that the JSON, Markdown and chart are
there for the README.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import flight_cost, plan, runner

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--sizes", "tiny", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, out


@pytest.mark.timeout(120)
def test_tiny_run_prints_a_table(tiny_run):
    proc, _ = tiny_run
    assert "sleep(0) switch rate" in proc.stdout
    assert "goals (medians of this run):" in proc.stdout
    assert "minievent" in proc.stdout


@pytest.mark.timeout(120)
def test_tiny_run_writes_wellformed_json(tiny_run):
    _, out = tiny_run
    doc = json.loads((out / "results.json").read_text())
    assert doc["size"] == "tiny" and doc["runs"] == 1
    assert doc["errors"] == []
    assert {"nproc", "cpu", "python"} <= set(doc["machine"])
    ids = [m["id"] for m in doc["metrics"]]
    assert ids == [m.id for m in plan.metrics_for("tiny")]
    for m in doc["metrics"]:
        assert m["better"] in ("higher", "lower")
        # minievent has a figure for every metric, and every figure is a number
        # with min <= median <= max.
        assert "minievent" in m["results"], m["id"]
        for lib, r in m["results"].items():
            assert lib in m["libs"]
            assert r["min"] <= r["median"] <= r["max"]
            assert len(r["runs"]) == 1
        for lib, a in m["advantage"].items():
            assert a > 0 and lib in m["results"]
    # Only libraries that are not installed are skipped.
    assert set(doc["skipped"]) == set(runner.missing_libraries(list(plan.LIBRARIES)))
    for g in doc["goals"]:
        assert g["met"] in (True, False, None)
    # the flight recorder's cost, each case measured off and on
    rows = doc["flight"]["rows"]
    assert [r["name"] for r in rows] == [c.name for c in flight_cost.cases("tiny")]
    for r in rows:
        assert r["errors"] == [] and len(r["off"]) == len(r["on"]) == 1, r
        assert r["ratio"] > 0 and r["ok"] in (True, False)


@pytest.mark.timeout(120)
def test_tiny_run_writes_markdown_and_chart(tiny_run):
    _, out = tiny_run
    md = (out / "results.md").read_text()
    assert md.startswith("| | minievent |")
    png = (out / "results.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) < 300_000


def test_missing_library_is_skipped_with_a_note(monkeypatch):
    """A peer that is not installed is a note in the results, never a crash."""
    monkeypatch.setitem(plan.LIBRARIES, "nosuchlib", "no_such_module_xyz")
    missing = runner.missing_libraries(["minievent", "nosuchlib"])
    assert list(missing) == ["nosuchlib"]
    assert "not installed" in missing["nosuchlib"]


def test_a_skipping_worker_is_reported_not_raised():
    """A library without a scenario (bare greenlet has no echo) comes back as a skip."""
    out = runner.run_one("greenlet", "spawn", {"n": 10}, timeout=60)
    assert "skip" in out


# ---------------------------------------------------------------- the report, from a results document
def _metric(mid, better, medians):
    me = medians["minievent"]
    adv = {lib: (me / v if better == "higher" else v / me) for lib, v in medians.items() if lib != "minievent"}
    return {
        "id": mid,
        "title": mid,
        "unit": "u",
        "better": better,
        "libs": list(medians),
        "notes": {},
        "results": {lib: {"median": v, "min": v, "max": v} for lib, v in medians.items()},
        "advantage": adv,
    }


def _doc():
    return {
        "size": "full",
        "runs": 3,
        "machine": {"nproc": 2, "cpu": "cpu", "python": "3.11"},
        "skipped": {},
        "errors": [],
        "goals": [],
        "metrics": [
            _metric("switch", "higher", {"minievent": 800.0, "gevent": 600.0, "uvloop": 1000.0}),
            _metric("timers_p50", "lower", {"minievent": 0.5, "eventlet": 0.06, "gevent": 0.6}),
            _metric("spawn", "higher", {"minievent": 300.0, "eventlet": 45.0, "threads": 12.0}),
            _metric("c10k_burst_hb_max", "lower", {"minievent": 2.0, "threads": 5000.0}),
        ],
    }


def test_the_table_bolds_the_best_of_each_row_not_minievent():
    from benchmarks import report

    lines = [line for line in report.markdown(_doc()).splitlines()[2:] if line.startswith("|")]
    rows = {line.split(" (")[0].strip("| "): line for line in lines}
    assert "**1,000**" in rows["switch"] and "**800**" not in rows["switch"], "uvloop wins: minievent not bold"
    assert "**0.06**" in rows["timers_p50"] and "**0.5**" not in rows["timers_p50"], "lower is better"
    assert "**300**" in rows["spawn"], "where minievent wins, it is bold"
    assert rows["switch"].count("**") == 2


def test_the_chart_draws_every_ratio_on_one_scale(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchmarks import report

    figs = []
    monkeypatch.setattr(plt, "close", figs.append)  # keep the figure to look at it
    report.chart(_doc(), tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (fig,) = figs
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.patches]
    assert len(axes) == 3, "switch+spawn, timers, c10k and nothing else: grouped panels"
    assert {ax.get_xscale() for ax in axes} == {"log"} and {ax.get_xlim() for ax in axes} == {report.RATIO_LIMITS}
    texts = " ".join(t.get_text() for ax in axes for t in ax.texts)
    for ratio in ("(0.80)", "(1.33)", "(0.12)", "(6.67)", "(25.00)", "(2500.00), off the axis"):
        assert ratio in texts, texts
    assert "minievent 800" in texts


@pytest.mark.timeout(120)
def test_the_hook_floor_times_every_mode_against_no_hook():
    # Each mode's hook really runs at every switch: its log holds a record a park (or a switch).
    from benchmarks import hook_floor

    parked_log: list = []
    for hook in hook_floor._parked(parked_log).values():
        hook(None, "a greenlet", "why")
    traced_log: list = []
    for tracer in hook_floor._tracers(traced_log).values():
        tracer("switch", ("origin", "target"))
    # ints and stamp keep two values each (the time, then the id or the greenlet), empty and clock nothing
    assert [len(parked_log), len(traced_log)] == [4, 4]
    assert parked_log[1] == id("a greenlet") and parked_log[3] == "a greenlet" and traced_log[3] == "target"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.hook_floor", "minievent", "gevent", "--runs", "1", "--n", "2000"],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert [line.split(":")[0] for line in lines if not line.startswith(" ")] == ["minievent", "gevent"]
    ratios = [line.split() for line in lines if line.startswith(" ")]
    assert [r[0] for r in ratios] == [*hook_floor.MODES[1:]] * 2, proc.stdout
    assert all(float(r[2].rstrip("x")) > 0 for r in ratios), proc.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "benchmarks.hook_floor", "twisted"], capture_output=True, text=True, cwd=ROOT
    )
    assert bad.returncode == 2 and "unknown libraries ['twisted']" in bad.stderr
