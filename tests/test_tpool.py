"""tpool: blocking calls in real threads while the hub goes on."""

from __future__ import annotations

import os
import threading
import time

import pytest

import minievent
from minievent import tpool

pytestmark = pytest.mark.usefixtures("poller", "stop_tpool")


def test_heartbeat_stays_on_time_while_a_blocking_call_runs():
    beats = []

    def heartbeat():
        for _ in range(40):
            beats.append(time.monotonic())
            minievent.sleep(0.01)

    hb = minievent.spawn(heartbeat)
    minievent.sleep(0)
    t0 = time.monotonic()
    assert tpool.execute(time.sleep, 0.5) is None  # the real, blocking time.sleep
    took = time.monotonic() - t0
    hb.wait()
    gaps = [b - a for a, b in zip(beats, beats[1:], strict=False)]
    assert took >= 0.5
    # Run inline, the 0.5 s sleep would leave one 0.5 s hole in the beats.
    assert max(gaps) < 0.2, max(gaps)


def test_results_exceptions_and_the_calling_thread():
    assert tpool.execute(lambda a, b=0: a + b, 2, b=3) == 5
    assert tpool.execute(threading.get_ident) != threading.get_ident()
    with pytest.raises(ZeroDivisionError):
        tpool.execute(lambda: 1 / 0)


def test_many_greenthreads_at_once_share_the_pool():
    tpool.set_num_threads(4)
    try:
        running, peak = [0], [0]
        lock = threading.Lock()

        def job(i):
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.02)
            with lock:
                running[0] -= 1
            return i * i

        pool = minievent.GreenPool(50)
        assert list(pool.imap(lambda i: tpool.execute(job, i), range(50))) == [i * i for i in range(50)]
        assert peak[0] == 4  # all four threads busy, never more
    finally:
        tpool.killall()
        tpool.set_num_threads(20)


def test_main_greenlet_can_wait_with_nothing_else_to_do():
    # No timers, no fds, nothing ready: only keepalive stops a LoopExit.
    hub = minievent.get_hub()
    assert tpool.execute(time.sleep, 0.05) is None
    assert hub.keepalive == 0


def test_killed_caller_drops_the_result_and_releases_keepalive():
    hub = minievent.get_hub()
    gt = minievent.spawn(tpool.execute, time.sleep, 0.1)
    minievent.sleep(0)
    assert hub.keepalive == 1
    gt.kill()
    minievent.sleep(0.3)
    assert hub.keepalive == 0


def test_killall_stops_the_threads():
    tpool.execute(int)
    names = {t.name for t in threading.enumerate()}
    assert any(n.startswith("minievent.tpool-") for n in names)
    tpool.killall()
    assert not any(t.name.startswith("minievent.tpool-") for t in threading.enumerate())
    assert tpool.execute(int, "7") == 7  # starts again on demand


def test_a_heartbeat_stays_on_time_while_the_first_execute_starts_the_pool(monkeypatch):
    # Thread.start() waits until the new OS thread runs. Done by the hub's thread for each of the pool's
    # workers, those waits stopped every greenthread at the first execute() (the first DNS lookup): a few
    # milliseconds on a quiet machine, far more on a loaded one. Here each new thread takes 50 ms to get
    # going, as on a loaded machine: started from the hub, the 20 workers would stall it a whole second.
    real_start = threading._start_new_thread

    def slow_start(function, args):
        return real_start(lambda: (time.sleep(0.05), function(*args)), ())

    tpool.killall()
    monkeypatch.setattr(threading, "_start_new_thread", slow_start)
    beats, stop = [], []

    def heartbeat():
        while not stop:
            beats.append(time.monotonic())
            minievent.sleep(0.005)

    hb = minievent.spawn(heartbeat)
    minievent.sleep(0.02)
    assert tpool.execute(lambda: 42) == 42
    while sum(t.name.startswith("minievent.tpool-") for t in threading.enumerate()) < 20:  # (about a second)
        minievent.sleep(0.01)
    stop.append(True)
    hb.wait()
    gaps = [b - a for a, b in zip(beats, beats[1:], strict=False)]
    assert len(beats) > 50 and max(gaps) < 0.25, f"the heartbeat stalled {max(gaps):.3f} s while the pool started"


def _refuse(function, args):
    raise RuntimeError("can't start new thread")  # (as _thread says when it cannot)


@pytest.mark.parametrize("where", ["the thread that starts the workers", "each worker"])
def test_when_threads_cannot_start_the_caller_gets_the_error(where, monkeypatch):
    tpool.killall()
    if where == "each worker":  # Thread.start() fails in the thread that starts them
        monkeypatch.setattr(threading, "_start_new_thread", _refuse)
    else:
        monkeypatch.setattr(tpool, "start_new_thread", _refuse)
    hub = minievent.get_hub()
    with minievent.Timeout(10), pytest.raises(RuntimeError, match="can't start new thread"):
        tpool.execute(int, "7")
    assert hub.keepalive == 0 and tpool.os_threads() == 0
    monkeypatch.undo()
    assert tpool.execute(int, "7") == 7  # and the next call starts the pool


def test_a_forked_child_starts_a_pool_of_its_own():
    assert tpool.execute(int, "1") == 1  # the parent's pool runs: its threads are not the child's
    pid = os.fork()
    if pid == 0:  # the child
        try:
            with minievent.Timeout(10):
                os._exit(0 if tpool.execute(int, "2") == 2 else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0  # 2: execute() waited for threads the child does not have
