"""OS threads: one hub per thread, several at once; tpool from several threads; cross-thread misuse.

Every thread is joined with a deadline, and every test checks that its
threads really ended, so a hang shows up as a failure, not as a stuck run.
"""

from __future__ import annotations

import threading

import pytest
from support import assert_hub_clean, collect, open_fds

import minievent
from minievent import hub as hubmod
from minievent import tpool
from minievent.greenio import socketpair

pytestmark = pytest.mark.usefixtures("poller")

JOIN = 30  # seconds: far more than any thread here needs


def _run_threads(targets):
    """Start one thread per target, join them all; return {index: result or exception}."""
    results = {}

    def wrap(i, fn):
        try:
            results[i] = fn()
        except BaseException as e:  # noqa: B036 -- reported to the test below
            results[i] = e

    threads = [threading.Thread(target=wrap, args=(i, fn), name=f"hub-thread-{i}") for i, fn in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    return results


def _workload(tag):
    """A bit of everything, in this thread's own hub: spawns, sleeps, a queue, an event, a timeout, a socket."""
    hub = minievent.get_hub()
    assert hub.thread_id == threading.get_ident()
    q = minievent.Queue(5)
    ev = minievent.Event()
    n = 200

    def producer():
        for i in range(n):
            q.put((tag, i))
            if i % 17 == 0:
                minievent.sleep(0.0005)
        ev.send("done")

    def consumer(out):
        while True:
            try:
                out.append(q.get(timeout=0.2))
            except minievent.Empty:
                return

    out = []
    consumers = [minievent.spawn(consumer, out) for _ in range(3)]
    minievent.spawn(producer)
    assert ev.wait(timeout=10) == "done"
    for c in consumers:
        c.wait()
    with pytest.raises(minievent.Timeout):
        with minievent.Timeout(0.01):
            minievent.sleep(1)
    a, b = socketpair()
    try:
        echo = minievent.spawn(lambda: b.sendall(b.recv(100) * 2))
        a.sendall(tag.encode())
        echo.wait()
        got = a.recv(100)
    finally:
        a.close()
        b.close()
    assert_hub_clean(hub)
    return hub, sorted(out), got


def test_four_threads_each_run_their_own_hub_at_once():
    main_hub = minievent.get_hub()
    ticks = []
    ticker = minievent.spawn(lambda: [ticks.append(minievent.sleep(0.001)) for _ in range(20)])
    results = _run_threads([lambda t=f"t{i}": _workload(t) for i in range(4)])
    for i in range(4):
        r = results[i]
        assert not isinstance(r, BaseException), r
        hub, out, got = r
        assert out == [(f"t{i}", k) for k in range(200)], "lost or doubled an item"
        assert got == f"t{i}".encode() * 2
    hubs = {id(results[i][0]) for i in range(4)} | {id(main_hub)}
    assert len(hubs) == 5
    ticker.wait()  # the main thread's hub was untouched and still works
    assert len(ticks) == 20
    assert_hub_clean(main_hub)


def test_a_thread_that_ends_leaves_no_hub_fds_behind():
    # Nobody closes a worker thread's hub by hand: the hub's poller and waker
    # fds must go when the thread ends, or every short-lived thread leaks two.
    minievent.sleep(0)
    collect()
    before = open_fds()
    for _ in range(3):
        results = _run_threads([lambda: minievent.spawn(minievent.sleep, 0.001).wait() for _ in range(4)])
        assert results == {i: None for i in range(4)}
    collect()
    assert open_fds() - before == set()


def test_tpool_from_several_threads_delivers_to_the_right_hub():
    def in_thread(tag):
        hub = minievent.get_hub()

        def job(i):
            return (tag, i, threading.get_ident())

        gts = [minievent.spawn(tpool.execute, job, i) for i in range(10)]
        res = [g.wait() for g in gts]
        assert hub.keepalive == 0
        assert all(r[2] != threading.get_ident() for r in res), "ran in the calling thread"
        return [r[:2] for r in res]

    try:
        results = _run_threads([lambda t=t: in_thread(t) for t in range(4)] * 1)
        main = in_thread("main")
    finally:
        tpool.killall()
    for t in range(4):
        assert results[t] == [(t, i) for i in range(10)], results[t]
    assert main == [("main", i) for i in range(10)]


def test_call_threadsafe_from_many_threads_runs_each_call_once():
    hub = minievent.get_hub()
    seen = []
    done = minievent.Event()
    n_threads, per = 8, 500

    def pound(t):
        for i in range(per):
            hub.call_threadsafe(seen.append, (t, i))
        hub.call_threadsafe(lambda: len(seen) == n_threads * per and not done.ready() and done.send())

    hub.keepalive += 1
    try:
        threads = [threading.Thread(target=pound, args=(t,)) for t in range(n_threads)]
        for t in threads:
            t.start()
        done.wait(timeout=20)
        for t in threads:
            t.join(JOIN)
        minievent.sleep(0.01)
    finally:
        hub.keepalive -= 1
    assert sorted(seen) == [(t, i) for t in range(n_threads) for i in range(per)]
    assert_hub_clean(hub)


@pytest.mark.parametrize("op", ["kill", "module_kill", "wait", "link"])
def test_using_a_greenthread_from_another_thread_is_a_clear_error(op):
    gt = minievent.spawn(minievent.sleep, 0.05)
    minievent.sleep(0)

    def other():
        if op == "kill":
            gt.kill()
        elif op == "module_kill":
            minievent.kill(gt)
        elif op == "wait":
            gt.wait()
        else:
            gt.link(lambda g: None)

    results = _run_threads([other])
    err = results[0]
    assert isinstance(err, RuntimeError), err
    assert "another OS thread" in str(err) and "sleep" in str(err)
    # and the greenthread was not disturbed
    assert gt.wait() is None and gt.statistics().waiting == 0
    assert_hub_clean(minievent.get_hub())


def test_a_dead_greenthread_can_be_read_from_another_thread():
    gt = minievent.spawn(lambda: 42)
    assert gt.wait() == 42
    assert _run_threads([gt.wait, gt.kill]) == {0: 42, 1: None}


def test_hub_close_twice_is_harmless():
    h = hubmod.Hub()
    h.close()
    h.close()
