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

from benchmarks import plan, runner

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--sizes", "tiny", "--out", str(out)],
        capture_output=True, text=True, timeout=110, cwd=ROOT,
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
