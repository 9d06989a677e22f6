"""The lessons' four servers, each driven by N concurrent clients, stopped without leaks."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from support import open_fds

import minievent
from minievent import tpool
from minievent.scenarios.servers import (
    RESPONSE,
    BlockingServer,
    EpollServer,
    GreenServer,
    ThreadedServer,
    fetch_many,
)

SERVERS = [BlockingServer, ThreadedServer, EpollServer, GreenServer]


@pytest.fixture
def no_leaks(poller):
    # The hub (and its epoll fd and waker) exists before we count; the tpool
    # threads some earlier test may have left are stopped.
    minievent.get_hub()
    tpool.killall()
    threads, fds = threading.active_count(), open_fds()
    yield
    deadline = time.monotonic() + 5
    while threading.active_count() > threads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == threads
    assert open_fds() == fds


@pytest.mark.usefixtures("no_leaks")
@pytest.mark.parametrize("server_cls", SERVERS, ids=lambda c: c.name)
def test_n_clients_all_served(server_cls):
    hook = []
    with server_cls(on_event=lambda kind, client, t: hook.append(kind)) as srv:
        results = fetch_many(srv.address, 20)
    assert srv.address is None  # stopped
    assert [r.index for r in results] == list(range(20))
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    kinds = [e.kind for e in srv.events]
    assert kinds.count("accept") == kinds.count("request") == kinds.count("response") == 20
    assert hook == kinds
    # Every client's port shows up in the server's events.
    assert {r.port for r in results} == {e.client[1] for e in srv.events if e.kind == "request"}
    assert all(r.start <= r.end for r in results)


@pytest.mark.usefixtures("no_leaks")
@pytest.mark.parametrize("server_cls", SERVERS, ids=lambda c: c.name)
def test_delay_serialises_only_the_blocking_server(server_cls):
    n, delay = 5, 0.2
    with server_cls(delay=delay) as srv:
        t0 = time.perf_counter()
        results = fetch_many(srv.address, n)
        took = time.perf_counter() - t0
    assert all(r.ok for r in results)
    served = sorted(e.t for e in srv.events if e.kind == "response")
    if server_cls is BlockingServer:
        # One at a time: the answers come delay apart.
        assert took >= n * delay * 0.9
        assert all(b - a >= delay * 0.9 for a, b in zip(served, served[1:], strict=False))
    else:
        # All at once: the whole batch takes about one delay (generous bound).
        assert took < n * delay * 0.8, took


@pytest.mark.usefixtures("no_leaks")
@pytest.mark.parametrize("server_cls", [EpollServer, GreenServer], ids=lambda c: c.name)
def test_block_true_holds_the_loop(server_cls):
    n, delay = 3, 0.15
    with server_cls(delay=delay, block=True) as srv:
        t0 = time.perf_counter()
        results = fetch_many(srv.address, n)
        took = time.perf_counter() - t0
    assert all(r.ok for r in results)
    assert took >= n * delay * 0.9


@pytest.mark.usefixtures("no_leaks")
@pytest.mark.parametrize("server_cls", SERVERS, ids=lambda c: c.name)
def test_clients_that_leave_early_and_partial_requests(server_cls):
    with server_cls() as srv:
        # One client closes without a word; one sends half a request and leaves.
        quiet = socket.create_connection(srv.address)
        quiet.close()
        half = socket.create_connection(srv.address)
        half.sendall(b"GET / HTTP/1.0\r\n")
        half.close()
        # One sends its request in pieces (partial reads on the server).
        slow = socket.create_connection(srv.address, timeout=10)

        def dribble():
            for piece in (b"GET / HT", b"TP/1.0\r\n", b"\r\n"):
                slow.sendall(piece)
                time.sleep(0.02)

        t = threading.Thread(target=dribble)
        t.start()
        # Wait cooperatively: the green server needs this thread's hub to run.
        chunks = []
        while True:
            data = tpool.execute(slow.recv, 4096) if server_cls is GreenServer else slow.recv(4096)
            if not data:
                break
            chunks.append(data)
        t.join()
        slow.close()
        assert b"".join(chunks) == RESPONSE
        results = fetch_many(srv.address, 3)  # and it still serves others
        assert all(r.ok for r in results)
        deadline = time.monotonic() + 5
        while sum(e.kind == "early_close" for e in srv.events) < 2 and time.monotonic() < deadline:
            minievent.sleep(0.01)
    tpool.killall()
    kinds = [e.kind for e in srv.events]
    assert kinds.count("early_close") == 2
    assert kinds.count("response") == 4


@pytest.mark.parametrize("server_cls", SERVERS, ids=lambda c: c.name)
def test_start_twice_and_stop_twice(poller, server_cls):
    srv = server_cls()
    srv.start()
    with pytest.raises(RuntimeError):
        srv.start()
    srv.stop()
    srv.stop()  # harmless
    with pytest.raises(ValueError):
        server_cls(delay=-1)


def test_green_server_stop_kills_handlers_mid_request(no_leaks):
    srv = GreenServer(delay=5).start()
    c = socket.create_connection(srv.address)
    c.sendall(b"GET / HTTP/1.0\r\n\r\n")
    minievent.sleep(0.05)  # accepted, request read, now sleeping its 5 s
    assert [e.kind for e in srv.events] == ["accept", "request"]
    t0 = time.monotonic()
    srv.stop()
    assert time.monotonic() - t0 < 1
    c.settimeout(5)
    assert c.recv(100) == b""  # the handler's socket was closed
    c.close()
