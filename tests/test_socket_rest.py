"""The rest of the socket API, green and as the stdlib defines it: recvmsg/sendmsg, sendfile,
blocking modes (getblocking, timeout, O_NONBLOCK), the epoll selector, poll, select's and sendto's errors."""

from __future__ import annotations

import array
import fcntl
import os
import resource
import select
import selectors
import socket
import struct
import time

import pytest
from support import collect, open_fds, run_child, ticking

import minievent
from minievent.green import select as gselect
from minievent.green import selectors as gselectors
from minievent.green import socket as gsocket
from minievent.green import time as gtime


def fd_blocking(sock: socket.socket) -> bool:
    return not fcntl.fcntl(sock, fcntl.F_GETFL) & os.O_NONBLOCK


def test_recvmsg_waits_green_and_passes_an_fd(socketpairs):
    a, b = socketpairs(gsocket.socketpair)
    r, w = os.pipe()
    ticks = ticking()
    try:

        def send_later() -> None:
            minievent.sleep(0.1)
            b.sendmsg([b"fd"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [w]))])

        minievent.spawn(send_later)
        msg, anc, flags, _ = a.recvmsg(10, socket.CMSG_SPACE(4))
        assert msg == b"fd" and len(ticks) >= 5
        [(level, kind, data)] = anc
        assert (level, kind) == (socket.SOL_SOCKET, socket.SCM_RIGHTS)
        passed = array.array("i", data)[0]
        os.write(passed, b"through the passed fd")
        os.close(passed)
        assert os.read(r, 100) == b"through the passed fd"
        # recvmsg_into and recvfrom_into wait too; sendmsg takes a generator, as the stdlib does.
        buf = bytearray(5)
        minievent.spawn_after(0.05, b.sendmsg, (part for part in [b"he", b"llo"]))
        assert a.recvmsg_into([buf])[0] == 5 and buf == b"hello"
        minievent.spawn_after(0.05, b.send, b"xyz")
        assert a.recvfrom_into(buf)[0] == 3 and buf[:3] == b"xyz"
        a.settimeout(0.05)
        with pytest.raises(TimeoutError):
            a.recvmsg(10)
        a.settimeout(0)
        with pytest.raises(BlockingIOError):
            a.recvmsg_into([buf])
    finally:
        os.close(r)
        os.close(w)


def test_sendfile_uses_os_sendfile_and_waits_green(tmp_path, monkeypatch, socketpairs):
    data = os.urandom(4 << 20)  # far more than a socket buffer: os.sendfile must wait
    path = tmp_path / "big"
    path.write_bytes(data)
    calls = []
    real = os.sendfile
    monkeypatch.setattr(os, "sendfile", lambda *a: calls.append(1) or real(*a))
    a, b = socketpairs(gsocket.socketpair)
    ticks = ticking()
    got = bytearray()

    def read_slowly() -> None:
        while len(got) < len(data):
            got.extend(b.recv(1 << 16))
            minievent.sleep(0.001)

    reader = minievent.spawn(read_slowly)
    with open(path, "rb") as f:
        assert a.sendfile(f) == len(data)
        assert f.tell() == len(data)
    reader.wait()
    assert bytes(got) == data and len(calls) > 1 and len(ticks) > 3
    assert fd_blocking(a)  # os.sendfile needed a non-blocking fd only while it ran


def test_blocking_modes_as_the_stdlib_documents():
    for make in (socket.socket, gsocket.socket):  # the same answers, real and green
        s = make()
        seen = [(s.gettimeout(), s.getblocking(), fd_blocking(s))]
        for method, arg in (
            ("setblocking", False),
            ("settimeout", 2.5),
            ("setblocking", True),
            ("settimeout", 0),
            ("settimeout", None),
        ):
            getattr(s, method)(arg)
            seen.append((s.gettimeout(), s.getblocking(), fd_blocking(s)))
        assert seen == [
            (None, True, True),
            (0.0, False, False),
            (2.5, True, False),
            (None, True, True),
            (0.0, False, False),
            (None, True, True),
        ]
        s.close()
        s = make(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        assert (s.gettimeout(), s.getblocking(), fd_blocking(s), s.type) == (0.0, False, False, socket.SOCK_STREAM)
        s.close()
        for bad, exc in ((-1, ValueError), ("x", TypeError), (1e300, OverflowError), (float("nan"), ValueError)):
            with make() as s, pytest.raises(exc):
                s.settimeout(bad)
    socket.setdefaulttimeout(0.0)
    try:
        with gsocket.socket() as s:
            assert s.gettimeout() == 0.0 and not fd_blocking(s)
    finally:
        socket.setdefaulttimeout(None)


def test_a_blocking_fd_still_waits_green():
    srv = gsocket.create_server(("127.0.0.1", 0))
    ticks = ticking()
    try:
        assert fd_blocking(srv)
        accepted = minievent.spawn(srv.accept)
        minievent.sleep(0.05)
        c = gsocket.create_connection(srv.getsockname())
        conn, _ = accepted.wait()
        assert fd_blocking(srv) and fd_blocking(c) and fd_blocking(conn)
        reader = minievent.spawn(conn.recv, 10)
        minievent.sleep(0.1)  # recv waits on a blocking fd: the ticker goes on
        c.sendall(b"hi")
        assert reader.wait() == b"hi" and len(ticks) >= 10
        conn.close()
        c.close()
    finally:
        srv.close()


def test_set_nonblocking_keeps_the_fd_nonblocking_as_eventlets_sockets(raw_pair):
    from minievent.greenio import GreenSocket

    a, b = raw_pair
    ga, gb = GreenSocket(a, set_nonblocking=True), GreenSocket(b, set_nonblocking=False)
    try:
        assert not fd_blocking(ga) and fd_blocking(gb)  # in blocking mode (timeout None) both
        ga.settimeout(5)
        ga.settimeout(None)
        assert not fd_blocking(ga) and ga.getblocking()  # the option outlives a mode change
        reader = minievent.spawn(ga.recv, 10)
        minievent.sleep(0.01)
        gb.sendall(b"ok")
        assert reader.wait() == b"ok"
    finally:
        ga.close()
        gb.close()


def _reset_pair() -> tuple:
    # A connection whose peer closed with unread data: the kernel answers with a reset (RST).
    from minievent.greenio import GreenSocket

    srv = gsocket.create_server(("127.0.0.1", 0))
    c = gsocket.create_connection(srv.getsockname())
    conn, _ = srv.accept()
    srv.close()
    c.sendall(b"unread")
    minievent.sleep(0.01)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
    minievent.sleep(0.01)
    assert isinstance(c, GreenSocket)
    return c


@pytest.mark.parametrize("method", ["recv", "recv_into"])
def test_a_reset_raises_as_the_stdlib_or_reads_as_eof_when_asked(method, monkeypatch):
    from minievent.greenio import GreenSocket

    def read(sock):
        return sock.recv(10) if method == "recv" else sock.recv_into(bytearray(10))

    c = _reset_pair()
    with pytest.raises(ConnectionResetError):
        read(c)
    c.close()
    c = _reset_pair()
    c.reset_is_eof = True  # one socket
    got = read(c)
    assert got == (b"" if method == "recv" else 0) and type(got) is (bytes if method == "recv" else int)
    c.close()
    monkeypatch.setattr(GreenSocket, "reset_is_eof", True)  # every socket
    c = _reset_pair()
    assert not read(c)
    c.close()


def test_sendto_and_select_raise_the_stdlibs_errors():
    def error(fn, *args):
        try:
            fn(*args)
        except Exception as e:
            return type(e), str(e)
        return None

    with socket.socket(type=socket.SOCK_DGRAM) as real, gsocket.socket(type=socket.SOCK_DGRAM) as green:
        for args in ((b"x", 0, None), (b"x", None), (b"x",), (), ("str", ("127.0.0.1", 9))):
            assert error(green.sendto, *args) == error(real.sendto, *args) is not None, args
    for args in ((1, 2, 3), ([], [], [], "x"), ([], [], [], -1), ([], [], [], float("nan")), ([-1], [], [])):
        assert error(gselect.select, *args) == error(select.select, *args) is not None, args
    # A list is read as the stdlib reads it, even one that changes as it is read.
    a = []

    class Shrinks:
        def fileno(self) -> int:
            del a[-1]
            return 1

    a[:] = [Shrinks()] * 10
    assert gselect.select([], a, []) == ([], a[:5], [])
    r, w, x = gselect.select([], [], [], 0.01)
    assert r == w == x == [] and r is not w and w is not x
    with pytest.raises(ValueError, match="non-negative"):
        gtime.sleep(-1)


def test_epoll_selector_any_fd_number_green(socketpairs):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    a, b = socketpairs(gsocket.socketpair)
    high = os.dup2(a.fileno(), 2000)  # beyond select()'s FD_SETSIZE
    ticks = ticking()
    try:
        assert gselectors.DefaultSelector is gselectors.EpollSelector is gselectors.PollSelector
        assert issubclass(gselectors.EpollSelector, selectors.EpollSelector)
        with gselectors.DefaultSelector() as sel:
            sel.register(high, gselectors.EVENT_READ, "high")
            assert sel.select(0) == [] and sel.select(0.02) == []
            minievent.spawn_after(0.1, b.send, b"x")
            [(key, events)] = sel.select(5)
            assert key.data == "high" and events == gselectors.EVENT_READ and len(ticks) >= 5
        for cls in (selectors.SelectSelector, gselectors.SelectSelector):
            with cls() as sel, pytest.raises(ValueError, match="out of range"):  # select()'s limit, in both
                sel.register(high, gselectors.EVENT_READ)
                sel.select(0)
    finally:
        os.close(high)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_green_poll(socketpairs):
    a, b = socketpairs(gsocket.socketpair)
    ticks = ticking()
    p = gselect.poll()
    p.register(a, select.POLLIN)
    assert p.poll(0) == [] and p.poll(20) == []
    minievent.spawn_after(0.1, b.send, b"x")
    t0 = time.monotonic()
    assert p.poll() == [(a.fileno(), select.POLLIN)] and len(ticks) >= 5
    assert time.monotonic() - t0 < 2
    p.modify(a, select.POLLOUT)
    assert p.poll(-1) == [(a.fileno(), select.POLLOUT)]
    p.unregister(a)
    with pytest.raises(KeyError):
        p.unregister(a)
    with pytest.raises(TypeError):
        p.poll("soon")


def test_nothing_leaks_fds(tmp_path):
    minievent.sleep(0)  # (the hub's own fds are made on first use)
    collect()
    before = open_fds()
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100_000)
    for _ in range(20):
        srv = gsocket.create_server(("127.0.0.1", 0))
        c = gsocket.create_connection(srv.getsockname())
        conn, _ = srv.accept()
        with open(path, "rb") as f:
            minievent.spawn(c.sendfile, f)
            got = 0
            while got < 100_000:
                got += len(conn.recv(1 << 16))
        with gselectors.DefaultSelector() as sel:
            sel.register(conn, gselectors.EVENT_WRITE)
            assert sel.select(1)
        p = gselect.poll()
        p.register(conn)
        assert p.poll(1000)
        for s in (srv, c, conn):
            s.close()
    minievent.sleep(0.01)
    collect()
    assert open_fds() == before


PATCHED_CHILD = """
    import json, os, resource, select, selectors, threading
    import minievent
    minievent.monkey_patch()
    import subprocess
    name_of = lambda cls: [cls.__module__, cls.__name__]
    r = {"epoll_gone": not hasattr(select, "epoll"), "poll_green": select.poll.__module__,
         "selectors": [name_of(getattr(selectors, n)) for n in ("DefaultSelector", "PollSelector",
                                                                "EpollSelector", "SelectSelector")]}
    minievent.hub.Hub().close()  # a hub made after patching still gets the real epoll
    # More than 1024 fds open: subprocess waits in the green epoll selector, not select().
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    fds = [os.dup(0) for _ in range(1100)]
    ticks = []
    def tick():
        while True:
            ticks.append(1)
            minievent.sleep(0.01)
    minievent.spawn(tick)
    out = subprocess.run(["sh", "-c", "sleep 0.2; echo hi"], capture_output=True, timeout=10).stdout
    r.update(out=out.decode(), ticks=len(ticks), popen=name_of(subprocess._PopenSelector))
    try:
        import time; time.sleep(-1)
    except ValueError as e:
        r["sleep"] = str(e)
    print(json.dumps(r))
"""


def test_patched_process():
    out = run_child(PATCHED_CHILD)
    assert out["epoll_gone"] and out["poll_green"] == "minievent.green.select"
    assert out["selectors"] == [["minievent.green.selectors", "EpollSelector"]] * 3 + [
        ["minievent.green.selectors", "SelectSelector"]
    ]
    assert out["popen"] == ["minievent.green.selectors", "EpollSelector"]
    assert out["out"] == "hi\n" and out["ticks"] >= 10
    assert out["sleep"] == "sleep length must be non-negative"


def test_an_explicit_msg_dontwait_is_honoured_in_blocking_mode(socketpairs):
    a, b = socketpairs(gsocket.socketpair)
    assert a.getblocking() and b.getblocking()
    for call in (
        lambda: b.recv(10, socket.MSG_DONTWAIT),
        lambda: b.recvmsg(10, 0, socket.MSG_DONTWAIT),
        lambda: b.recvfrom(10, socket.MSG_DONTWAIT),
    ):
        with pytest.raises(BlockingIOError):  # as the stdlib: at once, not a wait
            call()
    with pytest.raises(BlockingIOError):
        while True:
            a.sendmsg([b"a" * 512], [], socket.MSG_DONTWAIT)
    with pytest.raises(BlockingIOError):
        a.sendall(b"a" * 512, socket.MSG_DONTWAIT)
