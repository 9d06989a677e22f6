"""The client side of test_real_stack.py: real client libraries, run under ``monkey_patch()`` in a child.

``python tests/real_clients.py CASE ARG...`` patches first (as a real eventlet
program does, before it imports anything else), then runs ``CASE``: 50
greenthreads, each one operation with 0.15 s of latency on the server's side.
It prints one JSON line: how long the 50 took, every reply, and what the case
counted. The parent test asserts on it. Every library is imported *inside*
its case, after patching: imported earlier, it would have kept the real
``socket``, ``threading`` and ``ssl`` names.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

N = 50
LATENCY = 0.15


def concurrently(op: Callable[[int], Any], n: int = N) -> dict:
    """Run ``op(0..n-1)`` in n greenthreads; how long all took and what each returned, in order."""
    import minievent

    t0 = time.monotonic()
    replies = list(minievent.GreenPool(n).imap(op, range(n)))
    return {"elapsed": time.monotonic() - t0, "replies": replies}


def case_urllib(port: str) -> dict:
    import urllib.request

    def get(i: int) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/u/{i}", timeout=30) as r:
            return r.read().decode()

    return concurrently(get)


def case_requests(port: str) -> dict:
    import requests
    from requests.adapters import HTTPAdapter

    def session(maxsize: int) -> requests.Session:
        # pool_block=True: a request that finds all maxsize connections busy waits
        # for one in urllib3's pool (a queue.LifoQueue: a threading wait).
        s = requests.Session()
        s.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=maxsize, pool_block=True))
        return s

    wide, narrow = session(N), session(10)

    def get(s: requests.Session) -> Callable[[int], str]:
        def op(i: int) -> str:
            r = s.get(f"http://127.0.0.1:{port}/r/{i}", timeout=30)
            r.raise_for_status()
            return r.text

        return op

    out = concurrently(get(wide))
    # 50 requests through 10 connections: five rounds, each waiting green for a free one.
    out["narrow"] = concurrently(get(narrow))
    return out


def case_https(port: str, ca: str) -> dict:
    import ssl
    import urllib.request

    import requests

    ctx = ssl.create_default_context(cafile=ca)

    def get(i: int) -> str:
        with urllib.request.urlopen(f"https://localhost:{port}/s/{i}", timeout=30, context=ctx) as r:
            return r.read().decode()

    out = concurrently(get)
    s = requests.Session()

    def rget(i: int) -> str:
        # verify= per request: a Session's verify loses to REQUESTS_CA_BUNDLE in the environment
        r = s.get(f"https://localhost:{port}/q/{i}", timeout=30, verify=ca)
        r.raise_for_status()
        return r.text

    out["requests"] = concurrently(rget)
    return out


def case_redis(url: str, kind: str) -> dict:
    import redis

    def run(max_connections: int) -> dict:
        # BlockingConnectionPool: a greenthread that finds all connections busy waits
        # for one (a queue.LifoQueue); ConnectionPool makes one more instead.
        pool_class = redis.BlockingConnectionPool if kind == "blocking" else redis.ConnectionPool
        pool = pool_class.from_url(
            url,
            max_connections=max_connections,
            decode_responses=True,
            **({"timeout": 30} if kind == "blocking" else {}),
        )
        r = redis.Redis(connection_pool=pool)
        tag = f"{time.time_ns()}-{kind}-{max_connections}"

        def op(i: int) -> list:
            # BLPOP on an empty list with a 0.15 s timeout: the server holds the reply for
            # 0.15 s, and serves other clients meanwhile. Then a round trip with a value
            # only this greenthread knows.
            empty = r.blpop([f"minievent:empty:{tag}:{i}"], timeout=LATENCY)
            r.set(f"minievent:{tag}:{i}", f"value {i}", ex=60)
            return [empty, r.get(f"minievent:{tag}:{i}")]

        out = concurrently(op)
        out["connections"] = len(pool._connections) if kind == "blocking" else pool._created_connections
        pool.disconnect()
        return out

    out = run(N)
    if kind == "blocking":
        out["narrow"] = run(10)  # 50 greenthreads on 10 connections: they wait in the pool
    return out


def _mysql_args(url: str) -> dict:
    from urllib.parse import parse_qs, urlsplit

    u = urlsplit(url)
    return {
        "host": u.hostname,
        "port": u.port,
        "user": u.username,
        "password": u.password,
        "database": u.path.lstrip("/"),
        "ssl": {"ca": parse_qs(u.query)["ssl_ca"][0]},
    }


def case_pymysql(url: str) -> dict:
    import pymysql

    args = _mysql_args(url)

    def op(i: int) -> list:
        conn = pymysql.connect(**args, connect_timeout=30)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT SLEEP(%s), %s", (LATENCY, i))
                ((slept, echoed),) = cur.fetchall()
                cur.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
                ((_, tls),) = cur.fetchall()
            return [int(slept), int(echoed), tls]
        finally:
            conn.close()

    return concurrently(op)


def case_sqlalchemy(url: str) -> dict:
    import sqlalchemy as sa

    def run(pool_size: int, max_overflow: int) -> dict:
        # oslo.db's defaults were pool_size=5, max_overflow=50: a QueuePool whose
        # waits are threading.Condition waits.
        engine = sa.create_engine(url, pool_size=pool_size, max_overflow=max_overflow, pool_timeout=30)
        most = [0]

        def op(i: int) -> list:
            with engine.connect() as conn:
                most[0] = max(most[0], engine.pool.checkedout())
                row = conn.execute(sa.text("SELECT SLEEP(:s), :i"), {"s": LATENCY, "i": i}).one()
                return [int(row[0]), int(row[1])]

        out = concurrently(op)
        out["most_checked_out"] = most[0]
        engine.dispose()
        return out

    out = run(5, 45)
    out["narrow"] = run(10, 0)  # 10 connections for 50: they queue in the pool
    return out


def case_socketserver() -> dict:
    import socket
    import socketserver
    import threading

    import minievent

    class Echo(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            line = self.rfile.readline()
            time.sleep(LATENCY)  # patched: only this handler waits
            self.wfile.write(b"echo " + line)

    class Server(socketserver.ThreadingTCPServer):
        request_queue_size = 128  # the default backlog of 5 would drop most of 50 connects at once
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Echo)
    port = server.server_address[1]
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5})
    serving.start()

    def op(i: int) -> str:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as c:
            c.sendall(f"line {i}\n".encode())
            return c.makefile("rb").readline().decode()

    out = concurrently(op)
    # shutdown() from a greenthread: it waits (green) until serve_forever notices.
    t0 = time.monotonic()
    minievent.spawn(server.shutdown).wait()
    serving.join(10)
    out["shutdown"] = time.monotonic() - t0
    out["serving_alive"] = serving.is_alive()
    server.server_close()
    return out


def case_threading_local() -> dict:
    import queue
    import threading
    from concurrent.futures import ThreadPoolExecutor

    local = threading.local()
    idents = set()

    def op(i: int) -> list:
        local.value = i
        idents.add(threading.get_ident())
        time.sleep(LATENCY)  # every other greenthread sets its own value meanwhile
        return [local.value, getattr(local, "value", None)]

    out = concurrently(op)
    out["idents"] = len(idents)

    # The same through the stdlib's thread pool, and a queue.Queue between greenthreads.
    q: queue.Queue = queue.Queue()

    def job(i: int) -> int:
        time.sleep(LATENCY)
        q.put(i)
        return i * i

    t0 = time.monotonic()
    with ThreadPoolExecutor(N) as ex:
        squares = list(ex.map(job, range(N)))
    out["executor"] = {
        "elapsed": time.monotonic() - t0,
        "replies": squares,
        "queued": sorted(q.get(timeout=5) for _ in range(N)),
    }
    return out


def case_servicegroup(url: str = "") -> dict:
    # nova ran under eventlet.monkey_patch(): the same servicegroup run, patched.
    from minievent.scenarios import servicegroup

    out = {}
    for fix in ("none", "sleep0"):
        r = servicegroup.run(url or None, interval=0.2, task_seconds=2.0, fix=fix, record=False)
        out[fix] = {
            "reported_down": r.reported_down,
            "max_age": r.max_age,
            "report_count": r.report_count,
            "beats": len(r.heartbeat.beats),
            "url": r.url.split(":")[0],
        }
    return out


if __name__ == "__main__":
    import minievent

    minievent.monkey_patch()
    case, *args = sys.argv[1:]
    print(json.dumps(globals()[f"case_{case}"](*args)))
