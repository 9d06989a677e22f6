"""The suite's fixtures: every test gets a fresh hub; hub-level tests run under both pollers; socket pairs;
slow HTTP(S) servers; the thread pool stopped.

Fixtures live here, what a test calls by name lives in ``support.py`` (see its docstring).
"""

from __future__ import annotations

import os
import signal
import socket
import warnings

import pytest
from support import SlowHTTPServer

from minievent import greenio, tpool
from minievent import hub as hubmod
from minievent.poller import POLLERS

# A run started where SIGINT is ignored (a shell's background job, nohup) inherits that, and the interpreter then
# raises no KeyboardInterrupt at all: the Ctrl-C tests (and their children) need the default a terminal gives.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def fresh_hub():
    """A new hub for each test, so one test's leftovers can't wake another's greenthreads."""
    hubmod.use_hub(None)
    yield
    h = hubmod.existing_hub()
    hubmod.use_hub(None)
    if h is not None:
        h.close()


def _children() -> dict[int, str]:
    """This process's live children (any thread's), pid -> command line; zombies left out."""
    found: dict[int, str] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/children") as f:
                pids = [int(p) for p in f.read().split()]
        except OSError:
            continue
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                continue  # gone meanwhile
            if state != "Z":
                found[pid] = cmdline
    return found


@pytest.fixture(autouse=True)
def no_child_outlives_its_test():
    """A child a test started and left running (a timeout hit while it waited, a test that never waited)
    is killed when the test ends, with a warning that names it: it must never run on alone (one once
    hung for 75 minutes, deadlocked)."""
    before = set(_children())
    yield
    for pid, cmdline in _children().items():
        if pid in before:
            continue
        try:
            os.kill(pid, signal.SIGKILL)  # (not reaped here: the Popen that started it, if any, reads -9)
        except ProcessLookupError:
            continue
        warnings.warn(f"the test left child {pid} running: killed ({cmdline[:200]})", stacklevel=1)


@pytest.fixture(params=sorted(POLLERS))
def poller(request):
    """Parametrize a test over every poller: ``def test_x(poller): ...`` runs under each.

    The hub of the calling thread is replaced by one that uses that poller.
    """
    h = hubmod.Hub(POLLERS[request.param]())
    hubmod.use_hub(h)
    yield request.param


@pytest.fixture
def hub(poller):
    """This thread's hub, built on the parametrized poller."""
    return hubmod.get_hub()


@pytest.fixture
def socketpairs():
    """Connected socket pairs made on demand, every one closed after the test.

    ``a, b = socketpairs()`` is a pair of green sockets (``greenio.socketpair``, AF_UNIX);
    ``socketpairs(socket.socketpair)`` a pair of plain blocking stdlib sockets (what the hub's
    own tests hand to ``trampoline``), and any other factory of a pair (``green.socket.socketpair``)
    works too. A test may close its sockets itself (to count fds, or to close under a blocked
    call): closing twice does nothing.
    """
    made = []

    def make(factory=greenio.socketpair):
        a, b = factory()
        made.extend((a, b))
        return a, b

    yield make
    for s in made:
        s.close()


@pytest.fixture
def pair(socketpairs):
    """A connected pair of green sockets (AF_UNIX), closed after the test."""
    return socketpairs()


@pytest.fixture
def raw_pair(socketpairs):
    """A connected pair of plain stdlib sockets (blocking), closed after the test."""
    return socketpairs(socket.socketpair)


@pytest.fixture
def slow_http():
    """Threaded HTTP(S) servers made on demand (``support.SlowHTTPServer``), every one stopped after the test.

    ``srv = slow_http(0.15)`` serves HTTP on ``srv.server_address``, each GET answered with its
    path after 0.15 s; ``slow_http(0.15, tls=context)`` serves HTTPS with that server context.
    """
    running = []

    def start(latency: float, tls=None) -> SlowHTTPServer:
        srv = SlowHTTPServer(latency, tls)
        running.append((srv, srv.start()))
        return srv

    yield start
    for srv, thread in running:
        srv.shutdown()
        srv.server_close()
        thread.join(10)


@pytest.fixture
def stop_tpool():
    """The thread pool's threads stopped after the test, so none a test started runs on into the next."""
    yield
    tpool.killall()
