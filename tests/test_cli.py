"""python -m minievent: the table, the picture, the trace, and one clear line for bad arguments."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from support import ROOT, child_env, need_module, run_python

from minievent.__main__ import main


def cli(*args, timeout=60, cwd=ROOT):
    return run_python("-m", "minievent", *args, timeout=timeout, cwd=cwd)


def test_heartbeat_prints_the_table_and_writes_picture_and_trace(tmp_path, capsys):
    png, trace = tmp_path / "hb.png", tmp_path / "trace.json"
    rc = main(
        [
            "heartbeat",
            "--interval",
            "0.1",
            "--task-seconds",
            "0.8",
            "--kind",
            "cpu",
            "--plot",
            str(png),
            "--trace",
            str(trace),
        ]
    )
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
    assert gap < 0.14, out
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
        (["heartbeat", "--interval", "inf"], ["--interval", "finite"]),
        (["heartbeat", "--task-seconds", "nan"], ["--task-seconds", "finite"]),
        (["heartbeat", "--duration=-inf"], ["--duration", "finite"]),
        (["heartbeat", "--service-down-time", "NaN"], ["--service-down-time", "finite"]),
        (["heartbeat", "--task-seconds", "1e300"], ["would last", "typo"]),
        (["heartbeat", "--interval", "1e9"], ["would last"]),
        (["heartbeat", "--duration", "86400"], ["would last"]),
        (["heartbeat", "--interval", "0.00001"], ["--interval"]),
        (["heartbeat", "--kind", "green", "--fix", "tpool"], ["--fix tpool", "--kind green"]),
        (["heartbeat", "--kind", "green", "--fix", "sleep0"], ["--fix sleep0", "--kind green"]),
        (["heartbeat", "--task-seconds", "0", "--fix", "thread"], ["--fix thread", "--task-seconds 0"]),
        (["heartbeat", "--interval", "1", "--duration", "2"], ["--duration 2", "before the long task"]),
        (["heartbeat", "--interval", "1", "--service-down-time", "0.5"], ["--service-down-time", "--interval"]),
        (["heartbeat", "--plot", "/dev/null"], ["--plot /dev/null", "not a regular file"]),
        (["heartbeat", "--plot", "picture.txt"], ["--plot picture.txt", "unknown format", "png"]),
        (["heartbeat", "--plot", "picture"], ["--plot picture", "no extension"]),
        (["heartbeat", "--trace", "trace.png"], ["--trace trace.png", "json"]),
        (["frobnicate"], ["frobnicate"]),
        ([], ["command"]),
    ],
)
def test_bad_arguments_give_one_line_and_status_2(args, words, tmp_path):
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr and "error" in lines[0]
    for w in words:
        assert w in lines[0]
    assert r.stdout == ""


@pytest.mark.parametrize("flag", ["--plot", "--trace"])
def test_a_directory_is_refused_before_the_run_and_nothing_is_written(tmp_path, flag):
    out = tmp_path / "out"
    out.mkdir()
    r = cli("heartbeat", "--interval", "0.1", "--task-seconds", "30", flag, "out", cwd=tmp_path, timeout=20)
    assert r.returncode == 2 and "is a directory" in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
    assert "running" not in r.stderr, "refused before the 30 s run, not after it"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "no out.png, no out.json"


def test_a_missing_directory_is_refused(tmp_path):
    r = cli("heartbeat", "--trace", str(tmp_path / "no" / "t.json"))
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_the_exact_paths_written_are_printed(tmp_path):
    r = cli(
        "heartbeat",
        "--interval",
        "0.1",
        "--task-seconds",
        "0.3",
        "--kind",
        "green",
        "--plot",
        "hb.svg",
        "--trace",
        "t.json",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    picture = re.search(r"^picture +(\S+)$", r.stdout, re.M).group(1)
    trace = re.search(r"^trace +(\S+) ", r.stdout, re.M).group(1)
    assert picture == str(tmp_path / "hb.svg") and trace == str(tmp_path / "t.json")
    assert (tmp_path / "hb.svg").read_text().lstrip().startswith("<?xml")
    assert json.loads((tmp_path / "t.json").read_text())["traceEvents"]


def test_a_progress_line_says_what_runs_and_for_how_long_while_it_runs():
    proc = subprocess.Popen(
        [sys.executable, "-m", "minievent", "heartbeat", "--interval", "0.2", "--task-seconds", "4", "--kind", "green"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        line = proc.stderr.readline()
        still_running = proc.poll() is None
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert "green task of 4 s" in line and "every 0.2 s" in line and "minievent" in line, line
    seconds = float(re.search(r"about (\d+) s", line).group(1))
    assert 4 <= seconds <= 6, line
    assert still_running, "the line comes when the run starts, not at the end"
    assert "beats" in out


def test_gevent_backend_on_the_command_line(capsys, tmp_path):
    need_module("gevent")
    trace = tmp_path / "t.json"
    assert (
        main(["heartbeat", "--interval", "0.1", "--task-seconds", "0.8", "--backend", "gevent", "--trace", str(trace)])
        == 0
    )
    out = capsys.readouterr().out
    assert re.search(r"^backend +gevent$", out, re.M) and re.search(r"^service +DOWN", out, re.M), out
    events = json.loads(trace.read_text())["traceEvents"]
    assert {"heartbeat", "periodic_tasks"} <= {e["args"]["name"] for e in events if e.get("name") == "thread_name"}


def test_the_table_says_what_warnings_counts(capsys):
    assert main(["heartbeat", "--interval", "0.1", "--task-seconds", "0.3", "--kind", "green"]) == 0
    line = re.search(r"^warnings +0 (.*)$", capsys.readouterr().out, re.M).group(1)
    assert "run outlasted interval" in line and "report_state" in line
    assert "warnings" in cli("heartbeat", "--help").stdout.split("The table:")[1]


def _sigint_default():
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a shell that starts pytest in the background ignores it


@pytest.mark.parametrize("backend", ["minievent", "asyncio", "threads", "eventlet"])
def test_ctrl_c_says_so_and_writes_the_table_the_picture_and_the_trace(tmp_path, backend):
    # Issue 18: SIGINT 6 s into a 30 s task exited 130 after 0.07 s with no message, no table, no picture.
    if backend == "eventlet":
        need_module("eventlet")
    import signal
    import time

    args = ["--interval", "0.2", "--task-seconds", "30", "--backend", backend, "--plot", "x.png", "--trace", "t.json"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "minievent", "heartbeat", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=child_env(),
        preexec_fn=_sigint_default,
    )
    try:
        time.sleep(3.0)  # the task starts 0.5 s in (2.5 intervals), after about 1 s of start-up
        assert proc.poll() is None
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        took = time.monotonic() - sent
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert took < 15, "it stops, it does not wait for the 30 s task"
    assert "interrupted" in err and "Traceback" not in err, err
    assert re.search(r"^beats +\d+", out, re.M) and "interrupted" in out, out
    assert (tmp_path / "x.png").read_bytes()[:4] == b"\x89PNG"
    lanes = {
        e["args"]["name"]
        for e in json.loads((tmp_path / "t.json").read_text())["traceEvents"]
        if e.get("name") == "thread_name"
    }
    assert "heartbeat" in lanes, lanes
    assert str(tmp_path / "x.png") in out and str(tmp_path / "t.json") in out


@pytest.mark.skipif(
    not os.path.isdir("/proc/self") or not os.path.isdir("/sys/kernel"), reason="Linux's /proc and /sys"
)
@pytest.mark.parametrize("flag, path", [("--plot", "/proc/x.png"), ("--trace", "/sys/t.json")])
def test_an_output_that_cannot_be_created_is_refused_before_the_run(flag, path, tmp_path):
    # Issue 18: as root, os.access says yes to /proc and /sys; the run went ahead and the picture was lost.
    r = cli("heartbeat", "--interval", "0.1", "--task-seconds", "30", flag, path, cwd=tmp_path, timeout=20)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and flag in r.stderr and path in r.stderr, r.stderr
    assert "running" not in r.stderr, "refused before the 30 s run, not after it"


@pytest.mark.parametrize("flag", ["--plot", "--trace"])
def test_an_empty_output_path_is_refused(flag, tmp_path):
    r = cli("heartbeat", "--task-seconds", "30", flag, "", cwd=tmp_path, timeout=20)
    assert r.returncode == 2 and flag in r.stderr and "empty" in r.stderr and "running" not in r.stderr, r.stderr


def test_an_output_created_for_a_run_that_failed_is_removed(tmp_path):
    # The outputs are created before the run; a run refused later (gevent missing, say) leaves none behind.
    from minievent.cli import Output

    picture = Output("--plot", str(tmp_path / "p.png"), ["png"])
    assert (tmp_path / "p.png").exists()
    picture.discard()
    assert not (tmp_path / "p.png").exists()
    (tmp_path / "kept.png").write_bytes(b"an old picture")
    kept = Output("--plot", str(tmp_path / "kept.png"), ["png"])
    kept.discard()
    assert (tmp_path / "kept.png").read_bytes() == b"an old picture", "a file that was there is left alone"


def test_help_shows_every_default():
    text = " ".join(cli("heartbeat", "--help").stdout.split())
    for words in ("(default cpu)", "(default none)", "(default minievent)", "(default 8)", "(default 1;"):
        assert words in text, (words, text)


def test_the_default_run_shows_an_outage():
    # Issue 18: the default 3 s task, beside a 1 s heartbeat that is down after 6 s, showed nothing.
    from minievent.__main__ import build_parser

    args = build_parser().parse_args(["heartbeat"])
    down_after = args.service_down_time if args.service_down_time is not None else 6 * args.interval
    assert args.task_seconds > down_after + args.interval, "the default task outlasts service_down_time"


def test_progress_lines_while_the_task_holds_the_loop():
    # Issue 18: one banner, then nothing for the whole run. Now: a line per beat, and one per
    # second while no beat comes, as they happen (read while the process still runs).
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "minievent", "heartbeat", "--interval", "0.5", "--task-seconds", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    seen = []
    try:
        start = time.monotonic()
        for line in proc.stderr:
            seen.append((time.monotonic() - start, line.rstrip()))
            if "no beat for" in line:
                break
        running = proc.poll() is None
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    seen += [(None, line) for line in err.splitlines()]
    text = "\n".join(line for _, line in seen)
    assert running, "the silence is reported while the task still runs"
    assert re.search(r"^ +0\.\d\d s +beat 1$", text, re.M), text
    assert re.search(r"the long task starts", text), text
    silences = [line for _, line in seen if "no beat for" in line]
    assert len(silences) >= 2, text
    assert re.search(r"beat \d+, [0-9.]+ s after the one before", text), text
    assert re.search(r"^service +DOWN", out, re.M), out


def test_quiet_prints_no_progress_lines():
    r = cli("heartbeat", "--quiet", "--interval", "0.1", "--task-seconds", "0.3", "--kind", "green")
    assert r.returncode == 0 and "beat 1" not in r.stderr and r.stderr.count("\n") <= 1, r.stderr
