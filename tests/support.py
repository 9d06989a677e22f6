"""What the tests share, written once: fds, a CPU spin, what a hub has left behind, an echo handler.

The suite's two homes, one for each kind of thing: the fixtures (what pytest hands a test by
its argument's name: a fresh hub, every poller, socket pairs) are in ``conftest.py`` and are
built on this module; everything a test calls or subclasses is here, imported by name
(``from support import spin``; pytest puts tests/ on sys.path). Nothing that two test modules
use is written in either of them.
"""

from __future__ import annotations

import gc
import os
import time

import minievent


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


def pending_timers(hub) -> list:
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
