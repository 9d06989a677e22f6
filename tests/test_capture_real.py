"""What the recording sees on real code: timed waits read as deadlines, lanes named after what they run.

A greenthread whose timer or timeout is due is *ready* from its due time until it runs, whatever the
wait: a sleep, an ``Event.wait(timeout)`` (oslo.service's looping calls idle so), a ``Timeout``; on
eventlet, gevent and asyncio. Each case is a child program: a waiter whose deadline falls at 0.1 s,
and a task that holds the loop from about 0.05 s to 0.45 s. Then the nova-shaped service on the real
oslo.service, traced: its lanes are ``FixedIntervalLoopingCall(report_state)`` and
``DynamicLoopingCall(periodic_tasks)``, and the heartbeat is ready through the stall.
"""

from __future__ import annotations

import json
import os
import textwrap

import pytest
from support import need_installed, run_child, run_python

from minievent import trace

HOLDER = """
    import json, time
    def spin(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass
    def report(tl, lane):
        spans = [s for s in tl.spans() if s.lane == lane]
        ready = [(round(s.start, 3), round(s.end, 3), s.why) for s in spans if s.state == "ready"]
        late = [round(t.lateness, 3) for t in tl.timers if t.lane == lane]
        print(json.dumps({"lanes": tl.lanes, "ready": ready, "late": late}))
"""

#: How each loop runs the waiter beside the holder, recorded (the holder takes the loop from 0.05 s to 0.45 s).
RUN = {
    "eventlet": """
        import eventlet, minievent
        def holder():
            eventlet.sleep(0.05); spin(0.4)
        with minievent.record(loop="eventlet") as tl:
            a, b = eventlet.spawn(waiter), eventlet.spawn(holder)
            a.wait(); b.wait()
    """,
    "gevent": """
        import gevent, minievent
        def holder():
            gevent.sleep(0.05); spin(0.4)
        with minievent.record(loop="gevent") as tl:
            gevent.joinall([gevent.spawn(waiter), gevent.spawn(holder)])
    """,
    "asyncio": """
        import asyncio, minievent
        async def holder():
            await asyncio.sleep(0.05); spin(0.4)
        async def main():
            await asyncio.gather(asyncio.create_task(waiter()), asyncio.create_task(holder()))
        with minievent.record(loop="asyncio") as tl:
            asyncio.run(main())
    """,
}

#: (loop, how the waiter waits) -> the waiter, whose deadline falls at 0.1 s; its lane is "waiter".
WAITS = {
    **{
        (lib, "Event.wait(timeout)"): f"""
        import {lib}.event
        def waiter():
            {lib}.event.Event().wait(0.1)
    """
        for lib in ("eventlet", "gevent")
    },
    **{
        (lib, "Timeout"): f"""
        import {lib}, {lib}.event
        def waiter():
            with {lib}.Timeout(0.1, False):
                {lib}.event.Event().wait()
    """
        for lib in ("eventlet", "gevent")
    },
    ("eventlet", "a sleep inside a sooner Timeout"): """
        import eventlet
        def waiter():
            with eventlet.Timeout(0.1, False):
                eventlet.sleep(5)
    """,
    ("eventlet", "oslo's EventletEvent.wait(timeout)"): """
        from oslo_utils import eventletutils
        def waiter():
            eventletutils.EventletEvent().wait(0.1)
    """,
    ("asyncio", "wait_for(Event.wait(), timeout)"): """
        import asyncio
        async def waiter():
            try:
                await asyncio.wait_for(asyncio.Event().wait(), 0.1)
            except asyncio.TimeoutError:
                pass
    """,
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("loop", "wait"), list(WAITS), ids=[f"{a}-{b}" for a, b in WAITS])
def test_a_due_timeout_is_ready_from_its_due_time_until_it_runs(loop, wait):
    need_installed(loop)
    if "oslo" in wait:
        need_installed("oslo_utils", "pip install 'oslo.service[threading]', or the test extra")
    parts = (HOLDER, WAITS[loop, wait], RUN[loop])
    program = "".join(textwrap.dedent(part) for part in parts) + "report(tl, 'waiter')\n"
    got = run_child(program)
    assert "waiter" in got["lanes"], got
    # ready from its deadline (0.1 s after it parked, near the start) until the holder let go (~0.45 s)
    long = [(a, b, why) for a, b, why in got["ready"] if b - a > 0.2]
    assert len(long) == 1, got
    start, end, why = long[0]
    assert 0.08 < start < 0.2 and end > 0.4, got
    assert why == "timer due", got
    assert got["late"] and max(got["late"]) > 0.2, got  # and its lateness is recorded


@pytest.mark.timeout(60)
@pytest.mark.parametrize("loop", ["eventlet", "gevent"])
def test_a_timeout_cancelled_before_it_is_due_makes_nothing_ready(loop):
    # The event comes at once: the waiter's deadline never matters, and nothing shows it ready at 0.1 s.
    need_installed(loop)
    lib = "eventlet" if loop == "eventlet" else "gevent"
    program = textwrap.dedent(HOLDER) + textwrap.dedent(f"""
        import {lib}, {lib}.event, minievent
        ev = {lib}.event.Event()
        def waiter():
            ev.wait(0.1)
            {lib}.sleep(10)  # (then idles: woken by kill)
        def holder():
            {lib}.sleep(0.05); spin(0.4)
        with minievent.record(loop="{loop}") as tl:
            a, b = {lib}.spawn(waiter), {lib}.spawn(holder)
            {lib}.sleep(0.01); ev.{"send" if lib == "eventlet" else "set"}()
            b.{"wait" if lib == "eventlet" else "join"}(); a.kill()
        report(tl, 'waiter')
    """)
    got = run_child(program)
    assert not [r for r in got["ready"] if r[1] - r[0] > 0.2], got
    assert all(x >= 0 for x in got["late"]), got


@pytest.mark.timeout(60)
def test_the_eventlet_hub_is_left_as_compact_as_it_was():
    # The capture's hooks are instance attributes of the hub, taken off when it stops. Reading the hub's
    # __dict__ to do it (CPython 3.11) would move its attributes from the compact layout into a dict of
    # their own, which the garbage collector then sees as one referent, and the hub's loop would look
    # each self.x up the slow way for the rest of its life (sleep(0): 25,500 -> 29,500 instructions).
    need_installed("eventlet")
    got = run_child("""
        import gc, json, eventlet, eventlet.hubs, minievent
        hub = eventlet.hubs.get_hub()
        def in_a_dict():
            return any(isinstance(r, dict) and "next_timers" in r for r in gc.get_referents(hub))
        before = in_a_dict()
        with minievent.record(loop="eventlet"):
            eventlet.sleep(0)
        print(json.dumps([before, in_a_dict(), "add_timer" in dir(hub), hub.add_timer.__func__.__name__]))
    """)
    if got[0]:
        pytest.skip("this Python keeps no instance attributes out of a dict")
    assert got == [False, False, True, "add_timer"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("loop", ["eventlet", "gevent"])
def test_the_greenlets_the_tracer_finds_lanes_by_are_let_go_of_with_their_lanes(loop):
    # The tracer finds a switch's lane id from the greenlet itself (its own table, greenlet -> the id the
    # records are keyed by): the lanes over that the flight recorder lets go of leave that table too, or a
    # service that starts greenthreads for ever would keep every one alive there.
    need_installed(loop)
    got = run_child(f"""
        import json, {loop}, minievent
        def body():
            {loop}.sleep(0)
        with minievent.record(loop="{loop}") as tl:
            for _ in range(50):
                g = {loop}.spawn(body)
                g.{"wait" if loop == "eventlet" else "join"}()
        cap, records = tl.capture, tl.records
        before = len(cap.lane_of)
        records.trim(float("inf"))  # (past the window: only the last switch is kept)
        gone = records.finished_lanes(cap.over_among)
        cap.forget(gone)  # (what the flight recorder does, the records' own forget after)
        records.forget(gone)
        print(json.dumps([before, len(gone), len(cap.lane_of), tl.dropped]))
    """)
    before, gone, after, dropped = got
    assert before >= 50 and gone >= 49, got
    assert after == before - gone, got
    assert dropped == 0, got


# ---------------------------------------------------------------- the real oslo.service
def _trace_nova(tmp_path, backend: str) -> tuple[trace.Recording, str]:
    need_installed("oslo_service", "pip install 'oslo.service[threading]', or the test extra")
    need_installed(backend)
    out = tmp_path / "t.json"
    proc = run_python(
        "-W",
        "ignore",
        "-m",
        "minievent",
        "trace",
        "--trace",
        str(out),
        "-m",
        "minievent.scenarios.nova_compute",
        backend,
        "--duration",
        "1.6",
        "--sync-interval",
        "0.5",
        "--sync-seconds",
        "0.8",
        "--report-interval",
        "0.1",
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return trace.load(json.loads(out.read_text())), proc.stderr


@pytest.mark.timeout(120)
def test_oslo_looping_calls_are_named_after_what_they_loop(tmp_path):
    rec, _ = _trace_nova(tmp_path, "eventlet")
    assert "FixedIntervalLoopingCall(report_state)" in rec.lanes, rec.lanes
    assert "DynamicLoopingCall(periodic_tasks)" in rec.lanes, rec.lanes
    assert not [lane for lane in rec.lanes if "loop_func" in lane or "#" in lane], rec.lanes


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", ["eventlet", "gevent", "asyncio"])
def test_the_heartbeat_is_ready_through_the_stall_on_real_code(tmp_path, backend):
    rec, _ = _trace_nova(tmp_path, backend)
    heartbeat = next(lane for lane in rec.lanes if "report_state" in lane)
    held = [s for s in rec.blocked(0.5)]
    assert len(held) == 1, held
    stall = held[0]
    ready = [s for s in rec.spans() if s.lane == heartbeat and s.state == "ready" and s.duration > 0.5]
    assert len(ready) == 1, [s for s in rec.spans() if s.lane == heartbeat]
    r = ready[0]
    # from its due time, inside the stall (a report_interval at most after the stall began), to the stall's end
    assert stall.start - 0.01 <= r.start <= stall.start + 0.15 and abs(r.end - stall.end) < 0.05, (r, stall)
    assert r.why == "timer due", r
    late = [t for t in rec.timers if t.lane == heartbeat and t.lateness > 0.5]
    assert late, rec.timers


@pytest.mark.timeout(120)
def test_trace_names_the_periodic_task_gives_its_stack_and_says_how_late_report_state_ran(tmp_path):
    rec, err = _trace_nova(tmp_path, "eventlet")
    held = [line for line in err.splitlines() if "DynamicLoopingCall(periodic_tasks)" in line and " s  " in line]
    assert len(held) == 1, err
    assert held[0].rsplit("  ", 1)[-1].startswith("ComputeManager._sync_power_states (nova_compute.py:"), err
    # its stack as the watchdog saw it, outermost first: oslo's runner, then the task, then the innermost line
    stack = err.split("its stack while it held", 1)[1].splitlines()[1:10]
    functions = [line.split()[0] for line in stack]
    assert functions.index("PeriodicTasks.run_periodic_tasks") < functions.index("ComputeManager._sync_power_states")
    assert functions.index("ComputeManager._sync_power_states") < functions.index(
        "_query_driver_power_state_and_sync"
    ), stack
    late = [
        line.strip()
        for line in err.splitlines()
        if line.strip().startswith("FixedIntervalLoopingCall(report_state) ran")
    ]
    assert late, err
    by = float(late[0].split(" ran ", 1)[1].split(" s late", 1)[0])
    assert 0.5 < by < 1.2, late  # (the 0.8 s stall, give or take a report_interval)
    # the Chrome trace keeps the culprit: load(...).blocked() says where
    (run,) = rec.blocked(0.5)
    assert run.why is not None and run.why.startswith("ComputeManager._sync_power_states"), run


@pytest.mark.timeout(120)
def test_an_asyncio_culprit_is_the_programs_own_line_and_its_stack_starts_at_the_task(tmp_path):
    _, err = _trace_nova(tmp_path, "asyncio")
    held = [line for line in err.splitlines() if "periodic_tasks" in line and " s  " in line]
    assert len(held) == 1, err
    assert "runpy" not in held[0] and "(nova_compute.py:" in held[0], held  # (was "_run_code (<frozen runpy>:88)")
    first = err.split("its stack while it held", 1)[1].splitlines()[1].split()[0]
    assert first == "periodic_tasks", err  # the loop's own frames, asyncio.run to Handle._run, left out
    assert "report_state ran" in err, err


def test_a_service_installed_in_site_packages_is_the_programs_own_code():
    from minievent.recording.incident import Frame
    from minievent.recording.timeline import culprit

    site = "/usr/lib/python3/site-packages/"
    stack = (
        Frame("GreenThread.main", site + "eventlet/greenthread.py", 272),
        Frame("LoopingCallBase._run_loop", site + "oslo_service/backend/_common/loopingcall.py", 175),
        Frame("ComputeManager._heal", site + "nova/compute/manager.py", 10),
        Frame("Connection.query", site + "pymysql/connections.py", 5),
        Frame("SSLSocket.recv", os.path.join(os.path.dirname(os.__file__), "ssl.py"), 1),
    )
    assert culprit(stack).function == "Connection.query"  # innermost not the stdlib's, the loop's, oslo's
    assert culprit(stack[:3]).function == "ComputeManager._heal"
    runner = Frame("PeriodicTasks.run_periodic_tasks", site + "oslo_service/periodic_task.py", 260)
    assert culprit((*stack[:2], runner, *stack[2:])).function == "ComputeManager._heal"  # the periodic task


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", ["eventlet", "gevent", "asyncio"])
def test_the_flight_incident_sees_the_heartbeat_ready_from_the_capture_and_one_lane_a_task(tmp_path, backend):
    need_installed("oslo_service", "pip install 'oslo.service[threading]', or the test extra")
    need_installed(backend)
    from minievent.scenarios import nova_compute
    from minievent.scenarios.nova_compute import ServiceParams

    p = ServiceParams(report_interval=0.1, service_down_time=0.6, sync_interval=0.6, sync_seconds=1.0, duration=2.2)
    folder = tmp_path / "incidents"
    flight = ["-m", "minievent", "flight", "--dir", str(folder), "--stall", "0.5", "--heartbeat", "report_state"]
    r = nova_compute.run(backend, p, under=flight)
    assert r.returncode == 0, r.stderr[-3000:]
    (inc,) = [folder / d for d in sorted(os.listdir(folder))]
    report = (inc / "report.txt").read_text()
    ready = report.split("READY MEANWHILE", 1)[1].split("LATE", 1)[0]
    # the capture saw the heartbeat's timed wait fall due (not the flight recorder's guess from its period)
    line = next(line for line in ready.splitlines() if "report_state" in line)
    assert "timer due" in line and "period" not in line, report
    # named after the periodic task oslo called (eventlet: the real oslo.service), its stack from the task on
    held = report.split("WHAT HELD THE LOOP:", 1)[1].split("READY MEANWHILE", 1)[0].splitlines()
    task = "ComputeManager._sync_power_states" if backend == "eventlet" else "_query_driver_power_state_and_sync"
    assert held[1].startswith(f"culprit: {task}  (scenarios/nova_compute.py:"), held
    if backend == "asyncio":
        assert held[3].split()[0] == "periodic_tasks", held  # (asyncio.run ... Handle._run left out)
    trace = json.loads((inc / "trace.json").read_text())
    lanes = [e["args"]["name"] for e in trace["traceEvents"] if e.get("name") == "thread_name"]
    assert len(lanes) == len(set(lanes)), lanes
    assert "MainThread" not in lanes and not [lane for lane in lanes if "loop_func" in lane or "#" in lane], lanes
