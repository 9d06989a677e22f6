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

import ssl

import pytest
import trustme
from support import need_server, run_case

N, LATENCY = 50, 0.15
#: 50 concurrent operations must finish well before this (serial: 7.5 s).
BOUND = 1.5


def assert_concurrent(out: dict, rounds: int = 1) -> None:
    """``rounds`` latencies at least (the server really waited), far less than serial.

    ``rounds`` > 1: the 50 share fewer connections, so they go in that many rounds.
    """
    assert out["elapsed"] >= rounds * LATENCY * 0.9, out["elapsed"]
    assert out["elapsed"] < BOUND + (rounds - 1) * LATENCY, (
        f"{out['elapsed']:.2f} s for {N} in {rounds} round(s) (serial: {N * LATENCY:.1f} s)"
    )


# ---------------------------------------------------------------- HTTP(S) servers in threads
@pytest.fixture
def http_server(slow_http):
    return slow_http(LATENCY)


@pytest.fixture
def https_server(slow_http, tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return slow_http(LATENCY, ctx), str(ca_file)


def test_urllib(http_server):
    out = run_case("urllib", str(http_server.server_address[1]))
    assert out["replies"] == [f"/u/{i}" for i in range(N)]
    assert len(http_server.peers) == N  # urllib: a connection per request
    assert http_server.errors == []
    assert_concurrent(out)


def test_requests_with_pool_block(http_server):
    out = run_case("requests", str(http_server.server_address[1]))
    expected = [f"/r/{i}" for i in range(N)]
    assert out["replies"] == expected and out["narrow"]["replies"] == expected
    assert_concurrent(out)
    # 10 connections for 50 requests: five rounds; nobody got an eleventh connection.
    assert_concurrent(out["narrow"], rounds=5)
    assert len(http_server.peers) <= N + 10, len(http_server.peers)
    assert http_server.errors == []


def test_https_urllib_and_requests(https_server):
    srv, ca = https_server
    out = run_case("https", str(srv.server_address[1]), ca)
    assert out["replies"] == [f"/s/{i}" for i in range(N)]
    assert out["requests"]["replies"] == [f"/q/{i}" for i in range(N)]
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
