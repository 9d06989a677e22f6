"""The watchdog: one OS thread the program cannot see, real even under monkey_patch(), serving every watch."""

from __future__ import annotations

import sys
import textwrap
import threading
import time

import pytest
from support import last_json, need_module, run_python, spin

from minievent.recording import watchdog
from minievent.recording.records import clock


class Source:
    """A loop that is held from ``since`` on, by lane 7 (for a Watch: ``latest()`` and ``thread``)."""

    recording = True

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.state = (1, clock(), 7)

    def latest(self):
        return self.state


class Recorder(watchdog.Watch):
    def __init__(self, source, threshold=0.02):
        super().__init__(source, threshold, period=0.005)
        self.holds, self.releases, self.ticks = [], [], 0

    def held(self, hold, frame):
        self.holds.append((hold.since, hold.samples, frame.f_code.co_name))

    def released(self, hold):
        self.releases.append((hold.since, hold.end))

    def tick(self, now):
        self.ticks += 1


def wait_for(predicate, seconds=2.0):
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.005)
    return predicate()


def test_a_hold_is_sampled_while_it_lasts_and_released_once():
    src = Source()
    w = Recorder(src)
    watchdog.add(w)
    try:
        spin(0.15)  # (the "loop" holds: no switch)
        first = src.state[1]
        src.state = (2, clock(), watchdog.HUB_ID)  # the loop is back: the hub runs
        assert wait_for(lambda: w.releases)
    finally:
        watchdog.remove(w)
    assert len(w.holds) >= 3, "sampled at every look while held"
    assert {since for since, _n, _f in w.holds} == {first}
    assert [n for _s, n, _f in w.holds] == list(range(1, len(w.holds) + 1))
    assert {f for _s, _n, f in w.holds} == {"spin"}, "the holder's frame, not the watchdog's"
    assert w.releases == [(first, src.state[1])], "released once, ending at the switch that ended it"
    assert w.ticks >= len(w.holds)


def test_remove_means_never_again_and_the_thread_ends_with_the_last_watch():
    a, b = Recorder(Source()), Recorder(Source())
    watchdog.add(a)
    watchdog.add(b)
    with pytest.raises(RuntimeError):
        watchdog.add(a)
    ident = watchdog.running()
    assert wait_for(lambda: a.ticks and b.ticks)
    watchdog.remove(a)
    ticks = a.ticks
    time.sleep(0.05)
    assert a.ticks == ticks, "a removed watch is not looked at again"
    assert b.ticks > 0 and watchdog.running() == ident, "one thread for every watch"
    watchdog.remove(b)
    assert watchdog.running() is None
    assert wait_for(lambda: ident not in sys._current_frames()), "the thread ended"


def test_a_failing_watch_is_dropped_with_one_line_and_the_others_go_on(capfd):
    class Broken(Recorder):
        def tick(self, now):
            raise ValueError("bug in a watch")

    good, bad = Recorder(Source()), Broken(Source())
    watchdog.add(bad)
    watchdog.add(good)
    try:
        ticks = good.ticks
        assert wait_for(lambda: good.ticks > ticks + 5)
    finally:
        watchdog.remove(good)
        watchdog.remove(bad)  # (already dropped: harmless)
    err = capfd.readouterr().err
    assert err.count("bug in a watch") == 1, err
    assert "Broken failed (ValueError: bug in a watch); it stops" in err


def test_a_watch_that_is_not_a_loop_only_ticks():
    w = Recorder(None)
    watchdog.add(w)
    try:
        assert wait_for(lambda: w.ticks > 3)
    finally:
        watchdog.remove(w)
    assert w.holds == [] and w.releases == []


def test_bad_threshold():
    for bad in (0, -1, float("nan"), "1", True):
        with pytest.raises(ValueError):
            watchdog.Watch(None, bad)


# In a child: patched by LIB, the watchdog still runs as a real OS thread (it samples a greenthread that
# holds the hub), the program's threading does not list it, and it ends when the last watch goes.
CHILD = """
    import json, sys, time
    {before}
    import threading
    from minievent.recording import watchdog

    class Held(watchdog.Watch):
        def __init__(self):
            super().__init__(None, 0.02, period=0.005)
            self.thread, self.state, self.frames = threading.get_ident(), None, []
            self.source = self
        recording = True
        def latest(self):
            return self.state
        def held(self, hold, frame):
            self.frames.append(frame.f_code.co_name)

    def spin_here(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass

    counts = [threading.active_count(), len(threading.enumerate())]
    w = Held()
    real = watchdog.real_thread_functions()
    w.thread = watchdog._get_ident()  # (the OS thread: after patching, threading's ident names a greenlet)
    w.state = (1, time.monotonic(), 5)
    watchdog.add(w)
    counts += [threading.active_count(), len(threading.enumerate())]
    spin_here(0.2)
    watchdog.remove(w)
    print(json.dumps({{"counts": counts, "frames": sorted(set(w.frames)),
                       "real": [type(f).__name__ for f in real]}}))
"""

PATCHES = {
    "unpatched": ("", ""),
    "minievent": ("import minievent; minievent.monkey_patch()", ""),
    "eventlet": ("", "import eventlet; eventlet.monkey_patch()"),
    "gevent": ("", "import gevent.monkey; gevent.monkey.patch_all()"),
    "gevent, imported after": ("import gevent.monkey; gevent.monkey.patch_all()", ""),
}


@pytest.mark.parametrize("how", list(PATCHES))
def test_a_real_thread_the_program_cannot_see_under_every_patch(how):
    first, then = PATCHES[how]
    if "eventlet" in how:
        need_module("eventlet")
    if "gevent" in how:
        need_module("gevent")
    before = f"{first}\n    {then}" if first else then
    if then and not first:
        before = "from minievent.recording import watchdog as _early\n    " + then
    code = textwrap.dedent(CHILD.format(before=before))
    got = last_json(run_python("-W", "ignore", "-c", code))
    assert got["real"] == ["builtin_function_or_method"] * 3
    assert got["frames"] == ["spin_here"], "the watchdog ran while the main thread spun: a real OS thread"
    assert got["counts"][:2] == got["counts"][2:], "threading.active_count() and enumerate() do not see it"
