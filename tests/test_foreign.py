"""Recording eventlet, gevent and asyncio programs (minievent.recording) with the same Timeline as minievent.

Each program runs in a subprocess: eventlet's and gevent's hubs (and any monkey
patching) must not meet the rest of the suite. The program is the lessons'
story in small: a heartbeat every 0.1 s, and a task that holds the loop for
1 s without yielding. The recording must show the heartbeat *ready* (due, not
running) while the task runs, the task as the one that blocked, the
heartbeat's timers late, and a valid Chrome trace.
"""

from __future__ import annotations

import textwrap

import pytest
from support import COMMON, PROGRAMS, check_chrome_trace, child_env, last_json, need_module, run_python

CHECK = """
    import json, sys
    import minievent
    with minievent.record(loop=sys.argv[1]) as tl:
        run()
    spans = tl.spans()
    print(json.dumps({
        "loop": getattr(tl, "loop", "minievent"),
        "lanes": tl.lanes,
        "spans": [[s.lane, s.start, s.end, s.state, s.why] for s in spans],
        "blocked": [[s.lane, s.duration] for s in tl.blocked(0.5)],
        "timers": [[t.lane, t.lateness] for t in tl.timers],
        "trace": tl.to_chrome_trace(),
    }))
"""


def program(loop: str) -> str:
    return textwrap.dedent(COMMON) + textwrap.dedent(PROGRAMS[loop]) + textwrap.dedent(CHECK)


def run_program(loop: str, source: str, *args: str, timeout: float = 90) -> dict:
    return last_json(run_python("-c", source, loop, *args, timeout=timeout, env=child_env(PYTHONWARNINGS="ignore")))


@pytest.mark.parametrize("loop", sorted(PROGRAMS))
def test_heartbeat_is_ready_while_the_task_holds_the_loop(loop: str) -> None:
    out = run_program(loop, program(loop))
    assert out["loop"] == loop
    assert {"hub", "heartbeat", "long_task"} <= set(out["lanes"]), out["lanes"]
    runs = [s for s in out["spans"] if s[0] == "long_task" and s[3] == "running" and s[2] - s[1] > 0.9]
    assert len(runs) == 1, [s for s in out["spans"] if s[0] == "long_task"]
    _, t_start, t_end, _, _ = runs[0]
    # While the task runs, the heartbeat is ready (its timer was due), not running nor waiting.
    hb = [s for s in out["spans"] if s[0] == "heartbeat" and s[1] < t_end and s[2] > t_start]
    ready = sum(min(e, t_end) - max(s, t_start) for _, s, e, state, _ in hb if state == "ready")
    assert ready > 0.8 * (t_end - t_start), hb
    assert not [s for s in hb if s[3] == "running" and min(s[2], t_end) - max(s[1], t_start) > 0.01], hb
    assert any(s[4] == "timer due" for s in hb if s[3] == "ready"), hb
    # Before the task, the heartbeat waited on its sleep, which says so.
    assert any(s[0] == "heartbeat" and s[3] == "waiting" and s[4] == "sleep(0.1)" for s in out["spans"])
    # blocked() names the task, and only it.
    assert [b[0] for b in out["blocked"]] == ["long_task"]
    assert 0.9 < out["blocked"][0][1] < 3.0
    # The heartbeat's timer that fell due during the task fired late by most of a second.
    late = max(lateness for lane, lateness in out["timers"] if lane == "heartbeat")
    assert 0.5 < late < 3.0
    check_chrome_trace(out["trace"], ["heartbeat", "long_task"])


def test_what_each_wait_is_called() -> None:
    # eventlet: an fd wait says its fd and is ready from the poll's end; an Event says Event.wait.
    src = textwrap.dedent("""
        import json, socket, sys
        import eventlet, eventlet.event, eventlet.hubs
        import minievent
        def reader(sock):
            eventlet.hubs.trampoline(sock.fileno(), read=True)
        def waiter(ev):
            ev.wait()
        with minievent.record(loop="eventlet") as tl:
            a, b = socket.socketpair()
            ev = eventlet.event.Event()
            r, w = eventlet.spawn(reader, a), eventlet.spawn(waiter, ev)
            eventlet.sleep(0.05)
            b.send(b"x"); ev.send(1)
            r.wait(); w.wait()
        io = [[r.lane, r.direction, r.lateness] for r in tl.io]
        print(json.dumps({"spans": [[s.lane, s.state, s.why] for s in tl.spans()], "io": io}))
    """)
    out = run_program("eventlet", src)
    spans = out["spans"]
    assert [lane for lane, direction, lateness in out["io"]] == ["reader"] and out["io"][0][1] == "read", out["io"]
    assert 0 <= out["io"][0][2] < 1.0
    reader = [s for s in spans if s[0] == "reader"]
    assert any(s[1] == "waiting" and s[2].startswith("read on fd ") for s in reader), reader
    assert any(s[1] == "ready" and s[2].startswith("fd ") for s in reader), reader
    assert any(s[0] == "waiter" and s[1] == "waiting" and s[2] == "Event.wait" for s in spans), spans
    assert any(s[0] == "waiter" and s[1] == "ready" and s[2] == "event sent" for s in spans), spans


def test_asyncio_loop_already_running_is_recorded_when_passed() -> None:
    src = textwrap.dedent("""
        import asyncio, json
        import minievent
        async def ticker():
            for _ in range(3):
                await asyncio.sleep(0.01)
        async def main():
            with minievent.record(loop=asyncio.get_running_loop()) as tl:
                await asyncio.create_task(ticker())
            return tl
        tl = asyncio.run(main())
        print(json.dumps({"lanes": tl.lanes, "n": len([s for s in tl.spans() if s.lane == "ticker"])}))
    """)
    out = run_program("asyncio", src)
    assert "ticker" in out["lanes"] and out["n"] >= 4, out


def test_asyncio_switches_into_a_task_write_one_lane_id_object() -> None:
    # Memory: a recorded switch keeps its five slots; the lane id is the task's own int, written by every switch
    # into it (an id() taken a step would be a new 32-byte int kept each switch: a third of what one costs).
    src = textwrap.dedent("""
        import asyncio, json
        import minievent
        from minievent.recording.records import SLOTS
        async def yielder():
            for _ in range(200):
                await asyncio.sleep(0)
        async def main():
            await asyncio.gather(yielder(), yielder())
        with minievent.record(loop="asyncio") as tl:
            asyncio.run(main())
        log, _room = tl.records.switch_log()
        by_lane = {}
        for kid in log[1::SLOTS]:
            if tl.capture.names.get(kid) == "yielder":
                by_lane.setdefault(kid, set()).add(id(kid))
        print(json.dumps(sorted(len(objects) for objects in by_lane.values())))
    """)
    objects = run_program("asyncio", src)
    assert objects == [1, 1], objects  # two yielders (lanes): every switch into each writes its one int object


def test_the_recorded_asyncio_ready_queue_holds_handles_as_the_loops_own_does() -> None:
    # While recording, the loop's ready queue keeps since when and why beside each handle (one triple an
    # entry); what the program can see of it (iterating, indexing, the deque left after) is handles.
    src = textwrap.dedent("""
        import asyncio, json
        import minievent
        def cb():
            pass
        async def main():
            loop = asyncio.get_running_loop()
            loop.call_soon(cb)
            loop.call_soon(cb)
            seen = [type(h).__name__ for h in loop._ready] + [type(loop._ready[-1]).__name__]
            await asyncio.sleep(0)
            return seen, loop
        with minievent.record(loop="asyncio") as tl:
            seen, loop = asyncio.run(main())
        print(json.dumps({"seen": seen, "after": type(loop._ready).__name__, "cb": "cb" in tl.lanes}))
    """)
    out = run_program("asyncio", src)
    assert out == {"seen": ["Handle", "Handle", "Handle"], "after": "deque", "cb": True}, out


def test_the_asyncio_capture_lets_go_of_many_tasks_running_no_python_line_a_lane() -> None:
    # The capture finds a task's lane by the task itself (an exact asyncio.Task: no int made a step) or by its
    # id (any other task). The watchdog's thread lets go of the lanes over, both kinds, while the loop runs on:
    # in C (a Python line a lane would hand the GIL to the busy loop every 5 ms: see test_records).
    import asyncio
    import sys

    from minievent.recording.asyncio import AsyncioCapture
    from minievent.recording.records import Records

    hashed = []

    class MyTask(asyncio.Task):  # (asyncio itself hashes its tasks: they are counted only while letting go)
        def __hash__(self) -> int:
            hashed.append(self)
            return id(self) // 16

    async def nothing() -> None:
        pass

    loop = asyncio.new_event_loop()
    try:
        # (the subclass's first: popped from a table still holding the others, a key would be hashed)
        tasks = [MyTask(nothing(), loop=loop) for _ in range(3000)]
        tasks += [loop.create_task(nothing()) for _ in range(3000)]
        loop.run_until_complete(asyncio.gather(*tasks))
    finally:
        loop.close()
    records, capture = Records(cap=100_000), AsyncioCapture()
    records.begin()
    capture.records, capture._lanes = records, records.lane_ids()
    for task in tasks:
        capture._task_lanes[capture._task_key(task)] = records.lane(task)
    assert len(capture._task_lanes) == len(tasks)
    lines = []

    def count(frame, event, arg):
        lines.append(event)
        return count

    gone = records.finished_lanes(capture.over_among)
    hashed.clear()
    sys.settrace(count)
    try:
        capture.forget(gone)
        records.forget(gone)
    finally:
        sys.settrace(None)
    assert len(gone) == len(tasks)
    assert capture._task_lanes == {}
    assert not hashed, "the capture ran the program's own __hash__"
    assert len(lines) < 300, len(lines)


def test_an_asyncio_loops_selector_is_left_as_compact_as_it_was() -> None:
    # The capture times the loop's waits through an instance attribute of its selector, taken off when the
    # loop stops. Reading the selector's __dict__ to do it (CPython 3.11) would move its attributes from the
    # compact layout into a dict of their own, which the garbage collector then sees as one referent, and
    # each self.x of the selector would be looked up the slow way while the loop lives on.
    src = textwrap.dedent("""
        import asyncio, gc, json
        import minievent
        loop = asyncio.new_event_loop()
        sel = loop._selector
        def in_a_dict():
            return any(isinstance(r, dict) and "_fd_to_key" in r for r in gc.get_referents(sel))
        before = in_a_dict()
        with minievent.record(loop="asyncio"):
            loop.run_until_complete(asyncio.sleep(0))
        print(json.dumps([before, in_a_dict(), sel.select.__func__ is type(sel).select]))
        loop.close()
    """)
    out = run_program("asyncio", src)
    if out[0]:
        pytest.skip("this Python keeps no instance attributes out of a dict")
    assert out == [False, False, True]


def test_bad_loop_name_is_a_value_error() -> None:
    import minievent

    with pytest.raises(ValueError, match="loop must be one of"):
        with minievent.record(loop="twisted"):
            pass


def test_socket_and_event_waits_on_gevent_and_asyncio() -> None:
    # gevent: a socket wait is ready from the end of the poll that reported it (prepare/check watchers).
    src = textwrap.dedent("""
        import json
        import gevent, gevent.event, gevent.socket
        import minievent
        def reader(sock):
            sock.recv(1)
        with minievent.record(loop="gevent") as tl:
            a, b = gevent.socket.socketpair()
            r = gevent.spawn(reader, a)
            gevent.sleep(0.05)
            b.send(b"x")
            r.join()
        print(json.dumps([[s.lane, s.state, s.why] for s in tl.spans()]))
    """)
    reader = [s for s in run_program("gevent", src) if s[0] == "reader"]
    assert ["reader", "waiting", "recv on a socket"] in reader, reader
    assert ["reader", "ready", "I/O ready"] in reader, reader
    # asyncio: a stream read and an Event wait, by the innermost coroutine awaited.
    src = textwrap.dedent("""
        import asyncio, json, socket
        import minievent
        async def reader(r):
            await r.read(1)
        async def waiter(ev):
            await ev.wait()
        async def main():
            a, b = socket.socketpair()
            r, _ = await asyncio.open_connection(sock=a)
            ev = asyncio.Event()
            t1 = asyncio.create_task(reader(r), name="reader")
            t2 = asyncio.create_task(waiter(ev), name="waiter")
            await asyncio.sleep(0.05)
            b.send(b"x"); ev.set()
            await asyncio.gather(t1, t2)
        with minievent.record(loop="asyncio") as tl:
            asyncio.run(main())
        print(json.dumps([[s.lane, s.state, s.why] for s in tl.spans()]))
    """)
    spans = run_program("asyncio", src)
    assert ["reader", "waiting", "StreamReader._wait_for_data"] in spans, spans
    assert ["reader", "ready", "I/O ready"] in spans, spans
    assert ["waiter", "waiting", "Event.wait"] in spans and ["waiter", "ready", "woken"] in spans, spans


def test_record_detects_a_monkey_patched_program() -> None:
    for loop in ("eventlet", "gevent"):
        src = textwrap.dedent(f"""
            import minievent
            import {loop}
            {loop}.monkey_patch() if "{loop}" == "eventlet" else __import__("gevent.monkey").monkey.patch_all()
            with minievent.record() as tl:
                {loop}.sleep(0.01)
            print(tl.loop, len(tl.switches) >= 2)
        """)
        proc = run_python("-c", src, timeout=90, env=child_env(PYTHONWARNINGS="ignore"))
        assert proc.stdout.split() == [loop, "True"], proc.stderr[-2000:]


def test_a_loop_not_built_on_base_event_loop_is_refused() -> None:
    import minievent

    uvloop = need_module("uvloop")
    loop = uvloop.new_event_loop()
    try:
        with pytest.raises(TypeError, match="BaseEventLoop"):
            with minievent.record(loop=loop):
                pass
    finally:
        loop.close()


def test_a_timer_due_when_the_recording_ends_shows_ready_to_the_end() -> None:
    # The operator's case: stopped (or Ctrl-C) while one greenthread still holds the loop.
    src = textwrap.dedent(COMMON) + textwrap.dedent("""
        import json
        import eventlet
        import minievent
        with minievent.record(loop="eventlet") as tl:
            eventlet.spawn(heartbeat, eventlet.sleep)
            eventlet.sleep(0)    # the heartbeat starts, and sleeps 0.1 s
            spin(0.6)            # main holds the loop: the heartbeat's timer falls due, nobody runs it
        print(json.dumps([[s.lane, s.start, s.end, s.state, s.why] for s in tl.spans() if s.lane == "heartbeat"]))
    """)
    hb = run_program("eventlet", src)
    last = hb[-1]
    assert last[3] == "ready" and last[4] == "timer due" and last[2] - last[1] > 0.4, hb
    assert hb[-2][3] == "waiting" and hb[-2][4] == "sleep(0.1)", hb
