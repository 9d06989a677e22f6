"""Green stdlib modules, and monkey_patch -- which runs only in child processes, never here."""

from __future__ import annotations

import select
import socket
import time

import pytest
from support import run_child

import minievent
from minievent.green import select as gselect
from minievent.green import selectors as gselectors
from minievent.green import socket as gsocket
from minievent.green import time as gtime


@pytest.mark.usefixtures("poller")
class TestGreenModules:
    def test_green_socket_module(self, socketpairs):
        assert gsocket.socket is minievent.GreenSocket
        assert gsocket.AF_INET == socket.AF_INET and gsocket.timeout is socket.timeout
        a, b = socketpairs(gsocket.socketpair)
        assert isinstance(a, minievent.GreenSocket) and isinstance(b, minievent.GreenSocket)
        with minievent.listen(("127.0.0.1", 0)) as srv:
            c = gsocket.create_connection(srv.getsockname())
            assert isinstance(c, minievent.GreenSocket)
            c.close()
        # The stdlib module itself is untouched.
        assert socket.socket is not minievent.GreenSocket

    def test_green_select_waits_on_the_hub(self, socketpairs):
        a, b = socketpairs(gsocket.socketpair)
        assert gselect.select([a], [], [], 0) == ([], [], [])
        assert gselect.select([a], [b], [], 0) == ([], [b], [])
        ticks = []

        def ticker():
            for _ in range(5):
                minievent.sleep(0.01)
                ticks.append(1)
            b.sendall(b"x")

        minievent.spawn(ticker)
        r, w, x = gselect.select([a], [], [], 5)
        assert r == [a] and len(ticks) == 5  # the ticker ran while select waited
        t0 = time.monotonic()
        assert gselect.select([b.fileno()], [], [], 0.05) == ([], [], [])  # times out
        assert time.monotonic() - t0 >= 0.04
        with pytest.raises(ValueError):
            gselect.select([a], [], [], -1)
        assert not hasattr(gselect, "epoll") and gselect.poll is not select.poll

    def test_green_selector(self, socketpairs):
        a, b = socketpairs(gsocket.socketpair)
        with gselectors.DefaultSelector() as sel:
            assert isinstance(sel, gselectors.GreenSelector)
            sel.register(a, gselectors.EVENT_READ, "data")
            assert sel.select(0.01) == []
            minievent.spawn_after(0.02, b.sendall, b"x")
            [(key, events)] = sel.select(5)
            assert key.fileobj is a and key.data == "data" and events == gselectors.EVENT_READ

    def test_green_time(self):
        with pytest.raises(ValueError, match="non-negative"):  # as the stdlib, unlike minievent.sleep
            gtime.sleep(-1)
        assert gtime.monotonic is time.monotonic
        done = []
        minievent.spawn(lambda: done.append(1))
        gtime.sleep(0.01)
        assert done == [1]


@pytest.fixture
def slow_server(slow_http):
    """A threaded HTTP server in this process: every GET answers its path after 0.5 s."""
    return slow_http(0.5).server_address


URLLIB_CHILD = """
    import json, sys, time
    import minievent
    minievent.monkey_patch()
    import urllib.request
    port = int(sys.argv[1])

    def fetch(i):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/page/{i}", timeout=30) as r:
            return r.read().decode()

    t0 = time.monotonic()
    bodies = list(minievent.GreenPool(20).imap(fetch, range(20)))
    print(json.dumps({"elapsed": time.monotonic() - t0, "bodies": bodies}))
"""


def test_monkey_patched_urllib_fetches_concurrently(slow_server):
    out = run_child(URLLIB_CHILD, str(slow_server[1]))
    assert out["bodies"] == [f"/page/{i}" for i in range(20)]
    # One after another it would take 20 x 0.5 = 10 s.
    assert out["elapsed"] < 3, out["elapsed"]


def test_unpatched_urllib_is_serial_for_contrast(slow_server):
    # The same child without monkey_patch: greenthreads block the one thread.
    code = URLLIB_CHILD.replace("minievent.monkey_patch()", "pass").replace("range(20)", "range(4)")
    out = run_child(code, str(slow_server[1]))
    assert out["elapsed"] >= 4 * 0.5 * 0.9


SERVER_CHILD = """
    import json, time
    import minievent
    minievent.monkey_patch()
    import http.client, http.server, socket, socketserver

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            time.sleep(0.05)  # patched: yields to the hub
            body = b"hello " + self.path.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hello)
    port = server.server_address[1]
    beats = []

    def heartbeat():
        while True:
            beats.append(time.monotonic())
            time.sleep(0.01)

    def serve(n):
        for _ in range(n):
            server.handle_request()  # waits in a (green) selector

    def get(path):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", path)
        body = conn.getresponse().read().decode()
        conn.close()
        return body

    hb = minievent.spawn(heartbeat)
    srv = minievent.spawn(serve, 5)
    bodies = [get(f"/{i}") for i in range(5)]
    srv.wait()
    hb.kill()
    server.server_close()
    gaps = [b - a for a, b in zip(beats, beats[1:])]

    # Patching twice is harmless; originals are still reachable.
    from minievent import patcher
    patcher.monkey_patch()
    real_time = patcher.original("time")
    real_socket = patcher.original("socket")
    raw = real_socket.socket()
    raw.close()
    print(json.dumps({
        "bodies": bodies,
        "max_gap": max(gaps),
        "beats": len(beats),
        "socket_is_green": socket.socket is minievent.GreenSocket,
        "selector": socketserver._ServerSelector.__module__,
        "patched": [patcher.is_monkey_patched(n) for n in ("socket", "time", "select", "thread", "psycopg")],
        "time_sleep_green": time.sleep.__module__ == "minievent.green.time",
        "original_sleep_real": real_time.sleep.__module__ == "time",
        "original_socket_real": not isinstance(raw, minievent.GreenSocket),
        "twice_still_green": socket.socket is minievent.GreenSocket,
    }))
"""


def test_monkey_patched_http_server_and_client_in_one_process():
    out = run_child(SERVER_CHILD)
    assert out["bodies"] == [f"hello /{i}" for i in range(5)]
    assert out["socket_is_green"] and out["time_sleep_green"] and out["twice_still_green"]
    assert out["selector"] == "minievent.green.selectors"
    assert out["patched"] == [True, True, True, True, False]  # psycopg: a documented no-op
    assert out["original_sleep_real"] and out["original_socket_real"]
    # The server's waits did not block the hub: the heartbeat kept beating.
    assert out["beats"] >= 10 and out["max_gap"] < 0.2, out


def test_monkey_patch_selected_modules_only():
    code = """
        import json, socket, time
        import minievent
        from minievent import patcher
        minievent.monkey_patch(time=True)
        print(json.dumps([patcher.is_monkey_patched(n) for n in ("socket", "time", "select")]
                         + [socket.socket is minievent.GreenSocket]))
    """
    assert run_child(code) == [False, True, False, False]


def test_this_process_is_not_patched():
    from minievent import patcher

    assert socket.socket is not minievent.GreenSocket
    assert not patcher.is_monkey_patched("socket")
    assert patcher.original("time") is time
