"""The eventlet names minievent offers beyond the basics: each stated here in minievent's own words."""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
import threading
import time

import pytest
from support import child_env, need_module, run_python

import minievent
from minievent import debug, tpool

pytestmark = pytest.mark.usefixtures("poller")


# ---------------------------------------------------------------- tpool.Proxy
class Blocking:
    """Stands for a C driver's connection: its calls block the OS thread they run in."""

    label = "db"

    def query(self, seconds: float, answer: object = 42) -> tuple[object, int]:
        time.sleep(seconds)  # the real, blocking sleep
        return answer, threading.get_ident()

    def rows(self):
        for i in range(3):
            time.sleep(0.01)
            yield i, threading.get_ident()


def test_proxy_runs_method_calls_in_a_pool_thread_while_the_hub_goes_on(stop_tpool):
    during = minievent.spawn_after(0.05, time.monotonic)  # due while the call still blocks its thread
    t0 = time.monotonic()
    answer, thread = tpool.Proxy(Blocking()).query(0.3, answer="x")
    assert answer == "x" and thread != threading.get_ident()
    assert during.wait() - t0 < 0.25


def test_proxy_cheap_operations_run_in_the_callers_thread(stop_tpool):
    d = tpool.Proxy({"a": 1})
    assert d["a"] == 1 and len(d) == 1 and "a" in d and bool(d)
    d["b"] = 2
    del d["a"]
    assert str(d) == repr(d) == "{'b': 2}"
    assert tpool.Proxy(4) == 4 and 4 == tpool.Proxy(4) and tpool.Proxy(3) != 4
    assert hash(tpool.Proxy("k")) == hash("k")
    with pytest.raises(TypeError):
        hash(tpool.Proxy([]))
    with pytest.raises(IndexError):
        tpool.Proxy([])[0]
    assert tpool.Proxy(Blocking()).label == "db"  # a plain attribute: no thread


def test_proxy_errors_come_back_to_the_caller(stop_tpool):
    p = tpool.Proxy(Blocking())
    with pytest.raises(AttributeError):
        p.no_such_method()
    with pytest.raises(TypeError):
        p.query()  # missing argument: raised in the thread, re-raised here


def test_proxy_autowrap_by_type_and_by_name(stop_tpool):
    by_type = tpool.Proxy({"a": 1}, autowrap=(int,))
    assert isinstance(by_type.get("a"), tpool.Proxy)
    assert not isinstance(by_type.keys(), tpool.Proxy)
    by_name = tpool.Proxy(Blocking(), autowrap_names=("rows", "label"))
    assert isinstance(by_name.rows(), tpool.Proxy) and isinstance(by_name.label, tpool.Proxy)
    assert not isinstance(by_name.query(0), tpool.Proxy)
    wrapped = tpool.Proxy(Blocking(), autowrap=(Blocking,), autowrap_names=("label",))
    assert not isinstance(wrapped._obj, tpool.Proxy)  # never wrapped twice


def test_proxy_of_a_callable_and_of_an_iterator(stop_tpool):
    here = threading.get_ident()
    assert tpool.Proxy(threading.get_ident)() != here
    # Each next() of a proxied iterator runs in a pool thread too.
    assert not isinstance(tpool.Proxy(Blocking()).rows(), tpool.Proxy)  # no autowrap: returned as is
    items = list(tpool.Proxy(Blocking().rows()))
    assert [i for i, _ in items] == [0, 1, 2] and all(t != here for _, t in items)
    assert list(tpool.Proxy(range(3))) == [0, 1, 2]
    call = tpool.Proxy(Blocking().rows, autowrap_names=("__call__",))
    assert [i for i, t in call() if t != here] == [0, 1, 2]


def test_threadpool_size_is_read_from_eventlets_variable_too():
    def threads_with(**variables: str) -> str:
        """tpool's size in a fresh interpreter with just these ``*_THREADPOOL_SIZE`` variables set."""
        env = {k: v for k, v in child_env().items() if not k.endswith("_THREADPOOL_SIZE")}
        out = run_python("-c", "from minievent import tpool; print(tpool.get_num_threads())", env={**env, **variables})
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert threads_with(EVENTLET_THREADPOOL_SIZE="7") == "7"
    assert threads_with(EVENTLET_THREADPOOL_SIZE="7", MINIEVENT_THREADPOOL_SIZE="3") == "3"  # minievent's own wins


# ---------------------------------------------------------------- GreenPile, imap
def test_pile_gives_results_in_spawn_order_not_finish_order():
    pile = minievent.GreenPile(3)
    for i in range(6):
        pile.spawn(lambda i: (minievent.sleep(0.001 * (6 - i)), i)[1], i)
    assert list(pile) == list(range(6))
    assert list(minievent.GreenPile(2)) == []  # nothing spawned: ends at once


def test_pile_on_a_shared_pool_bounds_them_together():
    pool = minievent.GreenPool(2)
    a, b = minievent.GreenPile(pool), minievent.GreenPile(pool)
    peak = [0]

    def job(x):
        peak[0] = max(peak[0], pool.running())
        minievent.sleep(0.001)
        return x

    def fill(pile, base):
        for i in range(5):
            pile.spawn(job, base + i)

    minievent.spawn(fill, a, 0)
    minievent.spawn(fill, b, 10)
    minievent.sleep(0)
    assert list(b) == list(range(10, 15)) and list(a) == list(range(5))
    assert peak[0] == 2


def test_pile_iteration_reraises_in_order_and_goes_on():
    pile = minievent.GreenPile()
    for x in (1, 0, 2):
        pile.spawn(lambda x: 10 // x, x)
    assert next(pile) == 10
    with pytest.raises(ZeroDivisionError):
        next(pile)
    assert pile.next() == 5  # eventlet's spelling
    with pytest.raises(StopIteration):
        next(pile)


def test_pile_spawn_interrupted_while_the_pool_is_full_loses_no_place():
    pile = minievent.GreenPile(1)
    pile.spawn(minievent.sleep, 0.01)
    with pytest.raises(minievent.Timeout):
        with minievent.Timeout(0.001):
            pile.spawn(lambda: "never")
    pile.spawn(lambda: "after")
    assert list(pile) == [None, "after"]


def test_imap_goes_on_past_a_call_that_raised():
    pool = minievent.GreenPool(3)
    it = pool.imap(lambda x: 1 // (x % 3), range(6))
    got = []
    while True:
        try:
            got.append(next(it))
        except ZeroDivisionError:
            got.append("error")
        except StopIteration:
            break
    assert got == ["error", 1, 0, "error", 1, 0]


def test_imap_none_gives_the_argument_tuples_and_an_empty_input_ends():
    pool = minievent.GreenPool(2)
    assert list(pool.imap(None, "ab", [1, 2])) == [("a", 1), ("b", 2)]
    assert list(pool.imap(str, [])) == []
    assert list(pool.starmap(pow, [(2, 3), (3, 2)])) == [8, 9]


def test_imap_input_that_fails_raises_at_its_turn():
    def args():
        yield 1
        raise KeyError("input broke")

    it = minievent.GreenPool(2).imap(str, args())
    assert next(it) == "1"
    with pytest.raises(KeyError):
        next(it)
    with pytest.raises(StopIteration):
        next(it)


def test_pool_spawn_n_returns_the_greenthread_and_sizes_may_be_floats():
    pool = minievent.GreenPool(1e1)
    assert pool.size == 10
    gt = pool.spawn_n(lambda: 3)
    assert gt.wait() == 3
    with pytest.raises(TypeError):
        minievent.GreenPool("10")


# ---------------------------------------------------------------- hub introspection
def test_hub_lists_readers_writers_and_counts_timers(hub, pair):
    a, b = pair
    assert hub.get_readers() == [] and hub.get_writers() == []  # the hub's own waker is not listed
    reader = minievent.spawn(a.recv, 1)
    minievent.sleep(0)
    assert [x.fd for x in hub.get_readers()] == [a.fileno()]
    n, c = hub.get_timers_count(), hub.timers_canceled
    t = hub.schedule_call(10, lambda: None)
    assert hub.get_timers_count() == n + 1
    t.cancel()  # still in the heap, counted as cancelled, until it is swept out
    assert hub.get_timers_count() == n + 1 and hub.timers_canceled == c + 1
    for _ in range(2000):
        hub.schedule_call(10, lambda: None).cancel()
    assert hub.timers_canceled < 1000 and hub.get_timers_count() < 1000  # swept, not piled up
    assert hub.clock() == pytest.approx(time.monotonic(), abs=1) and type(hub).switch is type(hub).park
    b.sendall(b"x")
    assert reader.wait() == b"x"
    assert hub.get_readers() == []


# ---------------------------------------------------------------- debug
def test_blocking_detector_can_raise_in_the_stuck_code_when_asked():
    def stuck():
        time.sleep(3)  # the real sleep: the hub is held; the signal interrupts it
        return "not interrupted"

    before = signal.getsignal(signal.SIGALRM)
    t0 = time.monotonic()
    with debug.blocking_detection(0.1, on_block=lambda report: None, raise_exc=True) as detector:
        gt = minievent.spawn(stuck)
        with pytest.raises(debug.BlockingError, match="stuck"):
            gt.wait()
    assert time.monotonic() - t0 < 2 and len(detector.reports) == 1
    assert signal.getsignal(signal.SIGALRM) == before  # the handler put back


def test_listener_and_timer_stacks_say_where_they_were_made(hub, pair):
    a, b = pair
    debug.hub_listener_stacks(True)
    debug.hub_timer_stacks(True)
    try:

        def wait_here_for_data():
            return a.recv(1)

        gt = minievent.spawn(wait_here_for_data)
        timer = hub.schedule_call(30, lambda: None)
        minievent.sleep(0)
        listeners, timers = debug.format_hub_listeners(), debug.format_hub_timers()
        assert f"fd={a.fileno()}" in listeners and "wait_here_for_data" in listeners
        assert "test_listener_and_timer_stacks_say_where_they_were_made" in timers
        timer.cancel()
        assert "<Timer" not in debug.format_hub_timers()
    finally:
        debug.hub_listener_stacks(False)
        debug.hub_timer_stacks(False)
        b.sendall(b"x")
        gt.wait()
    assert "wait_here_for_data" not in debug.format_hub_listeners()


def test_greenthread_and_tpool_errors_printed_or_not(capsys, stop_tpool):
    debug.hub_exceptions(False)
    with pytest.raises(KeyError):
        minievent.spawn({}.__getitem__, "quiet").wait()
    assert "quiet" not in capsys.readouterr().err
    debug.hub_exceptions(True)
    with pytest.raises(KeyError):
        minievent.spawn({}.__getitem__, "loud").wait()
    assert "KeyError: 'loud'" in capsys.readouterr().err
    debug.tpool_exceptions(True)
    try:
        with pytest.raises(KeyError):
            tpool.execute({}.__getitem__, "in thread")
    finally:
        debug.tpool_exceptions(False)
    assert "KeyError: 'in thread'" in capsys.readouterr().err
    with pytest.raises(KeyError):
        tpool.execute({}.__getitem__, "silent")
    assert "silent" not in capsys.readouterr().err


def test_multiple_readers_cannot_be_allowed():
    debug.hub_prevent_multiple_readers(True)  # what minievent always does
    with pytest.raises(ValueError, match="one reader"):
        debug.hub_prevent_multiple_readers(False)


def test_spew_prints_lines_and_the_values_they_use(capsys):
    spewer = debug.Spew()
    answer = 41
    frame = sys._getframe()
    expected = frame.f_lineno + 1
    spewer(frame, "line", answer)
    out = capsys.readouterr().out
    assert f"{__name__}:{expected}:     spewer(frame" in out and "answer=41" in out
    debug.Spew(show_values=False)(frame, "line", None)
    assert "answer=" not in capsys.readouterr().out
    debug.Spew(trace_names=["elsewhere"])(frame, "line", None)
    assert capsys.readouterr().out == ""
    before = sys.gettrace()
    debug.spew()
    assert isinstance(sys.gettrace(), debug.Spew)
    debug.unspew()
    assert sys.gettrace() is None
    sys.settrace(before)
    assert answer == 41


# ---------------------------------------------------------------- convenience
def test_listen_shares_an_explicit_port_but_not_a_random_one():
    first = minievent.listen(("127.0.0.1", 0))
    try:
        assert first.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 0
        port = first.getsockname()[1]
        first.close()
        first = minievent.listen(("127.0.0.1", port))  # an explicit port: shared by default
        assert first.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        second = minievent.listen(("127.0.0.1", port))
        second.close()
        with pytest.raises(OSError):
            minievent.listen(("127.0.0.1", port), reuse_port=False)
    finally:
        first.close()
    with pytest.warns(minievent.convenience.ReuseRandomPortWarning):
        minievent.listen(("127.0.0.1", 0), reuse_port=True).close()


def test_listen_warns_when_the_platform_refuses_reuse_port(monkeypatch):
    def refuse(self, level, option, value):
        raise OSError(errno.ENOPROTOOPT, "Protocol not available")

    monkeypatch.setattr(minievent.GreenSocket, "setsockopt", refuse)
    with pytest.warns(minievent.convenience.ReusePortUnavailableWarning):
        minievent.listen(("127.0.0.1", 0), reuse_addr=False, reuse_port=True).close()


def test_a_green_socket_takes_attributes_like_a_python_object():
    s = minievent.GreenSocket()
    s.label = "mine"
    s.close()
    assert s.label == "mine"


def test_serve_raises_a_handlers_exception_and_closes_its_client():
    srv = minievent.listen(("127.0.0.1", 0))

    def handle(conn, addr):
        conn.recv(10)
        raise LookupError("handler broke")

    server = minievent.spawn(minievent.serve, srv, handle)
    client = minievent.connect(srv.getsockname())
    client.sendall(b"x")
    with pytest.raises(LookupError, match="handler broke"):
        server.wait()
    assert client.recv(10) == b""
    client.close()
    srv.close()
    assert minievent.listen is minievent.convenience.listen and minievent.serve is minievent.convenience.serve


# ---------------------------------------------------------------- greenio
def test_green_socket_takes_over_an_existing_socket_and_its_timeout():
    plain = socket.socket()
    plain.settimeout(0.05)
    fd = plain.fileno()
    green = minievent.GreenSocket(plain)
    try:
        assert green.fileno() == fd and plain.fileno() == -1  # the fd changed hands
        assert green.gettimeout() == 0.05 and green.fd is green
        assert not os.get_blocking(fd)  # the OS socket never blocks; the green one waits on the hub
        green.bind(("127.0.0.1", 0))
        green.listen(1)
        t0 = time.monotonic()
        with pytest.raises(socket.timeout):
            green.accept()
        assert time.monotonic() - t0 >= 0.04
    finally:
        green.close()


def test_get_fileno_takes_an_fd_or_an_object_with_fileno():
    from minievent.green import select

    class HasFileno:
        def fileno(self):
            return 7

    assert select.get_fileno(5) == 5 and select.get_fileno(HasFileno()) == 7
    with pytest.raises(TypeError, match="Expected int"):
        select.get_fileno("5")
    with pytest.raises(ValueError):
        select.get_fileno(-1)


def test_shutdown_safe_and_set_nonblocking(pair):
    a, b = pair
    minievent.greenio.shutdown_safe(a)
    assert b.recv(1) == b""  # the peer saw the shutdown
    a.close()
    minievent.greenio.shutdown_safe(a)  # closed: nothing to do, no error
    r, w = os.pipe()
    try:
        minievent.greenio.set_nonblocking(r)
        assert not os.get_blocking(r)
        with open(w, "wb", closefd=False) as f:
            minievent.greenio.set_nonblocking(f)
        assert not os.get_blocking(w)
    finally:
        os.close(r)
        os.close(w)


def test_green_pipe_reader_waits_without_blocking_the_others():
    r, w = os.pipe()
    reader = minievent.greenio.GreenPipe(r, "rb")
    writer = minievent.greenio.GreenPipe(w, "wb", 0)  # unbuffered: each write reaches the pipe
    ticks = []

    def tick():
        for _ in range(5):
            ticks.append(1)
            minievent.sleep(0.005)

    def write_slowly():
        for chunk in (b"one\n", b"two\r\n", b"x" * 200_000):  # more than a pipe holds: the writer waits too
            minievent.sleep(0.01)
            writer.write(chunk)
        writer.close()

    minievent.spawn(tick)
    gt = minievent.spawn(write_slowly)
    assert reader.readline() == b"one\n" and reader.readline() == b"two\r\n"
    assert reader.read() == b"x" * 200_000  # to the end of the stream
    gt.wait()
    reader.close()
    assert len(ticks) == 5


def test_green_pipe_on_a_path_behaves_as_open(tmp_path):
    path = tmp_path / "f"
    with minievent.greenio.GreenPipe(str(path), "w") as f:
        f.write("text ")
    with minievent.greenio.GreenPipe(str(path), "a") as f:
        f.write("appended")
    with minievent.greenio.GreenPipe(str(path), "r+b", 16) as f:
        assert f.read(4) == b"text"
        f.seek(0, 2)
        assert f.tell() == 13
    assert path.read_text() == "text appended"


def test_closing_a_green_pipe_wakes_its_reader():
    r, w = os.pipe()
    reader = minievent.greenio.GreenPipe(r, "rb", 0)
    gt = minievent.spawn(reader.read, 10)
    minievent.sleep(0)
    reader.close()
    with pytest.raises((OSError, ValueError)):
        with minievent.Timeout(2):
            gt.wait()
    os.close(w)


# ---------------------------------------------------------------- is_timeout
def test_is_timeout_knows_timeouts_and_what_is_marked_as_one(pair):
    assert minievent.is_timeout(minievent.Timeout()) and minievent.is_timeout(TimeoutError("x"))
    assert not minievent.is_timeout(OSError("x")) and not minievent.is_timeout(None)

    @minievent.wrap_is_timeout
    class Slow(Exception):
        pass

    assert minievent.is_timeout(Slow())
    assert not minievent.is_timeout(OSError("late"))
    a, b = pair
    a.settimeout(0.01)
    with pytest.raises(OSError) as info:
        a.recv(1)
    assert minievent.is_timeout(info.value)


def test_a_thread_pool_of_no_threads_runs_inline_and_says_so_a_negative_one_is_refused():
    # eventlet's meaning of 0 (no threads: inline, with a warning); a negative size is an error, not a hang.
    code = (
        "import warnings, threading\nfrom minievent import tpool\n"
        "with warnings.catch_warnings(record=True) as ws:\n    warnings.simplefilter('always')\n"
        "    inline = tpool.execute(threading.get_ident) == threading.get_ident()\n"
        "print(inline, len(ws), ws[0].category.__name__, 'Zero threads' in str(ws[0].message))"
    )
    for size, expected in (("0", "True 1 RuntimeWarning True"), ("-1", "ValueError")):
        out = run_python("-c", code, env=child_env(MINIEVENT_THREADPOOL_SIZE=size))
        assert expected in out.stdout + out.stderr, out.stderr


# ---------------------------------------------------------------- Queue: channel, resize, counts
def test_queue_of_size_zero_is_a_channel_put_waits_for_a_getter():
    chan = minievent.Queue(0)
    log = []

    def sender():
        for word in ("a", "b"):
            log.append(f"put {word}")
            chan.put(word)
            log.append(f"{word} taken")

    minievent.spawn(sender)
    minievent.sleep(0.01)
    assert log == ["put a"] and chan.putting() == 1 and chan.full() and chan.empty()
    assert chan.get() == "a"
    minievent.sleep(0)
    assert chan.get() == "b"
    minievent.sleep(0)
    assert log == ["put a", "a taken", "put b", "b taken"]
    with pytest.raises(minievent.Full):
        chan.put("nobody", timeout=0.01)
    with pytest.raises(minievent.Empty):
        chan.get_nowait()


def test_channel_put_to_a_waiting_getter_returns_after_the_getter_has_it():
    chan = minievent.Queue(0)
    log = []
    minievent.spawn(lambda: log.append(("got", chan.get())))
    minievent.sleep(0)
    chan.put("x")
    log.append("put returned")
    assert log == [("got", "x"), "put returned"]


def test_channel_hands_over_from_the_hub_without_waiting(hub):
    chan = minievent.Queue(0)
    getter = minievent.spawn(chan.get)
    minievent.sleep(0)
    assert chan.getting() == 1
    hub.schedule_call(0, chan.put_nowait, "from a callback")
    assert getter.wait() == "from a callback" and chan.getting() == 0
    putter = minievent.spawn(chan.put, "parked")
    minievent.sleep(0)
    got = []
    hub.schedule_call(0, lambda: got.append(chan.get_nowait()))
    minievent.sleep(0.01)
    assert got == ["parked"] and putter.dead


def test_queue_resize_lets_waiting_putters_in_and_never_drops_items():
    q = minievent.Queue(0)
    putter = minievent.spawn(q.put, "x")
    minievent.sleep(0)
    q.resize(1)
    minievent.sleep(0)
    assert putter.dead and list(q.queue) == ["x"]
    q.resize(None)  # unbounded
    for i in range(5):
        q.put(i)
    q.resize(1)  # smaller than what it holds: nothing is dropped, puts wait until it drains
    assert q.qsize() == 6 and q.full()
    assert minievent.Queue().maxsize is None and not minievent.Queue().full()


def test_queue_counts_unfinished_tasks_through_a_channel_too():
    chan = minievent.Queue(0)
    minievent.spawn(chan.put, "job")
    assert chan.get() == "job" and chan.unfinished_tasks == 1
    chan.task_done()
    assert chan.unfinished_tasks == 0 and chan.join(timeout=0)
    assert minievent.LightQueue is minievent.Queue


# ---------------------------------------------------------------- greenthreads
def test_spawn_n_returns_the_greenthread_and_cancel_only_stops_one_not_started():
    gt = minievent.spawn_n(lambda: "ran")
    assert not gt.dead
    minievent.sleep(0)
    assert gt.dead and gt.wait() == "ran"
    later = minievent.spawn_after(0.01, lambda: "never")
    later.cancel()
    with pytest.raises(minievent.GreenletExit):
        later.wait()
    started = minievent.spawn(minievent.sleep, 0.01)
    minievent.sleep(0)
    started.cancel()  # running already: cancel leaves it alone
    assert started.wait() is None


def test_throw_raises_in_the_greenthread(hub):
    q = minievent.Queue()
    victim = minievent.spawn(q.get)
    minievent.sleep(0)
    hub.schedule_call(0, victim.throw, KeyError("boom"))
    with pytest.raises(KeyError):
        victim.wait()
    q.put("kept")  # the killed getter took nothing with it
    assert q.get_nowait() == "kept"


def test_local_timers_die_with_the_greenthread_that_made_them(hub):
    fired = []

    def short_lived():
        hub.schedule_call_local(0.01, fired.append, "local")
        minievent.greenthread.spawn_after_local(0.01, fired.append, "spawned")
        hub.schedule_call(0.01, fired.append, "global")

    minievent.spawn(short_lived).wait()
    minievent.sleep(0.05)
    assert fired == ["global"]

    def long_lived():
        hub.schedule_call_local(0.01, fired.append, "local")
        minievent.greenthread.spawn_after_local(0.01, fired.append, "spawned")
        minievent.sleep(0.05)

    minievent.spawn(long_lived).wait()
    assert sorted(fired) == ["global", "local", "spawned"]


# ---------------------------------------------------------------- wrap_ssl
def test_wrap_ssl_serves_and_connects_green_tls(tmp_path):
    trustme = need_module("trustme")
    from minievent.green import ssl

    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    server = minievent.wrap_ssl(
        minievent.listen(("127.0.0.1", 0)), certfile=str(tmp_path / "server.pem"), server_side=True
    )
    assert isinstance(server, ssl.GreenSSLSocket)
    served = []

    def echo(conn, addr):
        conn.sendall(conn.recv(100).upper())
        served.append(addr)
        if len(served) == 2:
            raise minievent.StopServe

    # Server and clients share one OS thread: a handshake that blocked would never finish.
    srv = minievent.spawn(minievent.serve, server, echo)
    unchecked = minievent.wrap_ssl(minievent.connect(server.getsockname()))  # eventlet's default: no check
    checked = minievent.wrap_ssl(
        minievent.connect(server.getsockname()), cert_reqs=ssl.CERT_REQUIRED, ca_certs=str(tmp_path / "ca.pem")
    )
    # A checked peer certificate is shown by getpeercert(); an unchecked one is not.
    assert unchecked.getpeercert() == {} and checked.getpeercert()["subjectAltName"] == (("IP Address", "127.0.0.1"),)
    for client, word in ((unchecked, b"one"), (checked, b"two")):
        client.sendall(word)
        assert client.recv(100) == word.upper() and client.version().startswith("TLS")
        client.close()
    with minievent.Timeout(10):
        srv.wait()
    server.close()


def test_green_ssl_module_is_green_without_monkey_patch(tmp_path):
    trustme = need_module("trustme")
    import ssl as stdssl

    from minievent.green import ssl

    assert stdssl.SSLContext.sslsocket_class is stdssl.SSLSocket or minievent.patcher.is_monkey_patched("ssl")
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "s.pem"))
    server = ssl.wrap_socket(minievent.listen(("127.0.0.1", 0)), certfile=str(tmp_path / "s.pem"), server_side=True)
    accepted = minievent.spawn(server.accept)
    client = ssl.wrap_socket(minievent.connect(server.getsockname()))  # one OS thread: a blocking handshake hangs
    conn, _ = accepted.wait()
    conn.sendall(b"green")
    assert client.recv(10) == b"green"
    plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).wrap_socket(socket.socket(), server_hostname="x")
    assert isinstance(plain, ssl.GreenSSLSocket)
    for s in (plain, conn, client, server):
        s.close()


def test_semaphore_refuses_a_timeout_on_a_non_blocking_acquire_as_the_stdlib():
    import threading as std

    for sem in (minievent.Semaphore(1), std.Semaphore(1)):
        with pytest.raises(ValueError, match="non-blocking"):
            sem.acquire(blocking=False, timeout=1)
    assert minievent.Semaphore(1).acquire(blocking=False) is True
