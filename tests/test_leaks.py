"""Leaks: thousands of connections and a hundred thousand greenthreads leave nothing behind.

Counted after the load, against a baseline taken after a warm-up:

- open fds (``/proc/self/fd``) back to the baseline exactly;
- the hub's listener tables, the poller's own registrations, the timer heap
  and the ready queue empty;
- memory (``tracemalloc``, traced Python allocations) within a stated bound:
  ``MEMORY_BOUND_PER_ITEM`` bytes per cycle or greenthread, i.e. a leak of a
  single small object per cycle would fail.
"""

from __future__ import annotations

import gc
import os
import tracemalloc

import pytest
from support import assert_hub_clean, collect, echo, open_fds

import minievent
from minievent import GreenletExit

pytestmark = pytest.mark.usefixtures("poller")

CYCLES = 5000
GREENTHREADS = 100_000
#: Traced bytes that may be left over per cycle / per greenthread (allocator noise, free lists).
#: A leaked socket object (~400 B), frame or greenlet (several KiB) per cycle is far above it.
MEMORY_BOUND_PER_ITEM = 16


def _traced() -> int:
    collect()
    return tracemalloc.get_traced_memory()[0]


@pytest.fixture
def traced():
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def _echo_cycles(addr, n, rnd):
    for _ in range(n):
        size = rnd.choice((1, 100, 1500, 9000))
        payload = os.urandom(size)
        c = minievent.connect(addr)
        try:
            c.sendall(payload)
            got = b""
            while len(got) < size:
                chunk = c.recv(65536)
                assert chunk, "server closed early"
                got += chunk
            assert got == payload
        finally:
            c.close()


@pytest.mark.slow
def test_connect_echo_close_cycles_leak_nothing(traced):
    import random

    rnd = random.Random(7)
    hub = minievent.get_hub()
    srv = minievent.listen(("127.0.0.1", 0), backlog=512)
    addr = srv.getsockname()

    server = minievent.spawn(minievent.serve, srv, echo)
    _echo_cycles(addr, 300, rnd)  # warm up: worker greenlets, free lists, caches
    minievent.sleep(0.01)
    mem = _traced()  # (collects first: garbage of earlier tests may still hold fds)
    fds = open_fds()
    watched = hub.poller.watched()

    _echo_cycles(addr, CYCLES, rnd)
    minievent.sleep(0.01)  # the last handler sees EOF and returns

    grown = _traced() - mem
    print(f"{CYCLES} connect/echo/close cycles: {grown} bytes traced growth, {len(fds)} fds before and after")
    assert open_fds() == fds, "fds leaked"
    assert hub.poller.watched() == watched and watched <= fds, "the poller still watches closed fds"
    assert len(hub.listeners()) == 1  # only the accept of the server, still running
    assert grown < MEMORY_BOUND_PER_ITEM * CYCLES, f"{grown} bytes more after {CYCLES} cycles"

    server.kill()
    with pytest.raises(GreenletExit):
        server.wait()
    srv.close()
    assert_hub_clean(hub)


def _greenthread_batch(n, ev):
    # A mix: return at once, yield, sleep on a timer, wait for an event, raise (quietly: caught
    # inside), be killed before and after starting.
    def quick(i):
        return i

    def yielder(i):
        minievent.sleep(0)
        return i

    def sleeper(i):
        minievent.sleep(0.0001)
        return i

    def event_waiter(i):
        ev.wait()
        return i

    def raiser(i):
        try:
            raise ValueError(i)
        except ValueError:
            return i

    kinds = (quick, yielder, sleeper, event_waiter, raiser)
    gts = [minievent.spawn(kinds[i % 5], i) for i in range(n)]
    gts[0].kill()  # before it starts
    minievent.sleep(0)
    gts[3].kill()  # while it waits
    ev.send(None)
    total = 0
    for gt in gts:
        try:
            total += gt.wait()
        except GreenletExit:
            pass
    ev.reset()
    return total


@pytest.mark.slow
def test_a_hundred_thousand_greenthreads_leak_nothing(traced):
    hub = minievent.get_hub()
    ev = minievent.Event()
    batch = 1000
    for _ in range(5):  # warm up
        _greenthread_batch(batch, ev)
    mem = _traced()
    fds = open_fds()
    expected = sum(range(batch)) - 0 - 3
    for _ in range(GREENTHREADS // batch):
        assert _greenthread_batch(batch, ev) == expected
    grown = _traced() - mem
    print(f"{GREENTHREADS} greenthreads: {grown} bytes traced growth, {len(hub.idle_workers)} idle workers")
    assert open_fds() == fds
    assert len(hub.idle_workers) <= minievent.greenthread.MAX_IDLE_WORKERS
    assert ev.statistics().waiting == 0
    assert grown < MEMORY_BOUND_PER_ITEM * GREENTHREADS, f"{grown} bytes more after {GREENTHREADS} greenthreads"
    assert_hub_clean(hub)  # (no listener, no pending timer, nothing ready)


def test_greenthreads_that_end_in_every_way_are_collected():
    # Nothing keeps a finished greenthread alive: not the hub, not a worker greenlet, not a timer.
    import weakref

    hub = minievent.get_hub()
    ev = minievent.Event()
    refs = []

    def make():
        gts = [
            minievent.spawn(lambda: 1),
            minievent.spawn(minievent.sleep, 0.001),
            minievent.spawn(ev.wait),
            minievent.spawn(minievent.sleep, 100),
            minievent.spawn_after(100, lambda: 1),
            minievent.spawn(lambda: minievent.with_timeout(0.001, ev.wait, timeout_value="t")),
        ]
        minievent.sleep(0)
        gts[3].kill()
        gts[4].kill()
        ev.send(1)
        for gt in gts:
            try:
                gt.wait()
            except GreenletExit:
                pass
            refs.append(weakref.ref(gt))

    make()
    minievent.sleep(0.01)
    gc.collect()
    alive = [r() for r in refs if r() is not None]
    assert alive == []
    assert_hub_clean(hub)
