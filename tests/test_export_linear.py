"""The analysis and export are linear in the size of the recording: counted in work, not timed.

A recording of 4x the greenthreads must cost about 4x the work to turn into
spans, a Chrome trace and a swimlane picture, not 16x. The measure is every
Python function call and every line run (``sys.settrace``), the same from run
to run for the same records: the program below switches only through
``sleep(0)`` and events, so what it records does not depend on the clock. A
search hidden in one C call (``lane in a_list``) runs no Python line, so every
lane here is named with a ``str`` whose ``==`` is Python: each comparison such
a search makes is counted too. The times of 10,000 and 20,000 greenthreads are
in the benchmarks (``python -m benchmarks``, trace export).
"""

from __future__ import annotations

import sys

import pytest

import minievent
from minievent import plot
from minievent.recording.minievent import HubCapture
from minievent.recording.timeline import Timeline

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


class Name(str):
    """A lane name whose comparisons run a line of Python (so ``sys.settrace`` counts them)."""

    __hash__ = str.__hash__

    def __eq__(self, other):
        return str.__eq__(self, other)


class NamingCapture(HubCapture):
    def lane_name(self, key):
        return Name(super().lane_name(key))


def recording(n: int):
    done = minievent.Event()
    left = [n]

    def work():
        minievent.sleep(0)
        minievent.sleep(0)
        left[0] -= 1
        if not left[0]:
            done.send()

    with Timeline(capture=NamingCapture()) as tl:
        for i in range(n):
            minievent.spawn(work).name = f"work-{i}"  # (unique: a name seen twice becomes a plain "name#2")
        done.wait()
    assert all(type(lane) is Name for lane in tl.lanes if lane != "hub")
    return tl


def work_of(fn) -> int:
    count = [0]

    def tracer(frame, event, arg):
        count[0] += 1
        return tracer

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(old)
    return count[0]


def export(tl, path) -> None:
    tl.spans()
    tl.to_chrome_trace(str(path))
    ax = plot.swimlanes(tl)
    matplotlib.pyplot.close(ax.figure)


def test_export_work_grows_linearly(tmp_path):
    export(recording(50), tmp_path / "warm.json")  # (what is done once: matplotlib's fonts, imports...)
    small, big = recording(300), recording(1200)
    assert big.switch_count > 3.9 * small.switch_count, "the program recorded 4x the switches"
    w_small = work_of(lambda: export(small, tmp_path / "s.json"))
    w_big = work_of(lambda: export(big, tmp_path / "b.json"))
    ratio = w_big / w_small
    assert ratio < 4.6, f"4x the greenthreads cost {ratio:.1f}x the work to export ({w_small:,} -> {w_big:,})"
    # The analysis and the trace alone (the picture's own fixed cost, matplotlib's, left out): fresh
    # recordings, as the spans of a stopped recording are worked out once.
    small, big = recording(300), recording(1200)
    w_small = work_of(lambda: small.to_chrome_trace(str(tmp_path / "s2.json")))
    w_big = work_of(lambda: big.to_chrome_trace(str(tmp_path / "b2.json")))
    ratio = w_big / w_small
    assert 3.5 < ratio < 4.6, f"4x the greenthreads: {ratio:.1f}x the work to analyse and write the trace"


def test_the_measure_catches_a_quadratic_step_in_c():
    # The lane order as it once was: a list searched once a span (``not in``: one C call, no Python
    # line of its own). The same measure must fail the bound above.
    def lanes_in_a_list(tl):
        order = []
        for s in tl.spans():
            if s.lane not in order:
                order.append(s.lane)
        return order

    small, big = recording(300), recording(1200)
    small.spans(), big.spans()
    ratio = work_of(lambda: lanes_in_a_list(big)) / work_of(lambda: lanes_in_a_list(small))
    assert ratio > 4.6 * 2, ratio


def test_the_trace_is_written_a_batch_at_a_time_not_held_whole(tmp_path):
    """The flight recorder writes an incident's trace inside the service: building all its events and
    their text at once held some 30 MB of a busy window, and the service kept them (its RSS does not
    come down). ``write_chrome_trace`` holds a batch; it writes what ``to_chrome_trace`` returns."""
    import json
    import tracemalloc

    tl = recording(3000)
    tl.spans()  # (worked out once and kept by the stopped recording: not the writing's)
    path = tmp_path / "t.json"
    tracemalloc.start()
    try:
        tl.write_chrome_trace(str(path), {"incident": {"reason": "signal"}})
        written_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        whole = tl.to_chrome_trace()
        whole_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    size = path.stat().st_size
    assert len(whole["traceEvents"]) > 50 * 256, "enough events for many batches"
    # (not the events whole, nor the text whole: what grows with the trace is a few lists of references)
    assert written_peak < whole_peak / 4 and written_peak < size / 2, (written_peak, size, whole_peak)
    back = json.loads(path.read_text())
    assert back["traceEvents"] == whole["traceEvents"]
    assert back["otherData"] == {**whole["otherData"], "incident": {"reason": "signal"}}
