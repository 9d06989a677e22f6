"""What the tests share, written once: fds, a CPU spin, a ticking greenthread, what a hub has left behind, an
echo handler, a slow HTTP(S) server, fresh interpreters to run children in (and code and commands for them), the
one service written for each loop.

The suite's two homes, one for each kind of thing: the fixtures (what pytest hands a test by
its argument's name: a fresh hub, every poller, socket pairs, slow HTTP servers) are in
``conftest.py`` and are built on this module; everything a test calls or subclasses is here,
imported by name (``from support import spin``; pytest puts tests/ on sys.path). Nothing that
two test modules use is written in either of them.
"""

from __future__ import annotations

import gc
import http.server
import importlib
import importlib.util
import json
import os
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from types import ModuleType
from typing import Any, NoReturn

import pytest

import minievent

#: The checkout: children run there, with it first on their path (so they import this minievent).
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def open_fds() -> set[int]:
    """The fds this process has open right now (Linux: ``/proc/self/fd``)."""
    fds = set()
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            os.fstat(fd)  # the fd listdir itself used is gone by now
        except OSError:
            continue
        fds.add(fd)
    return fds


def spin(seconds: float) -> None:
    """Hold the CPU for ``seconds`` without yielding, like a long periodic task."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def echo(conn, addr=None) -> None:
    """A ``minievent.serve`` handler: send back whatever comes, until the client closes."""
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


def ticking(seconds: float = 0.01) -> list[float]:
    """A greenthread that notes the time every ``seconds``: proof that the hub ran meanwhile (it runs until the
    test's hub is closed)."""
    ticks: list[float] = []

    def tick() -> None:
        while True:
            ticks.append(time.monotonic())
            minievent.sleep(seconds)

    minievent.spawn(tick)
    return ticks


def pending_timers(hub) -> list:
    """The hub's timers still to fire (cancelled ones may wait in its heap until a sweep)."""
    return [e for e in hub.timers if e[2].pending]


def hub_leftovers(hub) -> dict:
    """What a greenthread that was killed (or finished) may have left in the hub; all empty when clean."""
    return {
        "listeners": hub.listeners(),
        "timers": pending_timers(hub),
        "ready": list(hub.ready),
    }


def settle(hub, rounds: int = 3) -> None:
    """Let the hub run what is ready (a few loop iterations) so finished work is really finished."""
    for _ in range(rounds):
        minievent.sleep(0)


def assert_hub_clean(hub) -> None:
    settle(hub)
    left = hub_leftovers(hub)
    # After sleep(0) our own resume entry has been consumed: nothing else may be queued.
    assert left == {"listeners": [], "timers": [], "ready": []}, left
    assert not hub.greenlet.dead, "the hub loop died"


def collect() -> None:
    gc.collect()
    gc.collect()


# ---------------------------------------------------------------- a slow HTTP(S) server
class SlowHandler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive: every GET answers its own path, after the server's ``latency``.

    With a TLS context the handshake is done here, in the connection's own thread, not one by
    one in the thread that accepts (50 clients connect at once).
    """

    protocol_version = "HTTP/1.1"
    server: SlowHTTPServer

    def setup(self) -> None:
        if self.server.tls is not None:
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()
        self.server.peers.add(self.client_address)

    def do_GET(self) -> None:
        time.sleep(self.server.latency)
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class SlowHTTPServer(http.server.ThreadingHTTPServer):
    """A threaded HTTP(S) server on 127.0.0.1 that clients can only be fast against by being concurrent.

    It keeps what it saw: ``peers``, the client address of every connection made (so a test
    counts connections), and ``errors``, every exception a handler raised (so a test shows them).
    ``slow_http`` (conftest) starts one in a thread and stops it after the test.
    """

    request_queue_size = 128  # the listen backlog: 50 clients connect at once
    daemon_threads = True

    def __init__(self, latency: float, tls: ssl.SSLContext | None = None) -> None:
        self.latency = latency
        self.tls = tls
        self.peers: set[tuple] = set()
        self.errors: list[str] = []
        super().__init__(("127.0.0.1", 0), SlowHandler)

    def handle_error(self, request: object, client_address: tuple) -> None:
        self.errors.append(f"{client_address}: {sys.exc_info()[1]!r}")

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        return thread


# ---------------------------------------------------------------- children
def child_env(**extra: str) -> dict[str, str]:
    """This environment, with the checkout first on the path (and ``extra`` set)."""
    path = [ROOT]
    if os.environ.get("PYTHONPATH"):
        path.append(os.environ["PYTHONPATH"])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path), **extra}


def run_python(
    *args: str,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    prefix: tuple[str, ...] = (),
    cwd: str | os.PathLike[str] = ROOT,
) -> subprocess.CompletedProcess[str]:
    """``python *args`` in a fresh interpreter, run to its end (in the checkout unless ``cwd``).

    Whatever a child patches stays in it. ``prefix`` runs the interpreter under a command
    (``unshare ...``); ``env`` defaults to ``child_env()``.
    """
    return subprocess.run(
        [*prefix, sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env() if env is None else env,
        cwd=cwd,
    )


def last_json(proc: subprocess.CompletedProcess[str]) -> Any:
    """The JSON a child printed as its last line; a child that failed fails the test with its stderr."""
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_child(code: str, *args: str, timeout: float = 60, env: dict[str, str] | None = None) -> Any:
    """Run ``code`` (dedented) in a fresh interpreter; the JSON it prints as its last line."""
    return last_json(run_python("-c", textwrap.dedent(code), *args, timeout=timeout, env=env))


def run_case(case: str, *args: str, timeout: float = 60) -> Any:
    """One case of ``real_clients.py`` (real client libraries, monkey-patched) in a fresh interpreter; its JSON."""
    return last_json(run_python(os.path.join(ROOT, "tests", "real_clients.py"), case, *args, timeout=timeout))


def write_program(folder: str | os.PathLike[str], code: str, name: str = "prog.py") -> str:
    """``code`` (dedented) written as ``folder/name``, a program for a child to run; its path."""
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(textwrap.dedent(code))
    return path


#: How the trace command's tests run it: no warnings in what they read, pictures drawn with no display.
TRACE_ENV = child_env(PYTHONWARNINGS="ignore", MPLBACKEND="Agg")


def trace_cmd(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None, cwd: str | os.PathLike[str] = ROOT
) -> subprocess.CompletedProcess[str]:
    """``python -m minievent trace *args``, run to its end (in ``TRACE_ENV`` unless ``env``)."""
    return run_python(
        "-m", "minievent", "trace", *args, timeout=timeout, env=TRACE_ENV if env is None else env, cwd=cwd
    )


# ---------------------------------------------------------------- what this machine may lack
def missing(message: str) -> NoReturn:
    """What this machine lacks: skipped here, saying what to install; failed under CI, which must run every test.

    Called in a test or at a module's top (then the whole module skips, or fails to collect under CI).
    """
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(message + " -- CI must run every test", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def need_installed(name: str, install: str = "") -> None:
    """``name`` can be imported; where not, ``missing`` says how to install it (``install``, the test extra by
    default). Found, not imported: for a test whose children import it, this process stays clean of it."""
    if importlib.util.find_spec(name) is None:
        missing(_not_installed(name, install))


def need_module(name: str, install: str = "") -> ModuleType:
    """``import name``; where it is not installed, ``missing`` says so (``install`` as for ``need_installed``)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(_not_installed(name, install))


def _not_installed(name: str, install: str) -> str:
    return f"{name} is not installed ({install or 'pip install ' + name + ', or the test extra'})"


def need_server(var: str, what: str) -> str:
    """The server address in the environment variable ``var``; without it, ``missing`` says how to start one."""
    value = os.environ.get(var)
    if not value:
        missing(
            f"needs {what} ({var} unset): apt-get install -y redis-server mariadb-server openssl, "
            "then `. .ci/services.sh`"
        )
    return value


# ---------------------------------------------------------------- code for children
def beats_while_code(sleep: str = "minievent.sleep") -> str:
    """Child code (dedented) that defines ``beats_while(fn)``: fn() run in the main greenlet while a greenthread
    ticks every 10 ms by ``sleep`` (a patched program ticks by its own ``time.sleep``); (how many ticks, what fn
    returned). No ticks means fn held the hub. The child imports minievent (and what ``sleep`` names) itself."""
    return textwrap.dedent(f"""
        def beats_while(fn):
            ticks = []
            def tick():
                while True:
                    {sleep}(0.01)
                    ticks.append(1)
            beat = minievent.spawn(tick)
            out = fn()
            beat.kill()
            return len(ticks), out
    """)


# ---------------------------------------------------------------- one service on each loop
# The lessons' story in small, as a child program: a heartbeat every 0.1 s, and a task that holds
# the loop for 1 s without yielding. test_foreign records it, test_trace_cli traces it; a program
# is COMMON + PROGRAMS[loop] (each dedented).

#: The same service on each library: sleep, spawn, wait for both.
PROGRAMS = {
    "minievent": """
        import minievent as lib
        def run():
            a, b = lib.spawn(heartbeat, lib.sleep), lib.spawn(long_task, lib.sleep)
            b.wait(); a.wait()
    """,
    "eventlet": """
        import eventlet as lib
        def run():
            a, b = lib.spawn(heartbeat, lib.sleep), lib.spawn(long_task, lib.sleep)
            b.wait(); a.wait()
    """,
    "gevent": """
        import gevent as lib
        def run():
            lib.joinall([lib.spawn(heartbeat, lib.sleep), lib.spawn(long_task, lib.sleep)])
    """,
    "asyncio": """
        import asyncio
        async def aheartbeat():
            for _ in range(15):
                await asyncio.sleep(0.1)
        async def along_task():
            await asyncio.sleep(0.3)
            spin(1.0)
        async def amain():
            await asyncio.gather(asyncio.create_task(aheartbeat(), name="heartbeat"),
                                 asyncio.create_task(along_task(), name="long_task"))
        def run():
            asyncio.run(amain())
    """,
}

COMMON = """
    import time
    def spin(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:  # no yield: the loop is held
            pass
    def heartbeat(sleep):
        for _ in range(15):
            sleep(0.1)
    def long_task(sleep):
        sleep(0.3)
        spin(1.0)
"""


def check_chrome_trace(trace: dict, lanes: list[str]) -> None:
    """A Chrome trace: metadata names each thread; complete events have numeric ts/dur on known threads."""
    events = trace["traceEvents"]
    json.dumps(trace)  # serializable as it is
    names = {e["tid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert set(lanes) <= set(names.values())
    xs = [e for e in events if e["ph"] == "X"]
    assert xs and all(isinstance(e["ts"], (int, float)) and e["dur"] >= 0 and e["tid"] in names for e in xs)
    hb = [tid for tid, n in names.items() if n == "heartbeat"][0]
    assert any(e["tid"] == hb and e["cat"] == "ready" and e["dur"] > 500_000 for e in xs)
