"""Green TLS against real TLS servers on 127.0.0.1, with certificates made at test time (trustme).

In this process both ends are green sockets in one hub (the context's
``sslsocket_class`` set per context); the monkey-patched cases run in child
processes against a threaded HTTPS server in this one.
"""

from __future__ import annotations

import os
import socket
import ssl
import textwrap
import time

import pytest
import trustme
from support import collect, last_json, open_fds, run_child, run_python, ticking

import minievent
from minievent.green import socket as gsocket
from minievent.green.ssl import GreenSSLSocket

LATENCY = 0.15


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def contexts(ca):
    """(server context, client context), both making green TLS sockets."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    server.sslsocket_class = client.sslsocket_class = GreenSSLSocket
    return server, client


def tls_pair(contexts, **client_kw):
    """A connected (server side, client side) pair of green TLS sockets, handshake done."""
    server_ctx, client_ctx = contexts
    with server_ctx.wrap_socket(gsocket.create_server(("127.0.0.1", 0)), server_side=True) as listener:
        accepted = minievent.spawn(listener.accept)
        client = client_ctx.wrap_socket(
            gsocket.create_connection(listener.getsockname()), server_hostname="localhost", **client_kw
        )
        if not client_kw.get("do_handshake_on_connect", True):
            assert client.version() is None  # not yet
            client.do_handshake()  # (green: the server's accept, in another greenthread, answers it)
        conn, _ = accepted.wait()
    return conn, client


def test_read_write_both_ways_large_and_green(contexts):
    conn, client = tls_pair(contexts)
    # Both ends send at once, far more than the buffers hold, in one OS thread: this ends only
    # if every TLS read and write that must wait parks its greenthread (else: a deadlock).
    big = os.urandom(3 << 20)
    try:
        assert isinstance(conn, GreenSSLSocket) and isinstance(client, ssl.SSLSocket)
        assert client.version() in ("TLSv1.2", "TLSv1.3") and client.getpeercert()["subject"]
        sender = minievent.spawn(client.sendall, big)
        echo = minievent.spawn(conn.sendall, big[::-1])
        got, back = bytearray(), bytearray()
        while len(got) < len(big) or len(back) < len(big):
            if len(got) < len(big):
                got += conn.recv(1 << 16)
            if len(back) < len(big):
                buf = bytearray(1 << 16)
                back += buf[: client.recv_into(buf)]
        sender.wait()
        echo.wait()
        assert bytes(got) == big and bytes(back) == big[::-1]
        client.write(b"line one\nline two\n")
        with conn.makefile("rb") as f:
            assert f.readline() == b"line one\n" and f.readline() == b"line two\n"
    finally:
        conn.close()
        client.close()


def test_timeouts_and_non_blocking_as_the_stdlib(contexts):
    conn, client = tls_pair(contexts)
    ticks = ticking()
    try:
        client.settimeout(0.2)
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):  # socket.timeout, as the stdlib's ssl raises
            client.recv(10)
        assert 0.15 < time.monotonic() - t0 < 2 and len(ticks) >= 10
        client.settimeout(0)
        with pytest.raises(ssl.SSLWantReadError):
            client.recv(10)
        client.settimeout(None)
        minievent.spawn_after(0.05, conn.sendall, b"late")
        assert client.recv(10) == b"late"
    finally:
        conn.close()
        client.close()


def test_handshake_timeout(contexts):
    _, client_ctx = contexts
    silent = gsocket.create_server(("127.0.0.1", 0))  # accepts (the backlog does), never answers
    ticks = ticking()
    try:
        sock = gsocket.create_connection(silent.getsockname(), timeout=0.2)
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            client_ctx.wrap_socket(sock, server_hostname="localhost")
        assert 0.15 < time.monotonic() - t0 < 2 and len(ticks) >= 10
        assert sock.fileno() == -1  # wrap_socket closes what it could not wrap, as in the stdlib
        sock = gsocket.create_connection(silent.getsockname())
        sock.setblocking(False)
        with pytest.raises(ValueError, match="non-blocking"):  # the stdlib's own check
            client_ctx.wrap_socket(sock, server_hostname="localhost")
    finally:
        silent.close()


def test_unwrap_then_plain_text_on_the_same_connection(contexts):
    conn, client = tls_pair(contexts)
    try:
        unwrapping = minievent.spawn(conn.unwrap)  # waits for the client's close_notify
        plain_client = client.unwrap()
        plain_conn = unwrapping.wait()
        plain_client.sendall(b"in the clear")
        assert plain_conn.recv(100) == b"in the clear"
        with pytest.raises(ValueError):
            client.read(1)  # the stdlib's error for a read with no TLS left
    finally:
        conn.close()
        client.close()


def test_sendfile_over_tls(contexts, tmp_path):
    data = os.urandom(1 << 20)
    (tmp_path / "f").write_bytes(data)
    conn, client = tls_pair(contexts)
    try:
        with open(tmp_path / "f", "rb") as f:
            sender = minievent.spawn(client.sendfile, f)
            got = bytearray()
            while len(got) < len(data):
                got += conn.recv(1 << 16)
            assert sender.wait() == len(data) and bytes(got) == data
    finally:
        conn.close()
        client.close()


def test_sni_callback_sees_the_name_and_handshake_on_demand(contexts):
    server_ctx, client_ctx = contexts
    seen = []
    server_ctx.sni_callback = lambda sslobj, name, ctx: seen.append(name)
    conn, client = tls_pair(contexts, do_handshake_on_connect=False)
    try:
        assert seen == ["localhost"] and client.version() is not None
        client.sendall(b"ping")
        assert conn.recv(4) == b"ping"
    finally:
        conn.close()
        client.close()


def test_ragged_eof(contexts):
    for suppress in (True, False):
        conn, client = tls_pair(contexts, suppress_ragged_eofs=suppress)
        try:
            socket.socket.shutdown(conn, socket.SHUT_RDWR)  # the TCP connection ends with no close_notify
            if suppress:
                assert client.recv(10) == b""
            else:
                with pytest.raises(ssl.SSLError):  # SSLEOFError or SSLZeroReturnError, as the stdlib's
                    client.recv(10)
        finally:
            conn.close()
            client.close()


def test_bad_input_gets_the_stdlibs_errors(contexts, ca):
    server_ctx, client_ctx = contexts
    with gsocket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, pytest.raises(NotImplementedError):
        client_ctx.wrap_socket(udp)
    with server_ctx.wrap_socket(gsocket.create_server(("127.0.0.1", 0)), server_side=True) as listener:
        accepted = minievent.spawn(listener.accept)
        with pytest.raises(ssl.SSLCertVerificationError):
            client_ctx.wrap_socket(gsocket.create_connection(listener.getsockname()), server_hostname="wrong.name")
        with pytest.raises(ssl.SSLError):
            accepted.wait()  # the server saw the client give up
    with pytest.raises(ValueError):
        GreenSSLSocket._create(gsocket.socket(), server_side=True, server_hostname="x", context=server_ctx)
    assert minievent.spawn(lambda: 42).wait() == 42  # the hub goes on


def test_no_fd_leaks(contexts):
    minievent.sleep(0)
    tls_pair(contexts)[0].close()  # (the first connection loads certificates, caches...)
    collect()
    before = open_fds()
    for _ in range(10):
        conn, client = tls_pair(contexts)
        client.sendall(b"x")
        assert conn.recv(1) == b"x"
        conn.close()
        client.close()
    collect()
    assert open_fds() == before


@pytest.fixture
def https_server(slow_http, ca, tmp_path):
    """A threaded HTTPS server in this (unpatched) process: every GET answers its path after LATENCY."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(ctx)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    srv = slow_http(LATENCY, ctx)
    return f"https://localhost:{srv.server_address[1]}", str(tmp_path / "ca.pem")


HTTPS_CHILD = """
    import json, sys, time
    if sys.argv[3] == "before":
        import ssl, urllib.request, requests
    import minievent
    minievent.monkey_patch()
    import ssl, urllib.request, requests
    from minievent.green.ssl import GreenSSLSocket
    base, cafile = sys.argv[1], sys.argv[2]
    ctx = ssl.create_default_context(cafile=cafile)
    def by_urllib(i):
        with urllib.request.urlopen(f"{base}/u{i}", context=ctx, timeout=30) as r:
            return r.read().decode()
    session = requests.Session()
    session.mount("https://", requests.adapters.HTTPAdapter(pool_maxsize=50))
    def by_requests(i):
        return session.get(f"{base}/r{i}", verify=cafile, timeout=30).text
    pool = minievent.GreenPool(50)
    out = {"class": ssl.SSLContext.sslsocket_class is GreenSSLSocket}
    for name, fn in (("urllib", by_urllib), ("requests", by_requests)):
        fn(-1)  # one first, alone: imports, certificate loading
        t0 = time.monotonic()
        out[name] = list(pool.imap(fn, range(50)))
        out[name + "_s"] = time.monotonic() - t0
    # The ssl.wrap_socket era helpers still in 3.11 make green sockets too.
    host, port = base.rsplit(":", 1)
    out["cert"] = ssl.get_server_certificate(("127.0.0.1", int(port))).startswith("-----BEGIN CERTIFICATE")
    import socket, warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        w = ssl.wrap_socket(socket.create_connection(("127.0.0.1", int(port))), cert_reqs=ssl.CERT_REQUIRED,
                            ca_certs=cafile)
    w.sendall(b"GET /w HTTP/1.0\\r\\n\\r\\n")
    with w, w.makefile("rb") as f:
        out["wrap_socket"] = [type(w).__name__, f.read().split(b"\\r\\n\\r\\n")[-1].decode()]
    print(json.dumps(out))
"""


@pytest.mark.parametrize("ssl_imported", ["before", "after"])
def test_https_urllib_and_requests_are_concurrent(https_server, ssl_imported):
    base, cafile = https_server
    out = run_child(HTTPS_CHILD, base, cafile, ssl_imported)
    assert out["class"] and out["cert"] and out["wrap_socket"] == ["GreenSSLSocket", "/w"]
    assert out["urllib"] == [f"/u{i}" for i in range(50)]
    assert out["requests"] == [f"/r{i}" for i in range(50)]
    # Serial, 50 requests would take 50 x 0.15 = 7.5 s; concurrent, about one latency (and not less:
    # the server really waited).
    assert LATENCY * 0.9 <= out["urllib_s"] < 2 and LATENCY * 0.9 <= out["requests_s"] < 2, out


LEFT_RUNNING_CHILD = """
    import json, ssl, sys, threading, socket
    import minievent
    minievent.monkey_patch()
    from minievent.green.ssl import GreenSSLSocket
    import trustme
    ca = trustme.CA()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    listener = server_ctx.wrap_socket(socket.create_server(("127.0.0.1", 0)), server_side=True)
    errors = []
    def serve():
        while True:
            try:
                conn, _ = listener.accept()
                conn.sendall(conn.recv(100))
            except ssl.SSLError as e:
                errors.append(type(e).__name__)
    minievent.spawn(serve)
    client_ctx = ssl.create_default_context()
    try:
        client_ctx.wrap_socket(socket.create_connection(listener.getsockname()), server_hostname="localhost")
    except ssl.SSLCertVerificationError:
        pass  # the client does not trust this CA: the handshake fails on both sides
    ca.configure_trust(client_ctx)
    c = client_ctx.wrap_socket(socket.create_connection(listener.getsockname()), server_hostname="localhost")
    c.sendall(b"still serving")
    print(json.dumps({"echo": c.recv(100).decode(), "errors": errors}))
    # The server greenthread is left waiting in accept: the process must still end, cleanly.
"""


def test_server_left_running_after_a_failed_handshake_never_crashes_the_process():
    proc = run_python("-c", textwrap.dedent(LEFT_RUNNING_CHILD))
    out = last_json(proc)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert out["echo"] == "still serving" and out["errors"] and out["errors"][0].startswith("SSL")
