"""GreenSocket: the blocking socket API on the hub, under both pollers."""

from __future__ import annotations

import errno
import hashlib
import os
import random
import socket
import struct
import time

import pytest
from support import echo

import minievent
from minievent.greenio import trampoline
from minievent.hub import get_hub

pytestmark = pytest.mark.usefixtures("poller")

ADDR = ("127.0.0.1", 0)


def test_echo_200_clients_1mib_each():
    srv = minievent.listen(ADDR, backlog=256)
    server = minievent.spawn(minievent.serve, srv, echo)
    size = 1 << 20

    def client(i):
        data = random.Random(i).randbytes(size)
        c = minievent.connect(srv.getsockname())

        def writer():
            view = memoryview(data)
            for off in range(0, size, 50_000):  # uneven chunks on purpose
                c.sendall(view[off : off + 50_000])
            c.shutdown(socket.SHUT_WR)

        w = minievent.spawn(writer)
        digest, got = hashlib.sha256(), 0
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            digest.update(chunk)
            got += len(chunk)
        w.wait()
        c.close()
        return got, digest.hexdigest() == hashlib.sha256(data).hexdigest()

    with minievent.Timeout(90):
        results = list(minievent.GreenPool(200).imap(client, range(200)))
    server.kill()
    srv.close()
    assert results == [(size, True)] * 200


def test_accept_returns_green_socket_and_addresses():
    with minievent.listen(ADDR) as srv:
        c = minievent.connect(srv.getsockname())
        conn, addr = srv.accept()
        assert isinstance(conn, minievent.GreenSocket)
        assert isinstance(conn, socket.socket)  # stdlib code may check this
        assert addr == c.getsockname() == conn.getpeername()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        c.sendall(b"ping")
        assert conn.recv(10) == b"ping"
        conn.close()
        c.close()
    assert srv.fileno() == -1  # the context manager closed it


def test_recv_timeout_raises_socket_timeout_and_socket_still_works(pair):
    a, b = pair
    a.settimeout(0.1)
    assert a.gettimeout() == 0.1
    t0 = time.monotonic()
    with pytest.raises(socket.timeout):
        a.recv(10)
    assert time.monotonic() - t0 >= 0.09
    b.sendall(b"late")
    assert a.recv(10) == b"late"


def test_timeout_and_data_in_same_iteration_resume_once(pair):
    # Data arrives *and* the timeout expires while the hub is blocked: both
    # entries become ready together. The reader must resume exactly once; a
    # second (stray) resume would cut its following sleep short.
    a, b = pair
    a.settimeout(0.05)
    log = []

    def reader():
        try:
            log.append(("recv", a.recv(10)))
        except TimeoutError:
            log.append(("timeout", None))
        t0 = time.monotonic()
        minievent.sleep(0.2)
        log.append(("slept", time.monotonic() - t0))

    gt = minievent.spawn(reader)
    minievent.sleep(0)  # reader parks in recv
    b.sendall(b"x")
    time.sleep(0.1)  # block the hub past the timeout: both are due at once
    gt.wait()
    assert log[0] in (("recv", b"x"), ("timeout", None))
    assert log[1][0] == "slept" and log[1][1] >= 0.19


def test_settimeout_validation_and_blocking_modes():
    s = minievent.GreenSocket()
    with pytest.raises(ValueError):
        s.settimeout(-1)
    with pytest.raises(TypeError):
        s.settimeout("1")  # type: ignore[arg-type]
    s.setblocking(False)
    assert s.gettimeout() == 0.0 and not s.getblocking()
    s.setblocking(True)
    assert s.gettimeout() is None and s.getblocking()
    s.close()


def test_non_blocking_mode_raises_blocking_io_error(pair):
    a, b = pair
    a.setblocking(False)
    with pytest.raises(BlockingIOError):
        a.recv(10)


def test_connect_refused():
    probe = socket.socket()
    probe.bind(ADDR)
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with pytest.raises(ConnectionRefusedError):
        minievent.connect(("127.0.0.1", port))
    s = minievent.GreenSocket()
    assert s.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED
    s.close()


def test_create_connection_with_timeout():
    with minievent.listen(ADDR) as srv:
        c = minievent.create_connection(srv.getsockname(), timeout=5)
        assert isinstance(c, minievent.GreenSocket) and c.gettimeout() == 5
        conn, _ = srv.accept()
        conn.close()
        c.close()


def test_makefile_lines():
    with minievent.listen(ADDR) as srv:

        def server():
            conn, _ = srv.accept()
            with conn, conn.makefile("rwb") as f:
                for line in f:
                    f.write(line.upper())
                    f.flush()

        gt = minievent.spawn(server)
        c = minievent.connect(srv.getsockname())
        r = c.makefile("r", encoding="ascii")
        w = c.makefile("w", encoding="ascii")
        got = []
        for word in ["alpha", "beta", "gamma"]:
            w.write(word + "\n")
            w.flush()
            got.append(r.readline())
        w.close()
        c.shutdown(socket.SHUT_WR)
        assert r.readline() == ""  # EOF once the server has finished
        r.close()
        c.close()
        gt.wait()
    assert got == ["ALPHA\n", "BETA\n", "GAMMA\n"]


def test_close_wakes_a_blocked_reader_with_ebadf(pair):
    a, b = pair
    outcome = []

    def reader():
        t0 = time.monotonic()
        try:
            a.recv(10)
        except OSError as e:
            outcome.append((e.errno, time.monotonic() - t0))

    gt = minievent.spawn(reader)
    minievent.sleep(0.01)  # reader is now parked in recv
    a.close()
    with minievent.Timeout(5):
        gt.wait()
    assert outcome and outcome[0][0] == errno.EBADF and outcome[0][1] < 1


def test_fd_reuse_never_wakes_a_stale_waiter(socketpairs):
    a, b = socketpairs()
    fd = a.fileno()
    woken = []

    def stale():
        try:
            a.recv(10)
        except OSError as e:
            woken.append(("stale", e.errno))

    gt = minievent.spawn(stale)
    minievent.sleep(0)
    a.close()
    b.close()
    # New sockets: one of them gets the freed fd number.
    c, d = socketpairs()
    assert fd in (c.fileno(), d.fileno())
    new, peer = (c, d) if c.fileno() == fd else (d, c)

    def fresh():
        woken.append(("fresh", new.recv(10)))

    gt2 = minievent.spawn(fresh)
    minievent.sleep(0)
    peer.sendall(b"new data")
    with minievent.Timeout(5):
        gt.wait()
        gt2.wait()
    assert woken == [("stale", errno.EBADF), ("fresh", b"new data")]


def test_fd_closed_behind_the_hubs_back_is_rearmed_for_a_new_socket(socketpairs):
    # A plain socket waited on with trampoline, then closed without telling
    # the hub: the poller still thinks that fd number is registered. A green
    # socket that gets the number must still be woken.
    raw_a, raw_b = socketpairs(socket.socketpair)
    raw_b.send(b"x")
    trampoline(raw_a, read=True, timeout=5)
    fd = raw_a.fileno()
    raw_a.close()
    raw_b.close()
    c, d = socketpairs()
    new, peer = (c, d) if c.fileno() == fd else (d, c)
    gt = minievent.spawn(new.recv, 10)
    minievent.sleep(0)
    peer.sendall(b"hello")
    with minievent.Timeout(5):
        assert gt.wait() == b"hello"


def test_two_readers_on_one_socket_get_a_clear_error(pair):
    a, b = pair
    first = minievent.spawn(a.recv, 10)
    minievent.sleep(0)
    with pytest.raises(RuntimeError, match="second simultaneous read"):
        a.recv(10)
    b.sendall(b"ok")
    assert first.wait() == b"ok"


def test_killed_reader_releases_the_socket(pair):
    a, b = pair
    gt = minievent.spawn(a.recv, 10)
    minievent.sleep(0)
    gt.kill()
    b.sendall(b"after")
    assert a.recv(10) == b"after"  # no leftover listener: this is not a second reader


def test_bad_input_and_closed_socket(pair):
    a, b = pair
    with pytest.raises(TypeError):
        a.send("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        a.sendall("text")  # type: ignore[arg-type]
    a.close()
    for call in (lambda: a.recv(1), lambda: a.send(b"x"), lambda: a.sendall(b"x"), lambda: a.accept()):
        with pytest.raises(OSError) as info:
            call()
        assert info.value.errno == errno.EBADF


def test_connection_reset_reaches_the_reader_and_the_hub_goes_on():
    with minievent.listen(ADDR) as srv:
        c = minievent.connect(srv.getsockname())
        conn, _ = srv.accept()
        ticks = []

        def ticker():
            for _ in range(5):
                minievent.sleep(0.01)
                ticks.append(1)

        t = minievent.spawn(ticker)

        def reader():
            conn.recv(10)

        r = minievent.spawn(reader)
        minievent.sleep(0.005)
        # SO_LINGER 0 turns close() into a reset.
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        with pytest.raises(ConnectionResetError):
            r.wait()
        t.wait()
        assert len(ticks) == 5
        conn.close()


def test_sendall_large_waits_for_the_peer(pair):
    a, b = pair
    data = os.urandom(4 << 20)  # more than the socket buffers hold
    gt = minievent.spawn(a.sendall, data)
    got = bytearray()
    while len(got) < len(data):
        got += b.recv(1 << 16)
    gt.wait()
    assert bytes(got) == data


def test_udp_sendto_recvfrom():
    r = minievent.GreenSocket(socket.AF_INET, socket.SOCK_DGRAM)
    r.bind(ADDR)
    s = minievent.GreenSocket(socket.AF_INET, socket.SOCK_DGRAM)
    gt = minievent.spawn(r.recvfrom, 100)
    minievent.sleep(0)
    s.sendto(b"datagram", r.getsockname())
    data, addr = gt.wait()
    assert data == b"datagram" and addr[1] == s.getsockname()[1]
    buf = bytearray(10)
    s.sendto(b"into", 0, r.getsockname())
    assert r.recv_into(buf) == 4 and buf[:4] == b"into"
    r.close()
    s.close()


def test_serve_stops_on_stopserve():
    srv = minievent.listen(ADDR)
    seen = []

    def handle(conn, addr):
        line = conn.recv(100)
        seen.append(line)
        conn.sendall(b"bye")
        if line == b"stop":
            raise minievent.StopServe()

    server = minievent.spawn(minievent.serve, srv, handle)
    for word in (b"one", b"stop"):
        c = minievent.connect(srv.getsockname())
        c.sendall(word)
        assert c.recv(10) == b"bye"
        assert c.recv(10) == b""  # serve closed the client socket
        c.close()
    with minievent.Timeout(5):
        server.wait()
    assert seen == [b"one", b"stop"]
    srv.close()


def test_hub_does_not_keep_closed_sockets(pair):
    hub = get_hub()
    before = len(hub.readers) + len(hub.writers)
    a, b = pair
    gt = minievent.spawn(a.recv, 10)
    minievent.sleep(0)
    assert len(hub.readers) + len(hub.writers) == before + 1
    a.close()
    with pytest.raises(OSError):
        gt.wait()
    b.close()
    assert len(hub.readers) + len(hub.writers) == before
