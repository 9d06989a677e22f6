"""The recorder: switches, reasons, timers, I/O, the three states, export, limits."""

from __future__ import annotations

import json
import random
import socket
import threading
import time

import greenlet
import pytest
from support import spin

import minievent
from minievent.recording import Timeline


def lane_spans(tl, lane, state=None):
    return [s for s in tl.spans() if s.lane == lane and (state is None or s.state == state)]


def test_records_switches_with_lane_names():
    def worker():
        minievent.sleep(0)

    with minievent.record() as tl:
        gt = minievent.spawn(worker)
        gt.wait()
    assert tl.switches, "no switch recorded"
    lanes = {s.origin for s in tl.switches} | {s.target for s in tl.switches}
    assert {"main", "hub", "worker"} <= lanes
    times = [s.time for s in tl.switches]
    assert times == sorted(times)
    assert 0 <= times[0] and times[-1] <= tl.duration
    # Every switch goes through the hub: nothing switches greenthread to greenthread.
    assert all("hub" in (s.origin, s.target) for s in tl.switches)
    # The lane that leaves is the lane that entered last.
    for a, b in zip(tl.switches, tl.switches[1:], strict=False):
        assert a.target == b.origin


def test_context_manager_and_start_stop_restore_everything():
    seen = []

    def tracer(event, args):
        seen.append(event)

    old = greenlet.settrace(tracer)
    try:
        tl = minievent.Timeline()
        tl.start()
        assert minievent.get_hub().instruments, "start() installs an instrument in the hub"
        minievent.spawn(minievent.sleep, 0).wait()
        tl.stop()
        assert tl.switches, "what ran between start() and stop() is recorded"
        assert greenlet.gettrace() is tracer, "the tracer installed before must be restored"
        assert seen, "the tracer installed before must still be called while recording"
    finally:
        greenlet.settrace(old)
    assert minievent.get_hub().instruments == ()
    n = len(tl.switches)
    minievent.spawn(minievent.sleep, 0).wait()
    assert len(tl.switches) == n, "recorded after stop()"


def test_two_recordings_of_one_hub_at_once_each_see_every_switch():
    # (the flight recorder stays armed while a lesson records: two instruments on one hub)
    def beat():
        for _ in range(3):
            minievent.sleep(0.001)

    with minievent.record() as outer:
        minievent.spawn(minievent.sleep, 0).wait()
        with minievent.record() as inner:
            minievent.spawn(beat).wait()
        minievent.spawn(beat).wait()
    assert inner.lanes == ["hub", "main", "beat"] and outer.lanes == ["hub", "main", "sleep", "beat", "beat#2"], (
        inner.lanes,
        outer.lanes,
    )
    seen_inside = [(s.origin, s.target, s.why) for s in inner.switches]
    outer_all = [(s.origin, s.target, s.why) for s in outer.switches]
    assert any(seen_inside == outer_all[i : i + len(seen_inside)] for i in range(len(outer_all))), (
        "the outer recording missed switches the inner one saw"
    )
    assert minievent.get_hub().instruments == ()
    tl = minievent.Timeline().start()
    with pytest.raises(RuntimeError, match="already started"):
        tl.start()
    tl.stop()


def test_greenthreads_with_the_same_name_get_their_own_lanes():
    def handler():
        minievent.sleep(0.001)

    with minievent.record() as tl:
        for gt in [minievent.spawn(handler) for _ in range(3)]:
            gt.wait()
    assert {"handler", "handler#2", "handler#3"} <= set(tl.lanes)


def test_why_a_greenthread_left(raw_pair):
    ev = minievent.Event()
    a, b = raw_pair

    def sleeper():
        minievent.sleep(0.01)

    def yielder():
        minievent.sleep(0)

    def waiter():
        ev.wait()

    def reader():
        minievent.trampoline(a, read=True)

    def crasher():
        raise ValueError("boom")

    with minievent.record() as tl:
        gts = [minievent.spawn(f) for f in (sleeper, yielder, waiter, reader)]
        minievent.sleep(0.02)
        ev.send()
        b.send(b"x")
        for gt in gts:
            gt.wait()
        bad = minievent.spawn(crasher)
        with pytest.raises(ValueError):
            bad.wait()
    why = {}
    for s in tl.switches:
        why.setdefault(s.origin, []).append(s.why)
    assert why["sleeper"][0] == "sleep(0.01)"
    assert why["yielder"][0] == "sleep(0)"
    assert "Event" in why["waiter"][0]
    assert why["reader"][0] == f"read on fd {a.fileno()}" or why["reader"][0].startswith("read on fd")
    assert why["crasher"][-1] == "raised ValueError"
    assert why["sleeper"][-1] == "exit"
    waiting = {s.lane: s.why for s in tl.spans() if s.state == "waiting"}
    assert waiting["sleeper"] == "sleep(0.01)"


def test_a_due_timer_is_ready_while_another_greenthread_holds_the_hub():
    # The heart of the lesson: the sleeper's timer is due at 0.05 s, but the
    # spin keeps the CPU until 0.3 s: the sleeper is "ready" in between.
    def sleeper():
        minievent.sleep(0.05)

    with minievent.record() as tl:
        s = minievent.spawn(sleeper)
        h = minievent.spawn(spin, 0.3)
        s.wait()
        h.wait()
    # Relations between the records, not absolute times: they hold on a loaded machine too.
    (timer,) = [t for t in tl.timers if t.lane == "sleeper"]
    (long_run,) = tl.blocked(0.2)
    assert long_run.lane == "spin" and long_run.duration >= 0.3
    ready = lane_spans(tl, "sleeper", "ready")
    assert len(ready) == 1
    assert ready[0].why == "timer due"
    assert ready[0].start == pytest.approx(timer.due, abs=1e-6), "ready from the moment it was due"
    assert timer.due < long_run.end and ready[0].end >= long_run.end, "... until the spin let go"
    assert ready[0].duration > 0.2
    waiting = lane_spans(tl, "sleeper", "waiting")
    assert waiting and waiting[0].end == pytest.approx(ready[0].start)
    assert waiting[0].duration >= 0.049
    assert timer.lateness == pytest.approx(timer.fired - timer.due)
    assert timer.lateness == pytest.approx(ready[0].duration, abs=0.01)
    assert tl.blocked(long_run.duration + 0.01) == []


def test_a_greenthread_that_yields_is_ready_not_waiting():
    # Two take turns: each is ready (not waiting) while the other runs.
    def polite():
        for _ in range(3):
            minievent.sleep(0)
            spin(0.001)

    with minievent.record() as tl:
        a, b = minievent.spawn(polite), minievent.spawn(polite)
        a.wait()
        b.wait()
    for lane in ("polite", "polite#2"):
        assert {s.state for s in lane_spans(tl, lane)} == {"running", "ready"}, lane
        assert max(s.duration for s in lane_spans(tl, lane, "ready")) >= 0.0009, "ready while the other ran"


def test_io_lateness_when_a_neighbour_keeps_the_hub(socketpairs):
    # Both sockets become readable in the same poll; the first reader to be
    # resumed hogs the CPU, so the second one resumes late.
    pairs = [socketpairs(socket.socketpair) for _ in range(2)]

    def reader(sock, work):
        minievent.trampoline(sock, read=True)
        sock.recv(1)
        spin(work)

    with minievent.record() as tl:
        gts = [minievent.spawn(reader, pairs[0][0], 0.15), minievent.spawn(reader, pairs[1][0], 0.0)]
        minievent.sleep(0.01)
        for _, w in pairs:
            w.send(b"x")
        for gt in gts:
            gt.wait()
    io = {r.lane: r for r in tl.io}
    assert set(io) == {"reader", "reader#2"}
    late = max(io.values(), key=lambda r: r.lateness)
    assert late.lateness >= 0.14, "it waited for the neighbour's 0.15 s of work"
    assert late.direction == "read" and late.reported <= late.resumed
    ready = [s for s in lane_spans(tl, late.lane, "ready")]
    assert ready and ready[0].why.startswith("fd ") and ready[0].duration > 0.1


def test_the_hub_waits_in_poll():
    with minievent.record() as tl:
        minievent.sleep(0.05)
    polls = [s for s in lane_spans(tl, "hub", "waiting") if s.why == "poll"]
    assert 0.01 < sum(s.duration for s in polls) <= tl.duration


def test_spawn_after_and_main_lanes():
    def later():
        pass

    with minievent.record() as tl:
        minievent.spawn_after(0.02, later).wait()
    assert "later" in tl.lanes
    main = lane_spans(tl, "main")
    assert main[0].state == "running" and main[0].start == 0
    assert any(s.state == "waiting" and "later" in s.why for s in main)


def test_spans_and_events_from_os_threads():
    with minievent.record() as tl:

        def in_thread():
            with tl.span("worker-thread", "blocking call"):
                time.sleep(0.03)
            tl.event("worker-thread", "done")

        threads = [threading.Thread(target=in_thread) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    spans = lane_spans(tl, "worker-thread")
    assert len(spans) == 4 and all(s.duration >= 0.025 and s.why == "blocking call" for s in spans)
    assert [m.label for m in tl.marks] == ["done"] * 4
    assert "worker-thread" in tl.lanes
    # An OS thread's span is not a greenthread blocking the hub (main, joining
    # the threads without yielding, is).
    assert [s.lane for s in tl.blocked(0.01)] == ["main"]


def test_add_span_with_explicit_times_and_state():
    with minievent.record() as tl:
        t = time.monotonic()
        tl.add_span("thread", t, t + 0.01, "ready", "GIL")
    (s,) = lane_spans(tl, "thread")
    assert s.state == "ready" and s.why == "GIL" and s.duration == pytest.approx(0.01)
    with pytest.raises(ValueError):
        tl.add_span("thread", t, t + 1, "sleeping")


def test_chrome_trace(tmp_path):
    def worker():
        minievent.sleep(0.01)

    with minievent.record() as tl:
        minievent.spawn(worker).wait()
        tl.event("main", "mark")
    path = tmp_path / "trace.json"
    tl.to_chrome_trace(path)
    data = json.loads(path.read_text())
    events = data["traceEvents"]
    names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"hub", "main", "worker"} <= names
    complete = [e for e in events if e["ph"] == "X"]
    assert complete and all(e["dur"] >= 0 and e["ts"] >= 0 for e in complete)
    waits = [e for e in complete if e["cat"] == "waiting" and e.get("args", {}).get("why") == "sleep(0.01)"]
    assert len(waits) == 1
    assert waits[0]["dur"] == pytest.approx(10_000, abs=5_000), "ts and dur are microseconds"
    assert any(e["ph"] == "i" and e["name"] == "mark" for e in events)


def test_cap_bounds_memory_and_counts_what_it_dropped():
    def spin():
        for _ in range(500):
            minievent.sleep(0)

    with minievent.record(cap=100) as tl:
        minievent.spawn(spin).wait()
    assert len(tl.switches) == 100
    assert tl.dropped >= 900
    assert minievent.Timeline().cap >= 1_000_000
    with pytest.raises(ValueError):
        minievent.Timeline(cap=0)


def test_invariants_on_a_random_workload():
    rng = random.Random(4)
    ev = minievent.Event()
    q = minievent.Queue()

    def worker(i):
        for _ in range(20):
            r = rng.random()
            if r < 0.3:
                minievent.sleep(0)
            elif r < 0.6:
                minievent.sleep(rng.random() * 0.002)
            elif r < 0.8:
                q.put(i)
                q.get()
            else:
                spin(0.0005)
        if i == 0:
            ev.send()
        else:
            ev.wait()

    with minievent.record() as tl:
        for gt in [minievent.spawn(worker, i) for i in range(8)]:
            gt.wait()
    spans = tl.spans()
    assert all(s.state in {"running", "ready", "waiting"} for s in spans)
    by_lane: dict[str, list] = {}
    for s in spans:
        assert s.end >= s.start
        by_lane.setdefault(s.lane, []).append(s)
    for lane, ss in by_lane.items():
        ss.sort(key=lambda s: s.start)
        for a, b in zip(ss, ss[1:], strict=False):
            assert b.start >= a.end - 1e-9, f"{lane}: {a} overlaps {b}"
    # One OS thread: at any moment at most one lane is running.
    running = sorted((s for s in spans if s.state == "running"), key=lambda s: s.start)
    for a, b in zip(running, running[1:], strict=False):
        assert b.start >= a.end - 1e-9, f"{a} and {b} both run"
    assert len([lane for lane in tl.lanes if lane.startswith("worker")]) == 8


def test_recording_off_leaves_no_hook():
    hub = minievent.get_hub()
    assert hub.instruments == ()
    before = greenlet.gettrace()
    with minievent.record():
        pass
    assert hub.instruments == () and greenlet.gettrace() is before


def test_stop_from_another_thread_is_refused():
    tl = Timeline().start()
    errors = []

    def other():
        try:
            tl.stop()
        except RuntimeError as e:
            errors.append(e)

    t = threading.Thread(target=other)
    t.start()
    t.join()
    tl.stop()
    assert errors and not tl.recording
