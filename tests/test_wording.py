"""Park reasons in words: every primitive that parks says why, and the analysis words it (minievent/wording.py).

A greenthread parks with a cheap tuple, ``(kind, what)``; only the analysis
turns it into text, when somebody reads the recording. The first test reads
the core's source for every park site and checks that each kind has words;
the second parks on each primitive for real and reads the recording.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

import minievent
from minievent import tpool
from minievent.green import socket as green_socket
from minievent.green import thread as green_thread
from minievent.pools import Pool
from minievent.wording import WORDING, why_text

CORE = pathlib.Path(minievent.__file__).parent
OUTSIDE = ("recording", "scenarios", "trace.py", "debug.py", "plot.py", "lessons.py", "conformance.py")


def park_kinds() -> dict[str, list[str]]:
    """Every ``(kind, ...)`` tuple the core parks with: ``x.park((...))`` and ``x.wait(..., (...))`` / ``why=(...)``."""
    kinds: dict[str, list[str]] = {}
    for path in sorted(CORE.rglob("*.py")):
        rel = path.relative_to(CORE).as_posix()
        if rel.startswith(OUTSIDE):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in ("park", "wait"):
                continue
            candidates = list(node.args) + [kw.value for kw in node.keywords if kw.arg == "why"]
            for arg in candidates:
                if isinstance(arg, ast.IfExp):  # ("read" if ... else "write", fd)
                    arg = arg.body
                if isinstance(arg, ast.Tuple) and arg.elts:
                    first = arg.elts[0]
                    if isinstance(first, ast.IfExp):
                        for side in (first.body, first.orelse):
                            kinds.setdefault(side.value, []).append(f"{rel}:{node.lineno}")
                    elif isinstance(first, ast.Constant) and isinstance(first.value, str):
                        kinds.setdefault(first.value, []).append(f"{rel}:{node.lineno}")
    return kinds


def test_every_park_site_of_the_core_has_words():
    kinds = park_kinds()
    assert {"sleep", "read", "write", "wait", "acquire", "lock", "get", "put", "join", "greenthread"} <= set(kinds), (
        kinds
    )
    missing = {kind: where for kind, where in kinds.items() if kind not in WORDING}
    assert not missing, f"park reasons without words: {missing}"


def test_each_primitive_s_wait_in_words_as_a_recording_shows_it(socketpairs):
    ev = minievent.Event()
    sem = minievent.Semaphore(0)
    full = minievent.Queue(1)
    full.put("x")
    empty = minievent.Queue()
    joined = minievent.Queue()
    joined.put("y")
    pool = Pool(max_size=1, create=object)
    pool.get()  # (the only item: the next get waits)
    lock = green_thread.allocate_lock()
    lock.acquire()
    r, w = socketpairs(green_socket.socketpair)
    sleeper = minievent.spawn(minievent.sleep, 0.2)

    def reader():
        r.recv(1)

    waits = {
        "event": minievent.spawn(ev.wait),
        "semaphore": minievent.spawn(sem.acquire),
        "put": minievent.spawn(full.put, "z"),
        "get": minievent.spawn(empty.get),
        "join": minievent.spawn(joined.join),
        "pool": minievent.spawn(pool.get),
        "lock": minievent.spawn(lock.acquire),
        "read": minievent.spawn(reader),
        "greenthread": minievent.spawn(sleeper.wait),
        "tpool": minievent.spawn(tpool.execute, __import__("time").sleep, 0.05),
    }
    for gt, name in zip(waits.values(), waits, strict=True):
        gt.name = name
    with minievent.record() as tl:
        minievent.sleep(0.1)
        ev.send()
        sem.release()
        full.get()
        empty.put(1)
        joined.get()
        joined.task_done()
        pool.put(object())
        lock.release()
        w.send(b"!")
        for gt in waits.values():
            gt.wait()
    said = {s.lane: s.why for s in tl.spans() if s.state == "waiting" and s.lane in waits}
    expect = {
        "event": "an Event (id 0x",
        "semaphore": "a Semaphore (id 0x",
        "put": "room in a full Queue (id 0x",
        "get": "an item from an empty Queue (id 0x",
        "join": "Queue.join() (id 0x",
        "pool": "an item from an empty Pool (id 0x",
        "lock": "a green lock (id 0x",
        "read": "read on fd ",
        "greenthread": "greenthread 'sleep' to finish",
        "tpool": "tpool.execute('sleep')",
    }
    for lane, start in expect.items():
        assert said.get(lane, "").startswith(start), (lane, said.get(lane))
    assert not [why for why in said.values() if "object at 0x" in why], said


def test_unknown_kinds_and_strings():
    assert why_text(None) is None
    assert why_text("Event.wait") == "Event.wait"  # a capture's own words are kept
    assert why_text(("sleep", 0.5)) == "sleep(0.5)"
    assert why_text(("fetch_many", "3 clients")) == "fetch_many 3 clients"
    assert why_text(("done", "raised ValueError")) == "raised ValueError"


def test_loop_exit_words_the_park_as_a_recording_does():
    # The hub borrows the analysis's words (it had a table of its own, which said less: "an Event (id 0x...)").
    ev = minievent.Event()
    with pytest.raises(minievent.LoopExit) as stuck:
        ev.wait()
    assert f"the main greenlet waits for {WORDING['wait'](ev)}, but nothing" in str(stuck.value)
    assert WORDING["wait"](ev).endswith(") to be sent")
