"""The raw records: what a capture writes, trim() and window() keep, and every reader gives back the same facts.

Each switch's readiness (since when the lane entered was ready, and why) lives beside its time, lane and
why-left; cutting the front off (trim) or copying a part (window) must keep each readiness with its own switch.
"""

from __future__ import annotations

import sys

from minievent.recording.records import HUB_ID, SLOTS, Capture, Records


def _written(n: int = 40) -> tuple[Records, list[object], list[tuple]]:
    """n switches at t = 1, 2, ...: the even ones into a lane ready since t - 0.5 ("woken"), the odd ones
    into the hub; a cap of the records' own kind (filled the way a capture's hot path adds them)."""
    records = Records(cap=1000)
    records.begin()
    keys = [object() for _ in range(4)]
    kids = [records.lane(k) for k in keys]
    rows = []
    log, room = records.switch_log()
    for i in range(n):
        t = float(i + 1)
        if i % 2 == 0:
            row = (t, kids[i % 4 // 2], ("sleep", i), t - 0.5, "woken")
        else:
            row = (t, HUB_ID, None, None, None)
        if i % 4 == 0:  # (half of them through the call, half as a capture's inline extend)
            records.switch(*row)
        else:
            assert len(log) < room
            log.extend(row)
        rows.append(row)
    return records, keys, rows


def _facts(records: Records) -> list[tuple]:
    keys = records.lane_ids()
    return [(t, id(keys[id(key)]), why, since, cause) for _n, t, key, why, since, cause in records.switches()]


def test_every_reader_gives_each_switch_its_own_readiness():
    records, _keys, rows = _written()
    assert _facts(records) == rows
    times, kids, ready = records.columns(3, 9)
    assert times == [r[0] for r in rows[3:9]]
    assert kids == [r[1] for r in rows[3:9]]
    assert ready == [None if r[4] is None else (r[3], r[4]) for r in rows[3:9]]
    assert records.latest() == (40, 40.0, HUB_ID)
    assert records.switch_after(10.0) == 11.0


def test_trim_and_window_keep_each_readiness_with_its_switch():
    records, _keys, rows = _written()
    window = records.window(10.2, 30.0)
    assert _facts(window) == rows[9:]  # (from the switch before 10.2: who ran then)
    assert window.t0 == 10.0 and window.t1 == 30.0
    went = records.trim(20.5)
    assert went == 19  # (the switch at 20 stays: who ran at the horizon)
    assert _facts(records) == rows[19:]
    assert records.columns(0, 2)[2] == [None, (20.5, "woken")]
    assert records.t0 == 20.0 and records.trimmed


def test_a_since_without_a_cause_is_not_kept_and_the_cap_counts_the_rest():
    records = Records(cap=2)
    records.begin()
    records.switch(1.0, HUB_ID, None, 0.5, None)
    records.switch(2.0, HUB_ID, None, 1.5, "woken")
    records.switch(3.0, HUB_ID, None, 2.5, "woken")
    assert [r[4:] for r in records.switches()] == [(None, None), (1.5, "woken")]
    assert records.dropped == 1 and not records.room()
    log, room = records.switch_log()
    assert room == len(log) == 2 * SLOTS


def test_a_lane_that_starts_and_ends_while_the_watchdog_looks_is_not_let_go_of():
    """The watchdog asks ``finished_lanes`` while the loop's thread runs on: a greenthread may be filed,
    switched into and end between the watchdog's two looks (the lanes over, the switches kept). Let go
    of, its switch in the log named no lane: every reader after failed (KeyError), and the flight
    recorder stood down in a busy eventlet service. Here the loop's thread runs when the switches are read."""

    class Greenlet:
        dead = False

    records = Records(cap=1000)
    records.begin()
    old = Greenlet()
    records.switch(1.0, records.lane(old), None, None, None)
    old.dead = True
    late = Greenlet()

    class LoopRunsMeanwhile(list):
        """The switch log, whose reading lets the loop's thread run once: ``late`` starts, runs, ends."""

        def __getitem__(self, i):
            got = super().__getitem__(i)
            if late.dead is False and isinstance(i, slice):
                self.extend((2.0, records.lane(late), None, None, None))
                late.dead = True
            return got

    records._sw = LoopRunsMeanwhile(records._sw)
    gone = records.finished_lanes(Capture().over_among)
    assert late.dead, "the loop's thread ran while the lanes were looked at"
    records.forget(gone)
    assert records.entered()[-2:] == [old, late]  # (a lane let go of: KeyError)


def test_a_trimmed_hub_log_keeps_its_latest_records_at_the_cap():
    """The flight recorder's watchdog trims minievent's raw log by age (``window`` seconds) while the hub
    writes it; the hooks refuse what is beyond the cap. A loop busy enough to fill the cap within the
    window (2,000,000 records: ~2 s of sleep(0)) was recorded no further -- its latest seconds, a stall's,
    missing from the window -- until the first records aged out, and every switch meanwhile paid a refusal.
    Near the cap, trim() lets the oldest go: the hub's latest switches are in the window."""
    import minievent
    from minievent.recording.minievent import HubCapture
    from minievent.recording.timeline import Timeline

    cap = 800
    tl = Timeline(cap, HubCapture()).start()
    raw = tl.capture.recorder._raw
    last: list[float] = []  # when each spinner yields for the last time

    def spin():
        for i in range(3000):
            if i == 2999:
                last.append(minievent.hub.clock())
            minievent.sleep(0)
            if i % 50 == 0:  # (the watchdog's looks, a trim each: nothing is older than the window here)
                tl.capture.trim(-1.0)
                assert len(raw) // 3 <= cap

    a, b = minievent.spawn(spin), minievent.spawn(spin)
    a.wait()
    b.wait()
    end = minievent.hub.clock()
    kept = tl.capture.window(-1.0, end)
    times = [t for _n, t, *_rest in kept.switches()]
    tl.stop()
    assert tl.records.trimmed
    assert times[-1] >= max(last), "the latest switches are kept"
    assert tl.records.dropped < 6000 // 4, tl.records.dropped


def test_letting_go_of_many_lanes_runs_no_python_line_a_lane():
    """The watchdog lets go of the lanes over while the loop's thread runs on. Python code a lane hands the
    GIL to that busy thread every 5 ms and waits as long to get it back: before, a gevent churn's lanes
    were let go of 10-20 times slower than the work took, the recorder fell behind the churn and the
    service's memory grew (55 MB in 4 s). The work a lane is in C, a few Python lines a chunk of lanes."""

    class Greenlet:
        dead = True

    class Odd:
        dead = 1  # (not ``True``: a lane is over only when ``dead is True``)

    records, capture = Records(cap=100_000), Capture()
    records.begin()
    keys = [Greenlet() for _ in range(20_000)]
    for key in keys:
        capture.names[records.lane(key)] = "request"
    for key in keys[-100:]:  # the window still shows these
        records.switch(1.0, id(key), None, None, None)
    alive, odd = Greenlet(), Odd()
    alive.dead = False
    records.lane(alive), records.lane(odd)
    lines = []

    def count(frame, event, arg):
        lines.append(event)
        return count

    sys.settrace(count)
    try:
        gone = records.finished_lanes(capture.over_among)
        capture.forget(gone)
        records.forget(gone)
    finally:
        sys.settrace(None)
    assert sorted(gone) == sorted(id(key) for key in keys[:-100])
    assert set(records.lane_ids()) == {HUB_ID, *(id(key) for key in keys[-100:]), id(alive), id(odd)}
    assert len(capture.names) == 100
    assert len(lines) < 300, len(lines)  # (before: a line or three a lane, over 60,000)
