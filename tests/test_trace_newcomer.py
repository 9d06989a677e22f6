"""``python -m minievent trace`` as a newcomer found it (issue 21's list): one test for each thing found.

Each run is a child process, as a user runs the command.
"""

from __future__ import annotations

import json
import os
import textwrap

import pytest
from support import TRACE_ENV, run_python, trace_cmd, write_program

from minievent import trace

#: A greenthread holds the hub for 0.3 s while another beats every 50 ms.
HELD = """
    import time
    import minievent
    def spin():
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            pass
    def beat():
        for _ in range(10):
            minievent.sleep(0.05)
    a, b = minievent.spawn(beat), minievent.spawn(spin)
    a.wait(); b.wait()
    print("ran")
"""


def test_a_module_runs_with_dash_m(tmp_path):
    (tmp_path / "service_mod.py").write_text(
        textwrap.dedent(HELD) + "import sys\nprint('argv', sys.argv[1:], __name__)\n"
    )
    js = tmp_path / "t.json"
    proc = trace_cmd("--trace", str(js), "-m", "service_mod", "one", "--two", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "argv ['one', '--two'] __main__" in proc.stdout
    assert "recorded minievent" in proc.stderr
    assert [s.lane for s in trace.load(str(js)).blocked(0.2)] == ["spin"]


@pytest.mark.parametrize("plot", ["lanes.bmp", "lanes", "."])
def test_a_bad_picture_path_is_refused_before_the_program_runs(tmp_path, plot):
    # An unknown format, no extension, a folder: exit status 2 and one line, before the program runs,
    # and nothing written (the old command ran the program, then wrote out.png and printed "picture out").
    path = write_program(tmp_path, HELD)
    before = set(os.listdir(tmp_path))
    proc = trace_cmd("--plot", str(tmp_path / plot), path)
    assert proc.returncode == 2, proc.stderr
    assert "ran" not in proc.stdout, "the program did not run"
    assert proc.stderr.count("\n") == 1 and "--plot" in proc.stderr, proc.stderr
    assert set(os.listdir(tmp_path)) == before, "nothing was written"


def test_the_picture_formats_are_matplotlibs():
    from matplotlib.backend_bases import FigureCanvasBase

    from minievent.cli import PICTURE_FORMATS

    assert set(PICTURE_FORMATS) <= set(FigureCanvasBase.get_supported_filetypes())
    assert PICTURE_FORMATS[0] == "png"


def test_no_program_is_one_clear_line():
    proc = trace_cmd()
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "required" not in proc.stderr, proc.stderr
    assert "no program to run" in proc.stderr


def test_the_tracer_imports_nothing_the_programs_patch_must_see_first(tmp_path):
    # What the program finds imported when it starts: not logging (its module lock and handlers are
    # RLocks), not asyncio (which imports logging), not matplotlib (which does too).
    path = write_program(
        tmp_path,
        "import json, sys\nprint(json.dumps([m in sys.modules for m in ('logging', 'asyncio', 'matplotlib')]))\n",
    )
    proc = trace_cmd("--plot", str(tmp_path / "p.png"), "--trace", str(tmp_path / "t.json"), path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[0]) == [False, False, False]


def test_an_eventlet_programs_monkey_patch_greens_every_lock(tmp_path):
    pytest.importorskip("eventlet")
    path = write_program(
        tmp_path,
        """
        import eventlet
        eventlet.monkey_patch()
        import threading
        def work():
            eventlet.sleep(0.01)
        t = threading.Thread(target=work)
        t.start()
        t.join()
        print("ran")
        """,
    )
    # (eventlet is silent under pytest; matplotlib, imported before the program, made locks that only a
    # default backend's search leaves unreachable: as a newcomer runs it, with neither set)
    env = {k: v for k, v in TRACE_ENV.items() if k not in ("PYTEST_CURRENT_TEST", "MPLBACKEND")}
    proc = trace_cmd("--plot", str(tmp_path / "p.png"), path, env=env)
    assert proc.returncode == 0 and "ran" in proc.stdout, proc.stderr
    assert "not greened" not in proc.stderr, proc.stderr
    assert "recorded eventlet" in proc.stderr


#: A sleeper killed 0.05 s into its 0.3 s sleep, on each library (``lib``).
KILLED = {
    loop: f"""
        import {loop} as lib
        def sleeper():
            lib.sleep(0.3)
        gt = lib.spawn(sleeper)
        lib.sleep(0.05)
        gt.kill()
        lib.sleep(0.05)
    """
    for loop in ("minievent", "eventlet", "gevent")
}


@pytest.mark.parametrize("loop", sorted(KILLED))
def test_a_killed_sleepers_timer_is_not_late_by_a_negative_time(tmp_path, loop):
    if loop != "minievent":
        pytest.importorskip(loop)
    js = tmp_path / "t.json"
    proc = trace_cmd("--trace", str(js), write_program(tmp_path, KILLED[loop]))
    assert proc.returncode == 0, proc.stderr
    rec = trace.load(str(js))
    assert "sleeper" in rec.lanes
    assert [t for t in rec.timers if t.lateness < 0] == [], "a timer cannot fire before it is due"
    assert [t for t in rec.timers if t.lane == "sleeper"] == [], "its timer never fired: it was killed"
    waits = [s for s in rec.spans() if s.lane == "sleeper" and s.state != "running"]
    assert waits and all(s.state == "waiting" for s in waits), "killed while it slept: waiting, never ready"


def test_the_culprits_line_is_in_the_trace(tmp_path):
    path = write_program(tmp_path, HELD)
    js = tmp_path / "t.json"
    proc = trace_cmd("--trace", str(js), "--threshold", "0.2", path)
    assert proc.returncode == 0, proc.stderr
    [run] = trace.load(str(js)).blocked(0.2)
    assert run.lane == "spin"
    func, where = run.why.split(" ", 1)
    assert func == "spin" and where.startswith("(prog.py:") and int(where[9:-1]) in (5, 6), run.why
    assert "spin                     at" in proc.stderr and run.why in proc.stderr


#: In a child: trace.main() with minievent.plot.swimlanes watched, so the test can read the picture drawn.
PICTURE = """
    import json, sys
    import matplotlib
    matplotlib.use("Agg")
    from minievent import plot, trace
    drawn = []
    swimlanes = plot.swimlanes
    def watched(tl, **kw):
        ax = swimlanes(tl, **kw)
        fig = ax.figure
        fig.canvas.draw()
        label, whole = ax.yaxis.label.get_window_extent(), fig.bbox
        drawn.append({
            "lanes": [t.get_text() for t in ax.get_yticklabels()],
            "legend": [t.get_text() for t in ax.get_legend().get_texts()],
            "label inside": bool(label.y0 >= whole.y0 - 0.5 and label.y1 <= whole.y1 + 0.5),
        })
        return ax
    plot.swimlanes = watched
    status = trace.main(sys.argv[1:])
    print(json.dumps([status, drawn]))
"""

ASYNCIO = """
    import asyncio, time
    async def beat():
        for _ in range(5):
            await asyncio.sleep(0.05)
    async def main():
        task = asyncio.create_task(beat())
        await asyncio.sleep(0.02)
        end = time.monotonic() + 0.2
        while time.monotonic() < end:
            pass
        await task
    asyncio.run(main())
"""


def drawn(tmp_path, code: str) -> dict:
    proc = run_python(
        "-c", textwrap.dedent(PICTURE), "--plot", str(tmp_path / "p.png"), write_program(tmp_path, code), env=TRACE_ENV
    )
    assert proc.returncode == 0, proc.stderr
    status, pictures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert status == 0 and len(pictures) == 1, proc.stderr
    return pictures[0]


def test_an_asyncio_picture_speaks_of_the_event_loop_and_one_lane_a_thread(tmp_path):
    picture = drawn(tmp_path, ASYNCIO)
    assert picture["lanes"] == ["event loop", "main", "beat"], picture
    legend = " ".join(picture["legend"])
    assert "event loop" in legend and "greenthread" not in legend and "hub" not in legend, legend


def test_a_three_lane_picture_shows_its_whole_y_label(tmp_path):
    picture = drawn(tmp_path, ASYNCIO)
    assert len(picture["lanes"]) == 3
    assert picture["label inside"], "the y label fits in the figure"
