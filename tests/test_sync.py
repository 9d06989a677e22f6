"""Timeout, Event, Queue, Semaphore, GreenPool."""

from __future__ import annotations

import queue as stdqueue
import time

import pytest
from support import spin

import minievent
from minievent import GreenletExit

pytestmark = pytest.mark.usefixtures("poller")


# ---------------------------------------------------------------- Timeout
def test_timeout_is_a_base_exception_raised_in_a_wait():
    assert issubclass(minievent.Timeout, BaseException) and not issubclass(minievent.Timeout, Exception)
    t0 = time.monotonic()
    with pytest.raises(minievent.Timeout) as info:
        with minievent.Timeout(0.02):
            minievent.sleep(1)
    assert 0.019 <= time.monotonic() - t0 < 0.5
    assert str(info.value) == "0.02 seconds"


def test_timeout_custom_exception():
    with pytest.raises(ValueError, match="slow"):
        with minievent.Timeout(0.01, ValueError("slow")):
            minievent.sleep(1)


def test_timeout_false_is_silent():
    t0 = time.monotonic()
    with minievent.Timeout(0.01, False):
        minievent.sleep(1)
    assert time.monotonic() - t0 < 0.5


def test_timeout_none_never_fires(hub):
    with minievent.Timeout(None) as t:
        minievent.sleep(0.02)
    assert not t.pending and hub.timers == []


def test_timeout_cancel_prevents_firing(hub):
    t = minievent.Timeout(0.01)
    t.cancel()
    minievent.sleep(0.03)  # would raise if it fired
    assert not t.pending


def test_nested_timeouts_the_inner_one_fires_first():
    with minievent.Timeout(1) as outer:
        with pytest.raises(minievent.Timeout) as info:
            with minievent.Timeout(0.01):
                minievent.sleep(0.5)
        assert info.value is not outer
    assert not outer.pending


def test_nested_timeouts_the_outer_one_fires_first():
    with pytest.raises(minievent.Timeout) as info:
        with minievent.Timeout(0.01) as outer:
            with minievent.Timeout(1) as inner:
                minievent.sleep(0.5)
    assert info.value is outer and not inner.pending


def test_timeout_cannot_interrupt_code_that_never_yields():
    # Cooperative scheduling: the timer can only fire when the greenthread waits.
    t0 = time.monotonic()
    with pytest.raises(minievent.Timeout):
        with minievent.Timeout(0.01):
            spin(0.1)  # busy, never yields
            minievent.sleep(0)  # the first yield is where it lands
    assert time.monotonic() - t0 >= 0.1


def test_timeout_bad_seconds():
    with pytest.raises(TypeError):
        minievent.Timeout("1")


def test_with_timeout():
    assert minievent.with_timeout(1, lambda: 5) == 5
    assert minievent.with_timeout(0.01, minievent.sleep, 1, timeout_value="late") == "late"
    with pytest.raises(minievent.Timeout):
        minievent.with_timeout(0.01, minievent.sleep, 1)


def test_forgotten_timeout_never_hits_a_later_greenthread():
    def careless():
        minievent.Timeout(0.02)  # never cancelled, greenthread ends first

    minievent.spawn(careless).wait()
    gt = minievent.spawn(minievent.sleep, 0.05)  # reuses the same worker greenlet
    assert gt.wait() is None


# ---------------------------------------------------------------- Event
def test_event_send_wakes_all_waiters():
    ev = minievent.Event()
    gts = [minievent.spawn(ev.wait) for _ in range(3)]
    minievent.sleep(0)
    assert not ev.ready()
    ev.send("v")
    assert [g.wait() for g in gts] == ["v"] * 3
    assert ev.ready() and ev.wait() == "v"


def test_event_wait_timeout_returns_none():
    ev = minievent.Event()
    t0 = time.monotonic()
    assert ev.wait(timeout=0.02) is None
    assert time.monotonic() - t0 >= 0.019
    assert ev.statistics().waiting == 0


def test_event_send_exception():
    ev = minievent.Event()
    gt = minievent.spawn(ev.wait)
    minievent.sleep(0)
    ev.send_exception(KeyError("k"))
    with pytest.raises(KeyError):
        gt.wait()
    assert ev.has_exception()
    ev2 = minievent.Event()
    ev2.send_exception(ValueError, "v")
    with pytest.raises(ValueError, match="v"):
        ev2.wait()


def test_event_reset_and_double_send():
    ev = minievent.Event()
    ev.send(1)
    with pytest.raises(AssertionError):
        ev.send(2)
    ev.reset()
    assert not ev.ready()
    ev.send(3)
    assert ev.wait() == 3


def test_event_timeout_and_send_in_the_same_iteration_resume_once(hub):
    # The timer and the send both wake the waiter; it must resume exactly once.
    ev = minievent.Event()
    results = []

    def waiter():
        results.append(ev.wait(timeout=0.01))
        minievent.sleep(0.05)  # a stray second resume would cut this short
        results.append("slept")

    gt = minievent.spawn(waiter)
    minievent.sleep(0)
    hub.schedule_call(0.01, ev.send, "sent")
    t0 = time.monotonic()
    gt.wait()
    assert time.monotonic() - t0 >= 0.05
    assert results[1] == "slept" and results[0] in (None, "sent")


@pytest.mark.parametrize("awaited", ["event", "greenthread"])
def test_statistics_count_who_waits_for_an_event_or_a_greenthread(awaited):
    ev = minievent.Event()
    target = ev if awaited == "event" else minievent.spawn(ev.wait)  # a greenthread waits on its end
    stats = minievent.event.EventStatistics if awaited == "event" else minievent.greenthread.GreenThreadStatistics
    assert target.statistics() == stats(waiting=0)
    gts = [minievent.spawn(target.wait) for _ in range(3)]
    minievent.sleep(0)
    assert target.statistics().waiting == 3
    gts[0].kill()
    assert target.statistics().waiting == 2
    ev.send("v")
    if awaited == "event":
        assert target.statistics().waiting == 0  # send wakes them all at once
    assert [g.wait() for g in gts[1:]] == ["v", "v"]
    assert target.statistics().waiting == 0


# ---------------------------------------------------------------- Queue
def test_queue_fifo_and_sizes():
    q = minievent.Queue()
    for i in range(5):
        q.put(i)
    assert q.qsize() == 5 and not q.empty() and not q.full()
    assert [q.get() for _ in range(5)] == list(range(5))
    assert q.empty()


def test_queue_get_blocks_until_put():
    q = minievent.Queue()
    gt = minievent.spawn(q.get)
    minievent.sleep(0)
    q.put("item")
    assert gt.wait() == "item"


def test_queue_bounded_put_blocks_and_full():
    q = minievent.Queue(2)
    q.put(1)
    q.put(2)
    assert q.full()
    with pytest.raises(stdqueue.Full):
        q.put(3, block=False)
    with pytest.raises(minievent.Full):
        q.put(3, timeout=0.01)
    putter = minievent.spawn(q.put, 3)
    minievent.sleep(0)
    assert not putter.dead
    assert q.get() == 1
    putter.wait()
    assert [q.get(), q.get()] == [2, 3]


def test_queue_empty_exceptions_are_the_stdlibs():
    q = minievent.Queue()
    with pytest.raises(stdqueue.Empty):
        q.get(block=False)
    with pytest.raises(stdqueue.Empty):
        q.get_nowait()
    t0 = time.monotonic()
    with pytest.raises(stdqueue.Empty):
        q.get(timeout=0.02)
    assert time.monotonic() - t0 >= 0.019


@pytest.mark.parametrize("bad", [-1, -100])
def test_queue_negative_maxsize(bad):
    with pytest.raises(ValueError):
        minievent.Queue(bad)


def test_queue_bad_types_and_timeouts():
    with pytest.raises(TypeError):
        minievent.Queue("3")
    with pytest.raises(ValueError):
        minievent.Queue().get(timeout=-1)


def test_queue_item_handed_to_killed_getter_is_not_lost():
    q = minievent.Queue()
    getter = minievent.spawn(q.get)
    minievent.sleep(0)
    getter.throw_later(GreenletExit())  # the kill is queued first...
    q.put("precious")  # ...then the item is handed straight to the getter
    with pytest.raises(GreenletExit):
        getter.wait()
    assert q.get(timeout=1) == "precious"


def test_queue_getters_served_in_order():
    q = minievent.Queue()
    gts = [minievent.spawn(q.get) for _ in range(3)]
    minievent.sleep(0)
    for i in range(3):
        q.put(i)
    assert [g.wait() for g in gts] == [0, 1, 2]


def test_queue_join_task_done():
    q = minievent.Queue()
    done = []

    def worker():
        while True:
            item = q.get()
            minievent.sleep(0.001)
            done.append(item)
            q.task_done()

    w = minievent.spawn(worker)
    for i in range(5):
        q.put(i)
    assert q.join(timeout=1)
    assert done == list(range(5))
    w.kill()
    with pytest.raises(ValueError):
        q.task_done()


def test_queue_statistics_count_items_and_each_kind_of_waiter():
    stats = minievent.queue.QueueStatistics
    q, full, joined = minievent.Queue(), minievent.Queue(1), minievent.Queue()
    full.put("in")
    joined.put("unfinished")
    assert q.statistics() == stats(items=0, getting=0, putting=0, joining=0)
    gts = [minievent.spawn(q.get) for _ in range(2)]
    gts += [minievent.spawn(full.put, i) for i in range(3)]
    gts.append(minievent.spawn(joined.join))
    minievent.sleep(0)
    assert q.statistics() == stats(items=0, getting=2, putting=0, joining=0)
    assert full.statistics() == stats(items=1, getting=0, putting=3, joining=0)
    assert joined.statistics() == stats(items=1, getting=0, putting=0, joining=1)
    assert (q.getting(), full.putting()) == (2, 3)  # eventlet's names agree
    q.put("a")
    assert q.statistics().getting == 1
    assert full.get() == "in"  # the oldest putter's item goes in
    assert full.statistics() == stats(items=1, getting=0, putting=2, joining=0)
    joined.get()
    joined.task_done()
    assert joined.statistics().joining == 0
    for gt in gts:
        gt.kill()
    assert q.statistics().getting == 0 and full.statistics().putting == 0


# ---------------------------------------------------------------- Semaphore
def test_semaphore_limits_concurrency():
    sem = minievent.Semaphore(2)
    active, peak = [0], [0]

    def worker():
        with sem:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            minievent.sleep(0.005)
            active[0] -= 1

    gts = [minievent.spawn(worker) for _ in range(6)]
    for g in gts:
        g.wait()
    assert peak[0] == 2 and sem.counter == 2


def test_semaphore_statistics_count_free_units_and_waiters():
    sem = minievent.Semaphore(1)
    assert sem.statistics() == minievent.semaphore.SemaphoreStatistics(counter=1, waiting=0)
    sem.acquire()
    gts = [minievent.spawn(sem.acquire) for _ in range(2)]
    minievent.sleep(0)
    assert sem.statistics() == (0, 2)
    sem.release()  # handed straight to the oldest waiter: the counter stays 0
    assert sem.statistics() == (0, 1)
    gts[1].kill()
    assert sem.statistics() == (0, 0)
    assert gts[0].wait() is True


def test_semaphore_nonblocking_and_timeout():
    sem = minievent.Semaphore(1)
    assert sem.acquire()
    assert not sem.acquire(blocking=False)
    assert not sem.acquire(timeout=0.01)
    assert sem.locked()
    sem.release()
    assert not sem.locked()


def test_semaphore_fifo_handoff():
    sem = minievent.Semaphore(0)
    order = []

    def w(i):
        sem.acquire()
        order.append(i)

    gts = [minievent.spawn(w, i) for i in range(3)]
    minievent.sleep(0)
    for _ in range(3):
        sem.release()
    for g in gts:
        g.wait()
    assert order == [0, 1, 2]


def test_semaphore_unit_handed_to_killed_waiter_passes_on():
    sem = minievent.Semaphore(0)
    a = minievent.spawn(sem.acquire)
    b = minievent.spawn(sem.acquire)
    minievent.sleep(0)
    a.throw_later(GreenletExit())  # a's kill is queued first...
    sem.release()  # ...then the unit is handed to a, which dies before using it
    with pytest.raises(GreenletExit):
        a.wait()
    assert b.wait() is True  # so b gets it


def test_semaphore_bad_values():
    with pytest.raises(ValueError):
        minievent.Semaphore(-1)
    with pytest.raises(TypeError):
        minievent.Semaphore("1")
    with pytest.raises(ValueError):
        minievent.Semaphore(1).acquire(timeout=-1)
    bs = minievent.BoundedSemaphore(1)
    with pytest.raises(ValueError):
        bs.release()
    assert minievent.Semaphore(1e2).counter == 100  # a whole float is taken, as eventlet does
    with pytest.raises(TypeError):
        minievent.Semaphore(1.5)


def test_capped_semaphore_release_waits_at_the_limit():
    sem = minievent.CappedSemaphore(1, limit=2)
    assert sem.release() is True and sem.bounded()  # 2 free: the limit
    assert sem.release(blocking=False) is False
    releaser = minievent.spawn(sem.release)
    minievent.sleep(0)
    assert not releaser.dead and sem.upper_bound.balance == -1  # one release waits for room
    assert sem.acquire() is True
    assert releaser.wait() is True and sem.balance == 2


def test_capped_semaphore_acquire_waits_and_times_out():
    sem = minievent.CappedSemaphore(0, 1)
    assert sem.locked() and sem.acquire(blocking=False) is False
    assert sem.acquire(timeout=0.01) is False
    assert sem.balance == -1 and sem.release() is True  # the timed-out acquire left no debt
    assert sem.bounded() and sem.balance == 1
    with sem:
        assert sem.balance == -1
    assert sem.balance == 1
    with pytest.raises(ValueError):
        sem.acquire(blocking=False, timeout=1)


def test_capped_semaphore_at_limit_zero_hands_over():
    sem = minievent.CappedSemaphore(0, 0)
    getter = minievent.spawn(sem.acquire)
    minievent.sleep(0)
    assert sem.release() is True and getter.wait() is True


def test_capped_semaphore_bad_values():
    with pytest.raises(ValueError):
        minievent.CappedSemaphore(3, 2)
    with pytest.raises(ValueError):
        minievent.CappedSemaphore(-1, 2)
    with pytest.raises(TypeError):
        minievent.CappedSemaphore("1", 2)


# ---------------------------------------------------------------- GreenPool
def test_pool_bounds_concurrency():
    pool = minievent.GreenPool(3)
    active, peak = [0], [0]

    def job(i):
        active[0] += 1
        peak[0] = max(peak[0], active[0])
        minievent.sleep(0.002)
        active[0] -= 1
        return i

    gts = [pool.spawn(job, i) for i in range(10)]
    pool.waitall()
    assert peak[0] == 3
    assert [g.wait() for g in gts] == list(range(10))
    assert pool.running() == 0 and pool.free() == 3


def test_pool_running_and_free():
    pool = minievent.GreenPool(4)
    ev = minievent.Event()
    for _ in range(3):
        pool.spawn_n(ev.wait)
    assert pool.running() == 3 and pool.free() == 1
    ev.send()
    pool.waitall()
    assert pool.running() == 0 and pool.free() == 4


def test_pool_imap_keeps_order():
    pool = minievent.GreenPool(5)

    def slow_square(x):
        minievent.sleep(0.001 * (10 - x))
        return x * x

    assert list(pool.imap(slow_square, range(10))) == [x * x for x in range(10)]
    assert list(pool.imap(lambda a, b: a + b, [1, 2], [10, 20])) == [11, 22]


def test_pool_imap_reraises():
    pool = minievent.GreenPool()

    def f(x):
        if x == 2:
            raise ValueError(x)
        return x

    with pytest.raises(ValueError):
        list(pool.imap(f, range(4)))


def test_pool_member_spawning_into_a_full_pool_does_not_deadlock():
    pool = minievent.GreenPool(1)

    def parent():
        return pool.spawn(lambda: "child").wait()

    assert pool.spawn(parent).wait() == "child"
    pool.waitall()


def test_pool_bad_size():
    with pytest.raises(ValueError):
        minievent.GreenPool(-1)
    with pytest.raises(TypeError):
        minievent.GreenPool("10")
    with pytest.raises(TypeError):
        minievent.GreenPool().spawn(42)


def test_pool_killed_member_frees_its_slot():
    pool = minievent.GreenPool(1)
    gt = pool.spawn(minievent.sleep, 10)
    minievent.sleep(0)
    gt.kill()
    with pytest.raises(GreenletExit):
        gt.wait()
    assert pool.free() == 1 and pool.running() == 0
