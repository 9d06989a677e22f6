"""Bad input to every public function: a clear exception of the stdlib's kind, and the hub goes on.

Decisions (stdlib-like where the stdlib has an answer):

- a timeout of the wrong type is ``TypeError``; ``nan`` is ``ValueError`` (as
  ``time.sleep(nan)``);
- ``sleep`` / ``Timeout`` / ``spawn_after`` with a negative delay mean "now"
  (eventlet's behaviour); ``Queue`` and ``Semaphore`` reject a negative
  timeout with ``ValueError``, as ``queue.Queue`` and ``threading.Semaphore`` do;
- huge timeouts (``1e10``, ``inf``) mean "practically never": the wait lasts
  until something else ends it, and the hub never passes an overflowing
  timeout to epoll or select;
- closed sockets and invalid fds raise ``OSError`` (``EBADF``) or ``ValueError``
  for negative fds, as the ``socket`` module does.

After each case the hub must still run greenthreads, timers and sockets.
"""

from __future__ import annotations

import errno
import math
import os
import queue as stdqueue
import socket
import threading
import time

import pytest
from support import assert_hub_clean

import minievent
from minievent import GreenletExit, tpool
from minievent import hub as hubmod

pytestmark = pytest.mark.usefixtures("poller")

NAN = float("nan")
INF = float("inf")
HUGE = [1e10, 1e300, INF]


def _hub_still_works(a, b):
    hub = minievent.get_hub()
    assert not hub.greenlet.dead
    assert minievent.spawn(lambda: minievent.sleep(0.001) or "alive").wait() == "alive"
    a.setblocking(False)
    minievent.spawn(b.sendall, b"ping")
    minievent.trampoline(a, read=True, timeout=5)
    assert a.recv(4) == b"ping"
    assert_hub_clean(hub)


@pytest.fixture(autouse=True)
def hub_goes_on(socketpairs):
    yield
    _hub_still_works(*socketpairs(socket.socketpair))


# ----------------------------------------------------------------- wrong types, NaN
WRONG_TYPES = ["1", b"1", [1], object()]
BAD_TIMEOUTS = [*[(bad, TypeError) for bad in WRONG_TYPES], (NAN, ValueError)]


def case_id(value: object) -> str:
    """A test id that is the same in every run (a bare object's repr holds its address)."""
    if isinstance(value, type):
        return value.__name__
    return "object()" if type(value) is object else repr(value)


@pytest.mark.parametrize(("bad", "error"), BAD_TIMEOUTS, ids=case_id)
def test_bad_timeouts_are_refused_at_once_and_leave_nothing_behind(bad, error, raw_pair):
    # Every call that takes a timeout or a delay: a wrong type is a TypeError, NaN a ValueError.
    hub = minievent.get_hub()
    ev, q, full, sem = minievent.Event(), minievent.Queue(), minievent.Queue(1), minievent.Semaphore(0)
    full.put(0)
    a, b = raw_pair
    for call in [
        lambda: minievent.sleep(bad),
        lambda: minievent.Timeout(bad),
        lambda: minievent.with_timeout(bad, lambda: None),
        lambda: minievent.spawn_after(bad, lambda: None),
        lambda: hub.schedule_call(bad, lambda: None),
        lambda: ev.wait(timeout=bad),
        lambda: q.get(timeout=bad),
        lambda: full.put(1, timeout=bad),
        lambda: sem.acquire(timeout=bad),
        lambda: minievent.trampoline(a, read=True, timeout=bad),
    ]:
        with pytest.raises(error):
            call()
    assert (ev.statistics().waiting, q.getting(), full.putting(), sem.statistics().waiting) == (0, 0, 0, 0)
    assert full.qsize() == 1 and full.unfinished_tasks == 1
    assert hub.listeners() == []


def test_time_sleep_agrees_on_types():
    # the model we follow
    with pytest.raises(TypeError):
        time.sleep("1")
    with pytest.raises(ValueError):
        time.sleep(NAN)


@pytest.mark.parametrize("bad", [None, 1, "f", object()], ids=case_id)
def test_spawn_of_a_non_callable_is_a_type_error_everywhere(bad):
    pool = minievent.GreenPool(2)
    for call in [minievent.spawn, minievent.spawn_n, pool.spawn, pool.spawn_n, lambda f: minievent.spawn_after(0, f)]:
        with pytest.raises(TypeError):
            call(bad)
    assert pool.running() == 0 and pool.free() == 2


@pytest.mark.parametrize("bad", ["3", 1.5, None], ids=repr)
def test_sizes_of_the_wrong_type(bad):
    for cls in (minievent.Queue, minievent.Semaphore, minievent.BoundedSemaphore, minievent.GreenPool):
        if cls is minievent.Queue and bad is None:
            continue  # Queue(None) is unbounded, as in eventlet
        with pytest.raises(TypeError):
            cls(bad)


def test_kill_and_wait_on_things_that_are_not_greenthreads():
    for bad in (None, 1, minievent.Event(), threading.current_thread()):
        with pytest.raises(TypeError):
            minievent.kill(bad)


# ----------------------------------------------------------------- NaN
def test_nan_in_a_greenthread_does_not_spin_the_hub():
    gt = minievent.spawn(minievent.sleep, NAN)
    with pytest.raises(ValueError):
        gt.wait()


# ----------------------------------------------------------------- negative
@pytest.mark.parametrize("neg", [-1, -1e300, -INF])
def test_negative_delays_mean_now(neg):
    t0 = time.monotonic()
    minievent.sleep(neg)
    with pytest.raises(minievent.Timeout):
        with minievent.Timeout(neg):
            minievent.sleep(1)
    assert minievent.spawn_after(neg, lambda: "ran").wait() == "ran"
    assert minievent.Event().wait(timeout=neg) is None
    assert time.monotonic() - t0 < 1


@pytest.mark.parametrize("neg", [-1, -INF])
def test_negative_timeouts_on_queue_and_semaphore_are_value_errors(neg):
    q, sem = minievent.Queue(), minievent.Semaphore(0)
    with pytest.raises(ValueError):
        q.get(timeout=neg)
    with pytest.raises(ValueError):
        q.put(1, timeout=neg)
    with pytest.raises(ValueError):
        sem.acquire(timeout=neg)
    assert q.qsize() == 0 and q.unfinished_tasks == 0
    # the stdlib agrees
    with pytest.raises(ValueError):
        stdqueue.Queue().get(timeout=-1)


# ----------------------------------------------------------------- huge
@pytest.mark.parametrize("huge", HUGE)
def test_huge_timeouts_wait_until_something_else_ends_them(huge):
    # The huge timer is the hub's *nearest* one while the main greenlet waits
    # for a thread: the hub must not hand epoll/select an overflowing timeout.
    hub = minievent.get_hub()
    ev = minievent.Event()
    q = minievent.Queue()
    sem = minievent.Semaphore(0)
    sleepers = [
        minievent.spawn(minievent.sleep, huge),
        minievent.spawn(ev.wait, huge),
        minievent.spawn(q.get, timeout=huge),
        minievent.spawn(sem.acquire, timeout=huge),
        minievent.spawn(minievent.with_timeout, huge, ev.wait),
    ]
    done = minievent.Event()
    hub.keepalive += 1
    try:
        t = threading.Thread(target=lambda: (time.sleep(0.05), hub.call_threadsafe(done.send, "from thread")))
        t.start()
        assert done.wait() == "from thread"
        t.join()
    finally:
        hub.keepalive -= 1
    assert not any(s.dead for s in sleepers)
    ev.send("sent")
    q.put("item")
    sem.release()
    results = []
    for s in sleepers[1:]:
        results.append(s.wait())
    assert results == ["sent", "item", True, "sent"]
    sleepers[0].kill()
    with pytest.raises(GreenletExit):
        sleepers[0].wait()


@pytest.mark.parametrize("huge", HUGE)
def test_huge_timeout_on_sockets_and_trampoline(pair, huge):
    a, b = pair
    # As the stdlib: a timeout beyond time_t is an OverflowError (the huge wait is trampoline's).
    with socket.socket() as real, pytest.raises(OverflowError):
        real.settimeout(huge)
    with pytest.raises(OverflowError):
        a.settimeout(huge)
    reader = minievent.spawn(a.recv, 10)
    tramp = minievent.spawn(minievent.trampoline, b.fileno(), read=True, timeout=huge)
    minievent.sleep(0.02)
    assert not reader.dead and not tramp.dead
    b.sendall(b"x")
    a.sendall(b"y")
    assert reader.wait() == b"x"
    assert tramp.wait() is None
    assert b.recv(1) == b"y"


def test_huge_timeout_with_nothing_else_is_not_a_loop_exit_nor_a_crash():
    # A timer far away keeps the main greenlet waiting (it *can* be delivered),
    # so this must be ended from outside: a Timeout nearer than the huge one.
    ev = minievent.Event()
    with pytest.raises(minievent.Timeout):
        with minievent.Timeout(0.05):
            ev.wait(timeout=1e10)
    assert ev.statistics().waiting == 0


def test_sleep_until_the_end_of_time_can_still_be_killed():
    gt = minievent.spawn(minievent.sleep, INF)
    minievent.sleep(0.01)
    assert not gt.dead
    gt.kill()
    with pytest.raises(GreenletExit):
        gt.wait()


def test_the_poll_timeout_is_capped():
    # White box: what the hub would give epoll for a timer 1e10 s away.
    hub = minievent.get_hub()
    seen = []
    real = hub.poller.poll

    def spy(timeout):
        seen.append(timeout)
        return real(0)

    hub.poller.poll = spy
    try:
        t = hub.schedule_call(1e10, lambda: None)
        stop = hub.schedule_call(0.02, lambda: None)
        minievent.sleep(0.03)
        t.cancel()
        stop.cancel()
        gt = minievent.spawn(minievent.sleep, 1e10)
        hub.schedule_call(0.01, gt.kill)
        with pytest.raises(GreenletExit):
            gt.wait()
    finally:
        del hub.poller.poll
    assert seen and all(x is None or (math.isfinite(x) and 0 <= x <= hubmod.MAX_POLL_TIMEOUT) for x in seen), seen


# ----------------------------------------------------------------- misuse of primitives
def test_primitive_misuse_errors():
    ev = minievent.Event()
    with pytest.raises(AssertionError):
        ev.reset()
    ev.send(1)
    with pytest.raises(AssertionError):
        ev.send(2)
    with pytest.raises(TypeError):
        ev.send_exception()
    q = minievent.Queue(1)
    with pytest.raises(ValueError):
        q.task_done()
    q.put(1)
    with pytest.raises(minievent.Full):
        q.put(2, block=False)
    with pytest.raises(minievent.Full):
        q.put(2, timeout=0)
    with pytest.raises(minievent.Full):
        q.put(2, timeout=0.001)
    assert q.get() == 1
    with pytest.raises(minievent.Empty):
        q.get_nowait()
    assert minievent.Empty is stdqueue.Empty and minievent.Full is stdqueue.Full
    bs = minievent.BoundedSemaphore(1)
    with pytest.raises(ValueError):
        bs.release()
    with pytest.raises(ValueError):
        minievent.Semaphore(-1)
    with pytest.raises(RuntimeError, match="already started"):
        t = minievent.Timeout(10)
        try:
            t.start()
        finally:
            t.cancel()
    with pytest.raises(ValueError):
        minievent.trampoline(0)
    with pytest.raises(ValueError):
        minievent.trampoline(0, read=True, write=True)


def test_blocking_call_from_a_hub_callback_is_reported_not_fatal(capsys):
    hub = minievent.get_hub()
    for fn in (lambda: minievent.sleep(0.5), lambda: minievent.Event().wait(), lambda: minievent.Queue().get()):
        hub.schedule_call(0, fn)
    minievent.sleep(0.01)
    err = capsys.readouterr().err
    assert err.count("exception in hub callback") == 3
    assert err.count("was made from inside the hub") == 3  # (sleep(0) is not a wait: it returns)


# ----------------------------------------------------------------- fds and sockets
def _closed_fd():
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    return r


def test_trampoline_on_invalid_fds():
    hub = minievent.get_hub()
    with pytest.raises(ValueError):
        minievent.trampoline(-1, read=True)
    with pytest.raises(TypeError):
        minievent.trampoline("3", read=True)
    with pytest.raises(TypeError):
        minievent.trampoline(3.0, read=True)
    with pytest.raises(OSError) as info:
        minievent.trampoline(_closed_fd(), read=True, timeout=1)
    assert info.value.errno == errno.EBADF
    s = socket.socket()
    s.close()
    with pytest.raises((OSError, ValueError)):
        minievent.trampoline(s, read=True, timeout=1)  # fileno() of a closed socket is -1
    assert hub.listeners() == []


def test_calls_on_a_closed_green_socket_raise_oserror(pair):
    a, b = pair
    b.close()
    a.close()
    for call in [
        lambda: a.recv(1),
        lambda: a.recv_into(bytearray(1)),
        lambda: a.send(b"x"),
        lambda: a.sendall(b"x"),
        lambda: a.accept(),
        lambda: a.connect("/nonexistent/minievent.sock"),  # an AF_UNIX pair
        lambda: a.getpeername(),
    ]:
        with pytest.raises(OSError) as info:
            call()
        assert info.value.errno == errno.EBADF, call
    a.close()  # closing twice is fine, as in the stdlib


def test_green_socket_wrong_arguments(pair):
    a, b = pair
    for call, exc in [
        (lambda: a.sendall("str"), TypeError),
        (lambda: a.send(None), TypeError),
        (lambda: a.recv("10"), TypeError),
        (lambda: a.recv(-1), ValueError),
        (lambda: a.settimeout("1"), TypeError),
        (lambda: a.settimeout(-1), ValueError),
        (lambda: a.settimeout(NAN), ValueError),
    ]:
        with pytest.raises(exc):
            call()
    a.settimeout(1)
    b.sendall(b"ok")
    assert a.recv(2) == b"ok"  # still a working socket


def test_listen_and_connect_bad_addresses():
    with pytest.raises(OverflowError):  # as socket.bind says
        minievent.listen(("127.0.0.1", 70000))
    with pytest.raises((TypeError, OSError)):
        minievent.listen("not an address")
    with pytest.raises(OSError):
        minievent.connect(("127.0.0.1", 1))  # refused (nothing listens on port 1)
    with pytest.raises((TypeError, OSError)):
        minievent.connect(None)
    srv = minievent.listen(("127.0.0.1", 0))
    try:
        with pytest.raises(OSError):
            minievent.listen(srv.getsockname(), reuse_addr=False)  # in use
    finally:
        srv.close()
    assert minievent.get_hub().listeners() == []


def test_serve_checks_its_arguments_at_once():
    srv = minievent.listen(("127.0.0.1", 0))
    try:
        with pytest.raises(TypeError, match="listening socket"):
            minievent.serve(None, lambda conn, addr: None)
        with pytest.raises(TypeError, match="handler"):
            minievent.serve(srv, None)  # not only when the first client comes
        with pytest.raises(ValueError):
            minievent.serve(srv, lambda conn, addr: None, concurrency=-1)
        with pytest.raises(TypeError):
            minievent.serve(srv, lambda conn, addr: None, concurrency="10")
    finally:
        srv.close()


def test_create_connection_bad_addresses():
    with pytest.raises(ValueError):
        minievent.create_connection("nope")  # as socket.create_connection
    with pytest.raises(TypeError):
        minievent.create_connection(("127.0.0.1", 1), timeout="1")
    with pytest.raises(ConnectionRefusedError):
        minievent.create_connection(("127.0.0.1", 1), timeout=5)


def test_socket_closed_by_another_greenthread_while_blocked(pair):
    srv = minievent.listen(("127.0.0.1", 0))
    a, b = pair
    acceptor = minievent.spawn(srv.accept)
    reader = minievent.spawn(a.recv, 10)
    minievent.sleep(0.01)
    srv.close()
    a.close()
    for gt in (acceptor, reader):
        with pytest.raises(OSError) as info:
            gt.wait()
        assert info.value.errno == errno.EBADF
    assert minievent.get_hub().listeners() == []


def test_fd_closed_behind_the_sockets_back(pair):
    # os.close on a green socket's fd (a bug in user code): calls fail with EBADF, nothing hangs.
    a, b = pair
    os.close(a.fileno())
    with pytest.raises(OSError):
        a.recv(1)
    a.detach()
    assert minievent.get_hub().listeners() == []


# ----------------------------------------------------------------- tpool
def test_tpool_bad_input():
    try:
        with pytest.raises(TypeError):
            tpool.execute(None)
        with pytest.raises(TypeError):
            tpool.execute(lambda x: x)  # missing argument: raised in the thread, re-raised here
        with pytest.raises(ValueError):
            tpool.set_num_threads(-1)
        with pytest.raises(ValueError):
            tpool.set_num_threads("4")
        with pytest.raises(ZeroDivisionError):
            tpool.execute(lambda: 1 / 0)
        assert tpool.execute(lambda: "fine") == "fine"
        assert minievent.get_hub().keepalive == 0
    finally:
        tpool.killall()
