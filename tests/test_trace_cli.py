"""``python -m minievent trace script.py``: any program's loop recorded, pictured, and its blocker named.

Each run is a subprocess (as an operator runs it). The programs are
support's (test_foreign's too): a heartbeat every 0.1 s and a task that holds the loop for 1 s.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest
from support import COMMON, PROGRAMS, ROOT, TRACE_ENV, check_chrome_trace, trace_cmd, write_program

from minievent import trace


def script(tmp_path, loop: str, tail: str = "run()\nprint('done', sys.argv[1:])\n") -> str:
    path = tmp_path / f"service_{loop}.py"
    path.write_text("import sys\n" + textwrap.dedent(COMMON) + textwrap.dedent(PROGRAMS[loop]) + tail)
    return str(path)


def spin_lines(path: str) -> set[int]:
    """Line numbers of the spin loop's body: where the task is computing."""
    lines = open(path).read().splitlines()
    i = next(n for n, line in enumerate(lines, 1) if "while time.monotonic() < end" in line)
    return {i, i + 1}


def interrupt_trace(path, js, first_line: str, after: float) -> str:
    """Run ``path`` under ``trace --trace js``, Ctrl-C it ``after`` s past its first line; its stderr."""
    # (SIGINT back to its default in the child: a shell that started pytest in the background has it
    # ignored, the child would inherit that, and Python installs its KeyboardInterrupt handler only over the default.)
    proc = subprocess.Popen(
        [sys.executable, "-m", "minievent", "trace", "--trace", str(js), str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=TRACE_ENV,
        cwd=ROOT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout.readline().strip() == first_line
        time.sleep(after)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-2000:]
    return err


@pytest.mark.parametrize("loop", sorted(PROGRAMS))
def test_trace_writes_the_trace_the_picture_and_names_the_blocker(tmp_path, loop: str) -> None:
    path = script(tmp_path, loop)
    png, js = tmp_path / "lanes.png", tmp_path / "trace.json"
    proc = trace_cmd("--plot", str(png), "--trace", str(js), "--threshold", "0.5", path, "one", "--two")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "done ['one', '--two']" in proc.stdout  # the script ran as __main__ with its own argv
    assert f"recorded {loop}:" in proc.stderr
    held = [line for line in proc.stderr.splitlines() if "long_task" in line and " s  " in line]
    assert len(held) == 1, proc.stderr
    seconds, where = float(held[0].split()[0]), held[0].rsplit("  ", 1)[-1]
    assert 0.9 < seconds < 3.0, held
    assert where.startswith("spin (") and int(where.rstrip(")").rsplit(":", 1)[1]) in spin_lines(path), held
    assert "heartbeat" not in "\n".join(line for line in proc.stderr.splitlines() if " s  " in line)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The trace file: valid Chrome trace, and read back, the heartbeat was ready while the task ran.
    import json

    check_chrome_trace(json.loads(js.read_text()), ["hub", "heartbeat", "long_task"])
    rec = trace.load(str(js))
    [run] = rec.blocked(0.5)
    assert run.lane == "long_task"
    ready = [
        s
        for s in rec.spans()
        if s.lane == "heartbeat" and s.state == "ready" and s.start < run.end and s.end > run.start
    ]
    assert sum(min(s.end, run.end) - max(s.start, run.start) for s in ready) > 0.8 * run.duration


def test_exit_status_and_outputs_on_sys_exit(tmp_path) -> None:
    path = script(tmp_path, "eventlet", tail="run()\nsys.exit(3)\n")
    js = tmp_path / "t.json"
    proc = trace_cmd("--trace", str(js), path)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert js.exists() and "long_task" in proc.stderr


def test_ctrl_c_still_writes_the_outputs(tmp_path) -> None:
    # A service that would run for a minute: interrupted, it leaves its recording behind.
    path = write_program(
        tmp_path,
        """
        import asyncio
        async def beat():
            while True:
                await asyncio.sleep(0.05)
        print("started", flush=True)
        asyncio.run(asyncio.wait_for(beat(), 60))
        """,
        "forever.py",
    )
    js = tmp_path / "t.json"
    err = interrupt_trace(path, js, "started", 0.5)
    assert "recorded asyncio" in err
    rec = trace.load(str(js))
    assert len([s for s in rec.spans() if s.lane == "beat" and s.state == "running"]) >= 3


def test_bad_input_is_one_line_and_status_2(tmp_path) -> None:
    proc = trace_cmd(str(tmp_path / "missing.py"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "no such file" in proc.stderr, proc.stderr
    proc = trace_cmd("--threshold", "0", str(tmp_path / "missing.py"))
    assert proc.returncode == 2 and "must be > 0" in proc.stderr, proc.stderr
    proc = trace_cmd("--plot", str(tmp_path / "no" / "x.png"), script(tmp_path, "asyncio"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr, proc.stderr


@pytest.mark.parametrize("loop", ["eventlet", "gevent"])
def test_a_monkey_patched_service_of_threads(tmp_path, loop: str) -> None:
    # nova's shape: plain threading and time.sleep, made green by monkey patching at the top of the script.
    patch = (
        "import eventlet; eventlet.monkey_patch()"
        if loop == "eventlet"
        else "from gevent import monkey; monkey.patch_all()"
    )
    path = tmp_path / "service.py"
    path.write_text(
        patch
        + "\nimport sys, threading\n"
        + textwrap.dedent(COMMON)
        + textwrap.dedent("""
        ts = [threading.Thread(target=heartbeat, args=(time.sleep,)),
              threading.Thread(target=long_task, args=(time.sleep,))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    """)
    )
    proc = trace_cmd("--threshold", "0.5", str(path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"recorded {loop}:" in proc.stderr and "Exception" not in proc.stderr, proc.stderr[-3000:]
    held = [line for line in proc.stderr.splitlines() if " s  " in line and "at" in line]
    assert len(held) == 1 and "long_task" in held[0], proc.stderr  # the green thread named after its target
    assert int(held[0].rstrip(")").rsplit(":", 1)[1]) in spin_lines(str(path)), held


def test_ctrl_c_on_a_stuck_asyncio_service_shows_the_heartbeat_ready(tmp_path) -> None:
    # Ctrl-C while a task holds the loop: asyncio.run's handler cancels the tasks, which run (to be
    # cancelled) once the task lets go. The heartbeat's sleep was due long before it was cancelled:
    # ready from the deadline, not "woken" at the Ctrl-C.
    path = write_program(
        tmp_path,
        """
        import asyncio, time
        async def beat():
            while True:
                await asyncio.sleep(0.3)   # falls due while hog computes
        async def hog():
            await asyncio.sleep(0.1)
            print("stuck", flush=True)
            end = time.monotonic() + 1.5
            while time.monotonic() < end:
                pass
        async def main():
            await asyncio.gather(beat(), hog())
        asyncio.run(main())
        """,
        "stuck.py",
    )
    js = tmp_path / "t.json"
    interrupt_trace(path, js, "stuck", 0.7)
    rec = trace.load(str(js))
    [run] = [s for s in rec.blocked(0.5) if s.lane == "hog"]
    ready = [
        s
        for s in rec.spans()
        if s.lane == "beat"
        and s.state == "ready"
        and s.why == "timer due"
        and s.start < run.start + 0.4
        and s.end >= run.end - 0.01
    ]
    assert ready, [s for s in rec.spans() if s.lane == "beat"][-4:]
