"""Greenthreads: spawn, wait, kill, link, names, FIFO order, exceptions."""

from __future__ import annotations

import time

import pytest
from support import pending_timers

import minievent
from minievent import GreenletExit

pytestmark = pytest.mark.usefixtures("poller")


def test_spawn_wait_returns_result():
    gt = minievent.spawn(lambda a, b=0: a + b, 1, b=2)
    assert isinstance(gt, minievent.GreenThread)
    assert gt.wait() == 3
    assert gt.dead and not gt


def test_spawned_greenthread_runs_only_when_the_spawner_yields():
    ran = []
    minievent.spawn(ran.append, 1)
    assert ran == []
    minievent.sleep(0)
    assert ran == [1]


def test_ready_greenthreads_run_in_fifo_order():
    order = []
    for i in range(20):
        minievent.spawn(order.append, i)
    minievent.sleep(0)
    assert order == list(range(20))


def test_sleep_zero_round_robin():
    order = []

    def worker(tag):
        for i in range(3):
            order.append((tag, i))
            minievent.sleep(0)

    gts = [minievent.spawn(worker, t) for t in "abc"]
    for gt in gts:
        gt.wait()
    assert order == [(t, i) for i in range(3) for t in "abc"]


def test_sleep_negative_is_sleep_zero():
    order = []
    minievent.spawn(order.append, "other")
    t = time.monotonic()
    minievent.sleep(-1)
    assert order == ["other"]
    assert time.monotonic() - t < 0.5


def test_sleep_duration():
    t = time.monotonic()
    minievent.sleep(0.05)
    assert 0.049 <= time.monotonic() - t < 0.5


def test_wait_reraises_and_traceback_printed_once(capsys):
    def boom():
        raise ValueError("bad")

    gt = minievent.spawn(boom)
    with pytest.raises(ValueError, match="bad"):
        gt.wait()
    with pytest.raises(ValueError):
        gt.wait()  # every wait re-raises
    err = capsys.readouterr().err
    assert err.count("ValueError: bad") == 1
    assert "boom" in err  # the greenthread's name


def test_exception_does_not_stop_others():
    minievent.spawn(lambda: 1 / 0)
    ok = minievent.spawn(lambda: minievent.sleep(0.01) or "fine")
    assert ok.wait() == "fine"


def test_name_defaults_and_can_be_set():
    def report_state():
        return minievent.getcurrent().name

    gt = minievent.spawn(report_state)
    assert gt.name == "report_state"
    gt2 = minievent.spawn(report_state)
    gt2.name = "heartbeat"
    assert gt.wait() == "report_state"
    assert gt2.wait() == "heartbeat"
    assert "heartbeat" in repr(gt2)


def test_getcurrent_inside_is_the_greenthread():
    gt = minievent.spawn(minievent.getcurrent)
    assert gt.wait() is gt


def test_kill_sleeping_greenthread_removes_its_timer(hub):
    gt = minievent.spawn(minievent.sleep, 100)
    minievent.sleep(0)
    assert pending_timers(hub)
    gt.kill()
    with pytest.raises(GreenletExit):
        gt.wait()
    assert pending_timers(hub) == []


def test_kill_unstarted_greenthread_never_runs_it():
    ran = []
    gt = minievent.spawn(ran.append, 1)
    gt.kill()
    with pytest.raises(GreenletExit):
        gt.wait()
    minievent.sleep(0.01)
    assert ran == []


def test_kill_with_custom_exception():
    gt = minievent.spawn(minievent.sleep, 100)
    minievent.sleep(0)
    minievent.kill(gt, ValueError("stop"))
    with pytest.raises(ValueError, match="stop"):
        gt.wait()
    gt2 = minievent.spawn(minievent.sleep, 100)
    minievent.sleep(0)
    gt2.kill(KeyError, "k")
    with pytest.raises(KeyError):
        gt2.wait()


def test_kill_waiting_greenthread_removes_it_from_the_event():
    ev = minievent.Event()
    gt = minievent.spawn(ev.wait)
    minievent.sleep(0)
    assert ev.statistics().waiting == 1
    gt.kill()
    assert ev.statistics().waiting == 0
    with pytest.raises(GreenletExit):
        gt.wait()


def test_kill_dead_greenthread_is_a_no_op():
    gt = minievent.spawn(lambda: 5)
    assert gt.wait() == 5
    gt.kill()
    assert gt.wait() == 5


def test_kill_runs_finally_blocks():
    cleaned = []

    def worker():
        try:
            minievent.sleep(100)
        finally:
            cleaned.append(True)

    gt = minievent.spawn(worker)
    minievent.sleep(0)
    gt.kill()
    assert cleaned == [True]


def test_kill_self_raises_at_once():
    def worker():
        minievent.kill(minievent.getcurrent())
        return "not reached"

    with pytest.raises(GreenletExit):
        minievent.spawn(worker).wait()


def test_kill_bad_argument():
    with pytest.raises(TypeError):
        minievent.kill("not a greenthread")


def test_link_called_with_greenthread_and_args():
    got = []
    gt = minievent.spawn(lambda: 7)
    gt.link(lambda g, x: got.append((g.wait(), x)), "extra")
    gt.wait()
    assert got == [(7, "extra")]
    gt.link(lambda g: got.append("late"))  # linking a dead one calls at once
    assert got[-1] == "late"


def test_link_called_on_kill_and_on_error():
    got = []
    a = minievent.spawn(minievent.sleep, 10)
    a.link(lambda g: got.append("a"))
    b = minievent.spawn(lambda: 1 / 0)
    b.link(lambda g: got.append("b"))
    minievent.sleep(0)
    a.kill()
    minievent.sleep(0)
    assert sorted(got) == ["a", "b"]


def test_link_callback_error_is_reported_not_fatal(capsys):
    gt = minievent.spawn(lambda: 1)
    gt.link(lambda g: 1 / 0)
    assert gt.wait() == 1
    assert "ZeroDivisionError" in capsys.readouterr().err


def test_unlink():
    got = []

    def cb(g):
        got.append(1)

    gt = minievent.spawn(lambda: 1)
    gt.link(cb)
    assert gt.unlink(cb)
    gt.wait()
    assert got == []


def test_spawn_after():
    t0 = time.monotonic()
    gt = minievent.spawn_after(0.05, time.monotonic)
    started = gt.wait()
    assert started - t0 >= 0.049


def test_spawn_after_kill_cancels(hub):
    ran = []
    gt = minievent.spawn_after(10, ran.append, 1)
    gt.kill()
    with pytest.raises(GreenletExit):
        gt.wait()
    assert ran == [] and pending_timers(hub) == []


def test_spawn_n_returns_the_greenthread_as_eventlets_does():
    ran = []
    assert isinstance(minievent.spawn_n(ran.append, 1), minievent.GreenThread)
    minievent.sleep(0)
    assert ran == [1]


@pytest.mark.parametrize("bad", [42, None, "f"])
def test_spawn_not_callable_is_type_error(bad):
    with pytest.raises(TypeError):
        minievent.spawn(bad)
    with pytest.raises(TypeError):
        minievent.spawn_after(0, bad)


def test_wait_for_self_is_an_error():
    def worker():
        return minievent.getcurrent().wait()

    with pytest.raises(RuntimeError, match="itself"):
        minievent.spawn(worker).wait()


def test_worker_greenlets_are_reused_but_greenthreads_stay_distinct(hub):
    def who():
        import greenlet

        return greenlet.getcurrent()

    first = minievent.spawn(who).wait()
    second = minievent.spawn(who).wait()
    assert first is second  # the same worker greenlet served both


def test_stale_kill_never_hits_the_next_greenthread_on_the_worker():
    # a finishes and its worker is reused by b; a's kill must not reach b.
    a = minievent.spawn(lambda: None)
    minievent.sleep(0)
    b = minievent.spawn(minievent.sleep, 0.02)
    minievent.sleep(0)
    a.throw_later(RuntimeError("stale"))
    minievent.sleep(0)
    assert b.wait() is None


def test_many_greenthreads():
    results = [minievent.spawn(lambda i=i: i * i) for i in range(5000)]
    assert sum(g.wait() for g in results) == sum(i * i for i in range(5000))
