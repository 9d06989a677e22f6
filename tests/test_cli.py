"""python -m minievent: the table, the picture, the trace, and one clear line for bad arguments."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from minievent.__main__ import main


def cli(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "minievent", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_heartbeat_prints_the_table_and_writes_picture_and_trace(tmp_path, capsys):
    png, trace = tmp_path / "hb.png", tmp_path / "trace.json"
    rc = main(["heartbeat", "--interval", "0.1", "--task-seconds", "0.8", "--kind", "cpu",
               "--plot", str(png), "--trace", str(trace)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "DOWN" in out, "0.8 s without a beat > 6 x 0.1 s"
    for word in ("beats", "max gap", "warnings", str(png), str(trace)):
        assert word in out
    assert png.read_bytes()[:4] == b"\x89PNG"
    events = json.loads(trace.read_text())["traceEvents"]
    lanes = {e["args"]["name"] for e in events if e.get("name") == "thread_name"}
    assert {"heartbeat", "periodic_tasks", "hub"} <= lanes


def test_a_fix_gives_an_up_service(capsys):
    assert main(["heartbeat", "--interval", "0.1", "--task-seconds", "0.8", "--fix", "sleep0"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^service +up$", out, re.M), out


def test_a_healthy_run_reports_gaps_of_one_interval_not_the_silence_at_the_end(capsys):
    assert main(["heartbeat", "--interval", "0.1", "--task-seconds", "0.5", "--kind", "green"]) == 0
    out = capsys.readouterr().out
    gap = float(re.search(r"^max gap +([0-9.]+) s between two beats", out, re.M).group(1))
    assert gap < 0.125, out
    assert re.search(r"^at the end +[0-9.]+ s after the last beat, while the service was stopping", out, re.M), out


def test_help_everywhere():
    top = cli("--help")
    assert top.returncode == 0 and "heartbeat" in top.stdout
    sub = cli("heartbeat", "--help")
    assert sub.returncode == 0
    for flag in ("--interval", "--task-seconds", "--kind", "--fix", "--backend", "--plot", "--trace"):
        assert flag in sub.stdout


@pytest.mark.parametrize(
    "args, words",
    [
        (["heartbeat", "--interval", "0"], ["--interval", "> 0"]),
        (["heartbeat", "--interval", "soon"], ["--interval", "not a number"]),
        (["heartbeat", "--task-seconds", "-1"], ["--task-seconds"]),
        (["heartbeat", "--kind", "gpu"], ["--kind", "gpu"]),
        (["heartbeat", "--fix", "magic"], ["--fix"]),
        (["heartbeat", "--backend", "twisted"], ["--backend"]),
        (["heartbeat", "--bogus"], ["--bogus"]),
        (["heartbeat", "--backend", "threads", "--fix", "tpool"], ["threads"]),
        (["heartbeat", "--plot", "/no/such/dir/x.png"], ["--plot", "does not exist"]),
        (["heartbeat", "--backend", "eventlet", "--trace", "t.json"], ["--trace", "eventlet"]),
        (["frobnicate"], ["frobnicate"]),
        ([], ["command"]),
    ],
)
def test_bad_arguments_give_one_line_and_status_2(args, words):
    r = cli(*args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr and "error" in lines[0]
    for w in words:
        assert w in lines[0]
    assert r.stdout == ""
