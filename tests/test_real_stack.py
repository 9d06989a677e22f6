"""Real client libraries against real servers, under monkey_patch(): correct, and concurrent.

Each case runs tests/real_clients.py in a child process (patching must not leak
into this one): 50 greenthreads, one operation each, every one with 0.15 s of
latency on the server's side. One after another that would be 7.5 s; green, it
is about one latency. The bound is generous (the machine is shared) but far
from serial, and every reply is checked.

The HTTP(S) servers are threads of this (unpatched) process. redis and MariaDB
are the real servers: ``. .ci/services.sh`` starts them and exports
MINIEVENT_REDIS_URL and MINIEVENT_MYSQL_URL. Without them a test skips and says
so; under CI (CI=true) it fails instead.
"""

from __future__ import annotations

import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
import time

import pytest
import trustme

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N, LATENCY = 50, 0.15
#: 50 concurrent operations must finish well before this (serial: 7.5 s).
BOUND = 1.5


def need_server(var: str, what: str) -> str:
    """The address in ``var``; without it, skip locally (saying what to start) and fail under CI."""
    value = os.environ.get(var)
    if value:
        return value
    message = (
        f"needs {what} ({var} unset): apt-get install -y redis-server mariadb-server openssl, then `. .ci/services.sh`"
    )
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(message + " -- CI must run every real-server test")
    pytest.skip(message)


def run_case(case: str, *args: str, timeout: float = 60) -> dict:
    """Run one case of real_clients.py in a fresh, patched interpreter; its JSON result."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tests", "real_clients.py"), case, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_concurrent(out: dict, rounds: int = 1) -> None:
    """``rounds`` latencies at least (the server really waited), far less than serial.

    ``rounds`` > 1: the 50 share fewer connections, so they go in that many rounds.
    """
    assert out["elapsed"] >= rounds * LATENCY * 0.9, out["elapsed"]
    assert out["elapsed"] < BOUND + (rounds - 1) * LATENCY, (
        f"{out['elapsed']:.2f} s for {N} in {rounds} round(s) (serial: {N * LATENCY:.1f} s)"
    )


# ---------------------------------------------------------------- HTTP(S) servers in threads
class SlowHandler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; every GET answers its own path after 0.15 s."""

    protocol_version = "HTTP/1.1"
    tls: ssl.SSLContext | None = None

    def setup(self) -> None:
        # The TLS handshake in the handler's own thread, not in the accepting one.
        if self.tls is not None:
            self.request = self.tls.wrap_socket(self.request, server_side=True)
        super().setup()
        self.server.peers.add(self.client_address)

    def do_GET(self) -> None:
        time.sleep(LATENCY)
        body = f"reply to {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve_http(tls: ssl.SSLContext | None = None):
    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 128  # 50 clients connect at once
        daemon_threads = True

        def handle_error(self, request: object, client_address: tuple) -> None:
            self.errors.append(f"{client_address}: {sys.exc_info()[1]!r}")  # the test shows them

    handler = type("Handler", (SlowHandler,), {"tls": tls})
    srv = Server(("127.0.0.1", 0), handler)
    srv.peers = set()  # client addresses: one per connection made
    srv.errors = []
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    return srv, t


@pytest.fixture
def http_server():
    srv, t = serve_http()
    yield srv
    srv.shutdown()
    srv.server_close()
    t.join(10)


@pytest.fixture
def https_server(tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    srv, t = serve_http(ctx)
    yield srv, str(ca_file)
    srv.shutdown()
    srv.server_close()
    t.join(10)


def test_urllib(http_server):
    out = run_case("urllib", str(http_server.server_address[1]))
    assert out["replies"] == [f"reply to /u/{i}" for i in range(N)]
    assert len(http_server.peers) == N  # urllib: a connection per request
    assert http_server.errors == []
    assert_concurrent(out)


def test_requests_with_pool_block(http_server):
    out = run_case("requests", str(http_server.server_address[1]))
    expected = [f"reply to /r/{i}" for i in range(N)]
    assert out["replies"] == expected and out["narrow"]["replies"] == expected
    assert_concurrent(out)
    # 10 connections for 50 requests: five rounds; nobody got an eleventh connection.
    assert_concurrent(out["narrow"], rounds=5)
    assert len(http_server.peers) <= N + 10, len(http_server.peers)
    assert http_server.errors == []


def test_https_urllib_and_requests(https_server):
    srv, ca = https_server
    out = run_case("https", str(srv.server_address[1]), ca)
    assert out["replies"] == [f"reply to /s/{i}" for i in range(N)]
    assert out["requests"]["replies"] == [f"reply to /q/{i}" for i in range(N)]
    assert_concurrent(out)
    assert_concurrent(out["requests"])
    assert srv.errors == []


# ---------------------------------------------------------------- stdlib servers and threading
def test_socketserver_shutdown_from_a_greenthread():
    out = run_case("socketserver")
    assert out["replies"] == [f"echo line {i}\n" for i in range(N)]
    assert_concurrent(out)
    assert not out["serving_alive"] and out["shutdown"] < 2, out


def test_threading_local_and_thread_pool():
    out = run_case("threading_local")
    # Each greenthread reads back its own value after all 50 have written theirs.
    assert out["replies"] == [[i, i] for i in range(N)]
    assert out["idents"] == N
    assert_concurrent(out)
    ex = out["executor"]
    assert ex["replies"] == [i * i for i in range(N)] and ex["queued"] == list(range(N))
    assert_concurrent(ex)


# ---------------------------------------------------------------- redis and MariaDB
def test_redis_connection_pool():
    url = need_server("MINIEVENT_REDIS_URL", "redis-server")
    out = run_case("redis", url, "plain")
    assert out["replies"] == [[None, f"value {i}"] for i in range(N)]
    assert_concurrent(out)


def test_redis_blocking_connection_pool():
    url = need_server("MINIEVENT_REDIS_URL", "redis-server")
    out = run_case("redis", url, "blocking")
    expected = [[None, f"value {i}"] for i in range(N)]
    assert out["replies"] == expected and out["narrow"]["replies"] == expected
    assert_concurrent(out)
    assert out["narrow"]["connections"] <= 10
    assert_concurrent(out["narrow"], rounds=5)


def test_pymysql_with_tls():
    url = need_server("MINIEVENT_MYSQL_URL", "mariadb-server")
    out = run_case("pymysql", url)
    assert [r[:2] for r in out["replies"]] == [[0, i] for i in range(N)]
    assert all(r[2].startswith("TLS") for r in out["replies"]), out["replies"][:3]
    assert_concurrent(out)


def test_sqlalchemy_queue_pool():
    url = need_server("MINIEVENT_MYSQL_URL", "mariadb-server")
    out = run_case("sqlalchemy", url)
    expected = [[0, i] for i in range(N)]
    assert out["replies"] == expected and out["narrow"]["replies"] == expected
    assert_concurrent(out)
    assert out["most_checked_out"] > 10  # they really ran side by side
    assert out["narrow"]["most_checked_out"] <= 10
    assert_concurrent(out["narrow"], rounds=5)
