"""Faults: kill a greenthread wherever it blocks, exceptions everywhere, stray wake-ups.

After every kill, nothing of the dead greenthread may remain: no fd listener,
no pending timer, no waiter in any primitive, nothing queued in the hub; and
the primitive must still work for the next user (an item handed to a dying
getter is not lost, a semaphore unit handed to a dying acquirer is passed on).
All of it under every poller.
"""

from __future__ import annotations

import errno
import threading
import time

import pytest
from support import assert_hub_clean, open_fds, pending_timers

import minievent
from minievent import GreenletExit, tpool

pytestmark = pytest.mark.usefixtures("poller")


# ----------------------------------------------------------------- kill anywhere
class Blocked:
    """One way of blocking: ``block()`` runs in the victim; ``waiters()`` lists what it may have left behind."""

    def __init__(self, raw_pair):
        self.ev = minievent.Event()
        self.end = minievent.Event()  # what the bystanders below wait for
        self.q = minievent.Queue()
        self.full = minievent.Queue(1)
        self.full.put("occupant")
        self.sem = minievent.Semaphore(0)
        self.other = minievent.spawn(self.end.wait)  # a greenthread that stays blocked until the end
        self.pool = minievent.GreenPool(1)
        self.pool.spawn(self.end.wait)
        self.a, self.b = raw_pair  # (closed by the fixture)
        self.a.setblocking(False)
        self.joinq = minievent.Queue()
        self.joinq.put("unfinished")

    def waiters(self) -> dict:
        return {
            "event": self.ev.statistics().waiting,
            "queue getters": self.q.statistics().getting,
            "queue putters": self.full.statistics().putting,
            "semaphore": self.sem.statistics().waiting,
            "pool": self.pool.waiting(),
            "join": self.joinq.statistics().joining,
            "observers": self.other.statistics().waiting,  # the victim waited for `other` to end
        }

    def close(self):
        self.end.send("end")
        self.other.wait()
        self.pool.waitall()


def _nested_timeouts(b: Blocked):
    with minievent.Timeout(100):
        with minievent.Timeout(50):
            with minievent.Timeout(None):
                b.ev.wait()


BLOCKERS = {
    "sleep": lambda b: minievent.sleep(100),
    "sleep_inf": lambda b: minievent.sleep(float("inf")),
    "event_wait": lambda b: b.ev.wait(),
    "event_wait_timeout": lambda b: b.ev.wait(timeout=100),
    "queue_get": lambda b: b.q.get(),
    "queue_get_timeout": lambda b: b.q.get(timeout=100),
    "queue_put_full": lambda b: b.full.put("x"),
    "queue_put_full_timeout": lambda b: b.full.put("x", timeout=100),
    "queue_join": lambda b: b.joinq.join(),
    "semaphore_acquire": lambda b: b.sem.acquire(),
    "semaphore_acquire_timeout": lambda b: b.sem.acquire(timeout=100),
    "greenthread_wait": lambda b: b.other.wait(),
    "pool_spawn_full": lambda b: b.pool.spawn(b.end.wait),
    "timeout_nesting": _nested_timeouts,
    "trampoline_read": lambda b: minievent.trampoline(b.a, read=True),
    "trampoline_read_timeout": lambda b: minievent.trampoline(b.a, read=True, timeout=100),
}


def _check_primitives_still_work(b: Blocked):
    # Whatever the victim was waiting on keeps working for the next greenthread.
    b.q.put(1)
    assert b.q.get(timeout=1) == 1
    assert b.full.get(timeout=1) == "occupant"
    assert b.full.qsize() == 0, "the killed putter's item went in"
    b.sem.release()
    assert b.sem.acquire(timeout=1) is True
    b.joinq.get()
    b.joinq.task_done()
    assert b.joinq.join(timeout=1) is True


def park_victim(block, state):
    """Spawn a greenthread that calls ``block(state)``; return it once it has run (and parked there),
    with the list its ``finally`` appends to: a kill must unwind it."""
    started, cleaned = [], []

    def victim():
        started.append(True)
        try:
            block(state)
        finally:
            cleaned.append(True)

    gt = minievent.spawn(victim)
    while not started:  # main runs again only once the victim has parked
        minievent.sleep(0)
    return gt, cleaned


@pytest.mark.parametrize("how", sorted(BLOCKERS))
@pytest.mark.parametrize("kill_exc", [None, ValueError])
def test_kill_anywhere_leaves_nothing_behind(how, kill_exc, raw_pair):
    hub = minievent.get_hub()
    b = Blocked(raw_pair)
    gt, cleaned = park_victim(BLOCKERS[how], b)
    assert not gt.dead, "the victim should be blocked"
    if kill_exc is None:
        gt.kill()
        with pytest.raises(GreenletExit):
            gt.wait()
    else:
        gt.kill(kill_exc("stop"))
        with pytest.raises(ValueError, match="stop"):
            gt.wait()
    assert cleaned == [True]
    assert all(not v for v in b.waiters().values()), b.waiters()
    b.close()
    assert all(not v for v in b.waiters().values()), b.waiters()
    _check_primitives_still_work(b)
    assert_hub_clean(hub)


@pytest.mark.parametrize("how", sorted(BLOCKERS))
def test_kill_before_it_ever_runs(how, raw_pair):
    hub = minievent.get_hub()
    b = Blocked(raw_pair)
    ran = []
    gt = minievent.spawn(lambda: ran.append(1) or BLOCKERS[how](b))
    gt.kill()
    with pytest.raises(GreenletExit):
        gt.wait()
    assert ran == []
    b.close()
    assert all(not v for v in b.waiters().values())
    assert_hub_clean(hub)


def _outcome(gt):
    try:
        return ("ok", gt.wait())
    except GreenletExit:
        return ("killed", None)


@pytest.mark.parametrize("order", ["kill_first", "put_first", "throw_later_first"])
def test_kill_and_handover_in_the_same_iteration_lose_and_double_nothing(order):
    # Items are handed straight to waiting getters; kills land in the same hub
    # iteration, before or after the hand-over. Each getter either returns its
    # item or dies, and a dying getter's item goes to the next getter or back
    # into the queue: every item exactly once.
    hub = minievent.get_hub()
    q = minievent.Queue()
    getters = [minievent.spawn(q.get) for _ in range(6)]
    minievent.sleep(0)
    for i, g in enumerate(getters[:4]):
        if order == "kill_first":
            g.kill()
            q.put(i)
        elif order == "put_first":
            q.put(i)
            g.kill()
        else:
            g.throw_later(GreenletExit())
            q.put(i)
    outcomes = [_outcome(g) for g in getters[:4]]
    minievent.sleep(0)
    got = [v for kind, v in outcomes if kind == "ok"]
    got += [g.wait() for g in getters[4:] if g.dead]
    got += [q.get_nowait() for _ in range(q.qsize())]
    assert sorted(got) == [0, 1, 2, 3], (outcomes, got)
    for g in getters[4:]:  # unblock whoever still waits
        if not g.dead:
            g.kill()
    assert q.getting() == 0
    assert_hub_clean(hub)


@pytest.mark.parametrize("order", ["kill_first", "release_first"])
def test_kill_and_semaphore_handover_in_the_same_iteration_keep_every_unit(order):
    hub = minievent.get_hub()
    sem = minievent.Semaphore(0)
    first = minievent.spawn(sem.acquire)
    second = minievent.spawn(sem.acquire)
    minievent.sleep(0)
    if order == "kill_first":
        first.kill()
        sem.release()
    else:
        sem.release()  # handed to `first`...
        first.kill()  # ...which may die before it resumes
    outcome = _outcome(first)
    if outcome == ("ok", True):  # it got the unit: give it back for `second`
        sem.release()
    assert second.wait() is True
    assert sem.statistics() == (0, 0)  # (counter, waiting)
    assert_hub_clean(hub)


def test_kill_while_timeout_and_wakeup_race():
    # Wake-up, overdue timeout and kill all land in one hub iteration: the victim resumes exactly once.
    hub = minievent.get_hub()
    ev = minievent.Event()
    resumed = []

    def victim():
        try:
            return ev.wait(timeout=0.01)
        finally:
            resumed.append(True)

    gt = minievent.spawn(victim)
    minievent.sleep(0)
    time.sleep(0.02)  # its timeout is now overdue
    ev.send("x")
    gt.kill()
    assert _outcome(gt) in {("ok", None), ("ok", "x"), ("killed", None)}
    assert resumed == [True]
    assert ev.statistics().waiting == 0
    assert_hub_clean(hub)


# ----------------------------------------------------------------- stray wake-ups
def yield_until_a_timeout():
    """sleep(0) over and over, until a Timeout lands in one of them."""
    try:
        with minievent.Timeout(0.01):
            while True:
                minievent.sleep(0)
    except minievent.Timeout:
        pass


def test_timeout_during_sleep_zero_leaves_no_stray_wakeup_for_the_next_wait():
    # A Timeout thrown into a greenthread that sits in sleep(0) used to leave its
    # sleep(0) resume in the ready queue; it then woke the greenthread's *next*
    # wait: Event.wait returned an internal sentinel without the event being sent.
    hub = minievent.get_hub()
    ev = minievent.Event()

    def spinner():
        yield_until_a_timeout()
        return ev.wait()

    gt = minievent.spawn(spinner)
    minievent.sleep(0.05)
    assert not gt.dead, f"woken without the event being sent: {_outcome(gt)!r}"
    ev.send("sent")
    assert gt.wait() == "sent"
    assert_hub_clean(hub)


def test_timeout_during_sleep_zero_never_shortens_the_next_sleep():
    def spinner():
        yield_until_a_timeout()
        t0 = time.monotonic()
        minievent.sleep(0.05)
        return time.monotonic() - t0

    assert minievent.spawn(spinner).wait() >= 0.05


def test_interrupt_of_main_during_sleep_zero_leaves_no_stray_wakeup():
    # The hub throws KeyboardInterrupt into the main greenlet while main sits in sleep(0).
    hub = minievent.get_hub()

    def boom():
        raise KeyboardInterrupt

    minievent.spawn(boom)
    with pytest.raises(KeyboardInterrupt):
        minievent.sleep(0)
    ev = minievent.Event()
    hub.schedule_call(0.03, ev.send, "later")
    assert ev.wait() == "later"
    assert_hub_clean(hub)


# ----------------------------------------------------------------- exceptions
def test_a_thousand_greenthreads_raising_at_once(capsys):
    hub = minievent.get_hub()
    loop = hub.greenlet

    def boom(i):
        minievent.sleep(0.001)
        raise ValueError(f"boom-{i}")

    gts = [minievent.spawn(boom, i) for i in range(1000)]
    minievent.sleep(0.01)
    for i, gt in enumerate(gts):
        for _ in range(2):  # every wait re-raises
            with pytest.raises(ValueError, match=f"^boom-{i}$"):
                gt.wait()
    err = capsys.readouterr().err
    for i in range(1000):
        assert err.count(f"ValueError: boom-{i}\n") == 1, i
    assert err.count("Traceback (most recent call last)") == 1000
    # the hub survived: same loop greenlet, still working
    assert hub.greenlet is loop and not loop.dead
    assert minievent.spawn(lambda: "alive").wait() == "alive"
    assert_hub_clean(hub)


def linked(*callbacks):
    """A greenthread about to end with ``callbacks`` linked to it in this order, and one that waits for it."""
    gt = minievent.spawn(minievent.sleep, 0.001)
    for callback in callbacks:
        gt.link(callback)
    return gt, minievent.spawn(gt.wait)


def raising(error: BaseException):
    """A link callback that raises ``error``."""

    def bad(gt):
        raise error

    return bad


def test_exception_in_a_link_callback_is_printed_once_and_the_rest_still_run(capsys):
    hub = minievent.get_hub()
    calls = []
    gt, waiter = linked(calls.append, raising(RuntimeError("link broke")), calls.append)
    assert waiter.wait() is None
    assert calls == [gt, gt]
    err = capsys.readouterr().err
    assert err.count("RuntimeError: link broke") == 1
    assert_hub_clean(hub)


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit, GreenletExit])
def test_base_exception_in_a_link_callback_still_wakes_every_waiter(exc):
    hub = minievent.get_hub()
    calls = []
    gt, waiter = linked(raising(exc("from link")), calls.append)
    if exc is GreenletExit:  # not the main greenlet's business: printed like any other error
        minievent.sleep(0.01)
    else:
        with pytest.raises(exc):
            minievent.sleep(0.01)
    assert calls == [gt]
    assert waiter.wait() is None
    assert gt.wait() is None
    assert_hub_clean(hub)


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("main_waits_in", ["sleep", "sleep0", "event", "queue", "greenthread"])
def test_interrupt_raised_in_a_greenthread_reaches_the_main_greenlet(exc, main_waits_in):
    hub = minievent.get_hub()
    ev = minievent.Event()
    q = minievent.Queue()

    def boom():
        minievent.sleep(0.001)
        raise exc("stop everything")

    gt = minievent.spawn(boom)
    bystander = minievent.spawn(minievent.sleep, 0.02)
    with pytest.raises(exc, match="stop everything"):
        if main_waits_in == "sleep":
            minievent.sleep(1)
        elif main_waits_in == "sleep0":
            while True:
                minievent.sleep(0)
        elif main_waits_in == "event":
            ev.wait()
        elif main_waits_in == "queue":
            q.get()
        else:
            bystander.wait()
    # the main greenlet's wait was cleaned up, the greenthread ended with it, the others go on
    assert (ev.statistics().waiting, q.getting(), bystander.statistics().waiting) == (0, 0, 0)
    with pytest.raises(exc):
        gt.wait()
    assert bystander.wait() is None
    assert not hub.greenlet.dead
    assert not pending_timers(hub)
    assert_hub_clean(hub)


# ----------------------------------------------------------------- sockets and tpool: kill and close anywhere
class SockBlocked:
    """Green sockets in every blocking state: a listener nobody connects to, a pair with nothing to
    read, and a pair whose peer never reads (so ``sendall`` of a big buffer fills the kernel's)."""

    BIG = b"x" * (8 << 20)

    def __init__(self, timeout, socketpairs):
        self.srv = minievent.listen(("127.0.0.1", 0))
        self.r, self.r_peer = socketpairs()
        self.w, self.w_peer = socketpairs()
        for s in (self.srv, self.r, self.w):
            s.settimeout(timeout)
        self.job_done = threading.Event()

    def socks(self):
        return [self.srv, self.r, self.r_peer, self.w, self.w_peer]

    def slow_job(self):
        time.sleep(0.05)
        self.job_done.set()
        return "job result"

    def close(self):  # (before the fixture would: the tests count fds)
        for s in self.socks():
            s.close()


SOCK_BLOCKERS = {
    "recv": lambda s: s.r.recv(100),
    "recv_into": lambda s: s.r.recv_into(bytearray(100)),
    "makefile_readline": lambda s: s.r.makefile("rb").readline(),
    "accept": lambda s: s.srv.accept(),
    "sendall_peer_not_reading": lambda s: s.w.sendall(s.BIG),
    "tpool_execute": lambda s: tpool.execute(s.slow_job),
}
# Which socket to close under each call. (Not makefile: as in the stdlib, close() leaves the fd
# open while a makefile() stream uses it, so the reader rightly goes on waiting.)
SOCK_OF = {"recv": "r", "recv_into": "r", "accept": "srv", "sendall_peer_not_reading": "w"}


def _still_works(s: SockBlocked, how: str):
    """After the victim is gone, its socket serves the next greenthread, and no byte sent after is lost."""
    if how in ("recv", "recv_into", "makefile_readline"):
        s.r_peer.sendall(b"after\n")
        assert s.r.recv(100) == b"after\n"
    elif how == "accept":
        c = minievent.connect(s.srv.getsockname())
        conn, _ = s.srv.accept()
        c.sendall(b"hello")
        assert conn.recv(5) == b"hello"
        c.close()
        conn.close()
    elif how == "sendall_peer_not_reading":
        # The kill cut sendall short (its bytes are the caller's loss, as with
        # any interrupted sendall); drain what did go, then the socket still works.
        s.w_peer.setblocking(False)
        drained = 0
        while True:
            try:
                chunk = s.w_peer.recv(1 << 20)
            except BlockingIOError:
                break
            drained += len(chunk)
        assert 0 < drained < len(s.BIG)
        s.w_peer.setblocking(True)
        s.w.sendall(b"tail")
        assert s.w_peer.recv(4) == b"tail"
    else:
        assert s.job_done.wait(5)
        assert tpool.execute(lambda: "next") == "next"


@pytest.mark.parametrize("how", sorted(SOCK_BLOCKERS))
@pytest.mark.parametrize("timeout", [None, 100.0])
def test_kill_in_socket_calls_and_tpool_leaves_nothing_behind(how, timeout, stop_tpool, socketpairs):
    hub = minievent.get_hub()
    fds_before = open_fds()
    s = SockBlocked(timeout, socketpairs)
    gt, cleaned = park_victim(SOCK_BLOCKERS[how], s)
    minievent.sleep(0.01)  # sendall: fill the buffer and park
    assert not gt.dead
    gt.kill()
    with pytest.raises(GreenletExit):
        gt.wait()
    assert cleaned == [True]
    assert hub.listeners() == [] and pending_timers(hub) == []
    _still_works(s, how)
    if how == "tpool_execute":
        while hub.keepalive:  # the job finishes in its thread; its result is dropped
            minievent.sleep(0.001)
    s.close()
    assert_hub_clean(hub)
    assert open_fds() - fds_before == set()


@pytest.mark.parametrize("how", sorted(SOCK_OF))
@pytest.mark.parametrize("timeout", [None, 100.0])
def test_close_under_a_blocked_socket_call_wakes_it_with_ebadf(how, timeout, socketpairs):
    hub = minievent.get_hub()
    fds_before = open_fds()
    s = SockBlocked(timeout, socketpairs)
    gt = minievent.spawn(SOCK_BLOCKERS[how], s)
    minievent.sleep(0.01)
    assert not gt.dead
    getattr(s, SOCK_OF[how]).close()  # from another greenthread (here: main)
    with pytest.raises(OSError) as info:
        gt.wait()
    assert info.value.errno == errno.EBADF
    assert hub.listeners() == [] and pending_timers(hub) == []
    s.close()
    assert_hub_clean(hub)
    assert open_fds() - fds_before == set()


def test_peer_closing_mid_transfer_reaches_both_sides(socketpairs):
    # Reset and EOF in the middle of transfers: errors reach the greenthreads, the hub goes on.
    hub = minievent.get_hub()
    a, b = socketpairs()
    reader = minievent.spawn(a.recv, 100)
    writer_a, writer_b = socketpairs()
    writer = minievent.spawn(writer_a.sendall, SockBlocked.BIG)
    minievent.sleep(0.01)
    b.close()  # EOF for the reader
    writer_b.close()  # the writer's peer goes away with its buffer full
    assert reader.wait() == b""
    with pytest.raises((BrokenPipeError, ConnectionResetError)):
        writer.wait()
    assert_hub_clean(hub)


def test_tpool_caller_killed_by_timeout_and_the_pool_goes_on(stop_tpool):
    hub = minievent.get_hub()
    release = threading.Event()
    with pytest.raises(minievent.Timeout):
        with minievent.Timeout(0.02):
            tpool.execute(release.wait, 5)
    release.set()
    while hub.keepalive:
        minievent.sleep(0.001)
    assert tpool.execute(lambda: 7) == 7
    assert_hub_clean(hub)
