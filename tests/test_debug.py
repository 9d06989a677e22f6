"""Blocking detection: a watchdog thread reports a greenthread that holds the hub, while it does."""

from __future__ import annotations

import logging
import sys
import threading
import time

import greenlet
import pytest
from support import spin

import minievent
from minievent import debug
from minievent.recording import watchdog


def test_reports_a_greenthread_while_it_still_runs():
    reports = []
    finished_at = []

    def on_block(report):
        reports.append((time.monotonic(), report))

    def culprit():
        spin(0.4)
        finished_at.append(time.monotonic())
        return "finished"

    with debug.blocking_detection(threshold=0.05, on_block=on_block):
        assert minievent.spawn(culprit).wait() == "finished", "user code must not see an exception"
    assert len(reports) == 1, "one report per stuck run"
    when, report = reports[0]
    assert when < finished_at[0] - 0.1, "reported while it was still stuck, not afterwards"
    assert report.name == "culprit"
    assert 0.05 < report.duration < 0.4
    # The innermost frame is the culprit's loop, not the watchdog or the hub.
    innermost = report.stack.strip().splitlines()[-2:]
    assert "in spin" in innermost[0]
    assert innermost[1].strip() in ("while time.monotonic() < end:", "pass")
    assert "culprit" in str(report) and "without yielding" in str(report)


def test_a_blocking_call_is_caught_too():
    reports = []

    def sleeps_for_real():
        time.sleep(0.3)  # the real one: blocks the OS thread, releases the GIL

    with debug.blocking_detection(0.05, reports.append):
        minievent.spawn(sleeps_for_real).wait()
    assert [r.name for r in reports] == ["sleeps_for_real"]
    assert "time.sleep(0.3)" in reports[0].stack


def test_polite_greenthreads_and_an_idle_hub_are_not_reported():
    reports = []

    def polite():
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            sum(range(50))
            minievent.sleep(0)

    with debug.blocking_detection(0.05, reports.append):
        gts = [minievent.spawn(polite) for _ in range(2)]
        for gt in gts:
            gt.wait()
        minievent.sleep(0.2)  # the hub sits in epoll_wait: nobody is blocked
    assert reports == []


def test_default_report_is_a_logging_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="minievent.debug"):
        with debug.blocking_detection(0.05):
            minievent.spawn(spin, 0.25).wait()
    (rec,) = [r for r in caplog.records if r.name == "minievent.debug"]
    assert rec.levelno == logging.WARNING
    assert "spin" in rec.getMessage() and "in spin" in rec.getMessage().split("now:")[1]


def test_a_failing_callback_reaches_neither_the_user_code_nor_the_watchdog(caplog):
    calls = []

    def bad(report):
        calls.append(report)
        raise RuntimeError("callback bug")

    with caplog.at_level(logging.ERROR, logger="minievent.debug"):
        with debug.blocking_detection(0.05, bad) as det:
            assert minievent.spawn(spin, 0.25).wait() is None
            assert minievent.spawn(spin, 0.25).wait() is None
    assert len(calls) == 2, "the watchdog survived the first failure"
    assert len(det.reports) == 2
    assert any("on_block callback raised" in r.getMessage() for r in caplog.records)


def test_enable_disable_restore_the_tracer_and_stop_the_watchdog():
    def mine(event, args):
        pass

    old = greenlet.settrace(mine)
    before = (threading.active_count(), [t.ident for t in threading.enumerate()])
    try:
        det = debug.blocking_detection(0.05).enable()
        dog = watchdog.running()
        deadline = time.monotonic() + 2
        while dog not in sys._current_frames() and time.monotonic() < deadline:
            time.sleep(0.01)  # (a thread just started may not have run yet)
        assert dog is not None and dog in sys._current_frames(), "the watchdog is a running OS thread"
        assert (threading.active_count(), [t.ident for t in threading.enumerate()]) == before, (
            "the program cannot see the watchdog thread"
        )
        with pytest.raises(RuntimeError):
            det.enable()
        det.disable()
        det.disable()  # twice is fine
        assert greenlet.gettrace() is mine
        assert watchdog.running() is None
        deadline = time.monotonic() + 2
        while dog in sys._current_frames() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert dog not in sys._current_frames(), "the watchdog thread ended"
    finally:
        greenlet.settrace(old)


def test_works_together_with_the_recorder():
    reports = []
    with minievent.record() as tl, debug.blocking_detection(0.05, reports.append):
        minievent.spawn(spin, 0.2).wait()
    assert [r.name for r in reports] == ["spin"]
    assert [s.lane for s in tl.blocked(0.15)] == ["spin"]


def watchdogs() -> int:
    """How many detectors the watchdog serves (one thread serves them all, and the program cannot see it)."""
    return len(watchdog.watches())


def test_eventlet_style_switch(caplog):
    with caplog.at_level(logging.WARNING, logger="minievent.debug"):
        debug.hub_blocking_detection(True, 0.05)
        try:
            debug.hub_blocking_detection(True, 0.05)  # switched on twice: still one watchdog
            assert watchdogs() == 1
            minievent.spawn(spin, 0.25).wait()
        finally:
            debug.hub_blocking_detection(False)
        assert watchdogs() == 0
        minievent.spawn(spin, 0.25).wait()  # switched off: nobody reports it
    reports = [r.getMessage() for r in caplog.records if r.name == "minievent.debug"]
    assert len(reports) == 1 and "in spin" in reports[0], reports


def test_threshold_must_be_positive():
    with pytest.raises(ValueError):
        debug.blocking_detection(0)
