"""One measurement, in a fresh process: ``python -m benchmarks.worker LIB SCENARIO PARAMS_JSON``.

Why a process per measurement: eventlet and gevent patch and replace parts of
the standard library, greenlet and the hubs keep global state, and the
memory figures read the process's RSS -- none of that may leak from one
library into another's figure. The parent (``runner.py``) starts this module,
reads the one ``RESULT {...}`` line it prints, and moves on.

Each scenario is written three times, once per programming model:

* *green* (minievent, eventlet, gevent): plain blocking-looking code run by
  ``spawn`` / ``sleep`` / green sockets, through the small ``Green`` adapter;
* *async* (asyncio, uvloop): the same work as coroutines;
* *threads*: one OS thread per task or connection, the model the others
  replace.

The three versions do the same work in the same order, so that the numbers
differ because the libraries do, not the benchmarks.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import random
import select
import socket
import subprocess
import sys
import time
from typing import Any

from .client import raise_fd_limit

clock = time.perf_counter
#: CPU seconds of this process. The switch and spawn rates are per CPU second:
#: they are pure computation in one process, and on a shared machine the
#: wall clock would also count the time other processes held the CPU.
cpu = time.process_time

#: The heartbeat period of the C10K scenario (nova's is 10 s; 10 ms shows the same thing sooner).
HEARTBEAT = 0.01

#: Listen backlog for every server; the client opens at most 64 connections at a time.
BACKLOG = 1024


class Skip(Exception):
    """This library cannot run this scenario (missing feature); reported, never a crash."""


# ---------------------------------------------------------------- helpers
def rss_bytes() -> int:
    """The process's resident set size now (not its peak), from /proc."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank): p99 of 10,000 values is the 9,900th."""
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * q / 100))]


def lateness(late: list[float], prefix: str) -> dict[str, float]:
    return {
        f"{prefix}_p50": percentile(late, 50) * 1000,
        f"{prefix}_p99": percentile(late, 99) * 1000,
        f"{prefix}_max": max(late) * 1000,
    }


def start_client(*args: Any) -> subprocess.Popen:
    """The load generator (``client.py``) in its own process."""
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.client", *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def client_result(p: subprocess.Popen) -> dict:
    out, err = p.communicate(timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"client failed ({p.returncode}): {err.decode()[-2000:]}")
    return json.loads(out.decode().strip().splitlines()[-1])


def echo_result(p: subprocess.Popen, conns: int, msgs: int, cpu_used: float) -> dict:
    """Round trips/s as the client saw them, and the server's CPU time per round trip.

    The rate depends on everything else the machine is doing (2 cores: the
    client, the server and whatever else runs); the CPU time the server
    process spent per round trip -- accepting the connections and the
    warm-up round trip included -- barely does, so it is the steadier
    figure for comparing libraries.
    """
    out = client_result(p)
    return {
        f"echo{conns}": out["rate"],
        f"echo{conns}_cpu": cpu_used / (conns * (msgs + 1)) * 1e6,
        f"echo{conns}_client_busy": out["busy"],
    }


def burst_done(p: subprocess.Popen) -> bool:
    """Has the C10K client printed its burst result? (A non-blocking look at its stdout.)"""
    if p.poll() is not None:
        return True
    return bool(select.select([p.stdout], [], [], 0)[0])


def burst_result(p: subprocess.Popen) -> dict:
    """The C10K client's one result line; it then waits for us to exit, connections open."""
    line = p.stdout.readline()
    if not line:
        client_result(p)  # it died: raise with its stderr
    return json.loads(line)


def sleeper_delays(n: int, spread: float) -> list[float]:
    rnd = random.Random(1)
    return [rnd.uniform(0, spread) for _ in range(n)]


# ---------------------------------------------------------------- green libraries
class Green:
    """minievent, eventlet and gevent behind the five calls the scenarios need."""

    def __init__(self, name: str, recording: bool = False) -> None:
        self.name = name
        self.recording = recording
        if name == "minievent":
            import minievent

            self.spawn, self.sleep, self.Event = minievent.spawn, minievent.sleep, minievent.Event
            self.join = _wait
            self._listen = getattr(minievent, "listen", None)
            if recording and not hasattr(minievent, "record"):
                raise Skip("minievent.record() is not there yet")
            self._record = getattr(minievent, "record", None)
        elif name == "eventlet":
            import eventlet
            import eventlet.event

            self.spawn, self.sleep, self.Event = eventlet.spawn, eventlet.sleep, eventlet.event.Event
            self.join = _wait
            self._listen = eventlet.listen
        elif name == "gevent":
            import gevent
            import gevent.event

            self.spawn, self.sleep, self.Event = gevent.spawn, gevent.sleep, gevent.event.Event
            self.join = _join
            self._listen = _gevent_listen
        else:
            raise ValueError(name)

    def listen(self, addr: tuple[str, int]) -> Any:
        if self._listen is None:
            raise Skip(f"{self.name} has no green sockets yet")
        return self._listen(addr, backlog=BACKLOG)

    def record(self) -> Any:
        """``minievent.record()`` around the measured part for ``minievent+rec``; else nothing."""
        return self._record() if self.recording else contextlib.nullcontext()


def _wait(g: Any) -> Any:
    return g.wait()


def _join(g: Any) -> Any:
    return g.join()


def _gevent_listen(addr: tuple[str, int], backlog: int) -> Any:
    import gevent.socket

    s = gevent.socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(addr)
    s.listen(backlog)
    return s


def green_switch(g: Green, n: int) -> dict:
    def worker() -> None:
        for _ in range(n):
            sleep(0)

    sleep = g.sleep
    with g.record():
        t0, c0 = clock(), cpu()
        a, b = g.spawn(worker), g.spawn(worker)
        g.join(a)
        g.join(b)
        elapsed, used = clock() - t0, cpu() - c0
    return {"switch": 2 * n / used, "switch_wall": 2 * n / elapsed}


def green_spawn(g: Green, n: int) -> dict:
    def f(i: int) -> int:
        return i

    spawn, join = g.spawn, g.join
    t0, c0 = clock(), cpu()
    gs = [spawn(f, i) for i in range(n)]
    for x in gs:
        join(x)
    return {"spawn": n / (cpu() - c0), "spawn_wall": n / (clock() - t0)}


def green_timers(g: Green, n: int, spread: float) -> dict:
    late: list[float] = []
    sleep = g.sleep

    def f(d: float) -> None:
        t0 = clock()
        sleep(d)
        late.append(clock() - t0 - d)

    gs = [g.spawn(f, d) for d in sleeper_delays(n, spread)]
    for x in gs:
        g.join(x)
    return lateness(late, "timers")


def green_memory(g: Green, n: int) -> dict:
    ev = g.Event()
    started = [0]

    def idle() -> None:
        started[0] += 1
        ev.wait()

    g.sleep(0)  # the hub exists before the baseline
    gc.collect()
    base = rss_bytes()
    for _ in range(n):
        g.spawn(idle)
    while started[0] < n:
        g.sleep(0.001)
    gc.collect()
    return {"mem_thread": (rss_bytes() - base) / n / 1024}


def green_server(g: Green) -> tuple[int, list[int]]:
    """An echo server: one acceptor greenthread, one greenthread per connection."""
    srv = g.listen(("127.0.0.1", 0))
    accepted = [0]

    def handle(c: Any) -> None:
        accepted[0] += 1
        recv, sendall = c.recv, c.sendall
        while True:
            d = recv(4096)
            if not d:
                break
            sendall(d)
        c.close()

    def acceptor() -> None:
        while True:
            c, _ = srv.accept()
            g.spawn(handle, c)

    g.spawn(acceptor)
    return srv.getsockname()[1], accepted


def green_echo(g: Green, conns: int, msgs: int) -> dict:
    port, _ = green_server(g)
    with g.record():
        c0 = cpu()
        p = start_client("echo", port, conns, msgs)
        while p.poll() is None:
            g.sleep(0.05)
        used = cpu() - c0
    return echo_result(p, conns, msgs, used)


def green_heartbeat(g: Green, until: Any) -> list[float]:
    """Sleep HEARTBEAT again and again; each beat's lateness is how much longer it took."""
    late = []
    sleep = g.sleep
    while not until():
        t0 = clock()
        sleep(HEARTBEAT)
        late.append(clock() - t0 - HEARTBEAT)
    return late


def green_c10k(g: Green, conns: int, seconds: float) -> dict:
    g.sleep(0)
    port, accepted = green_server(g)
    g.sleep(0.01)
    gc.collect()
    base = rss_bytes()
    p = start_client("hold", port, conns)
    while accepted[0] < conns:
        if p.poll() is not None:
            client_result(p)  # raises with the client's error
        g.sleep(0.01)
    g.sleep(0.1)  # every handler is now parked in recv
    gc.collect()
    result = {"mem_conn": (rss_bytes() - base) / conns / 1024}
    end = clock() + seconds
    result.update(lateness(green_heartbeat(g, lambda: clock() >= end), "c10k_hb"))
    p.stdin.write(b"go\n")
    p.stdin.flush()
    burst = green_heartbeat(g, lambda: burst_done(p))
    result["c10k_burst_hb_max"] = max(burst) * 1000
    result["c10k_burst_ms"] = burst_result(p)["burst_ms"]
    return result


# ---------------------------------------------------------------- asyncio, uvloop
def run_async(name: str, coro: Any) -> Any:
    import asyncio

    if name == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


async def async_switch(n: int) -> dict:
    import asyncio

    async def worker() -> None:
        for _ in range(n):
            await asyncio.sleep(0)

    t0, c0 = clock(), cpu()
    await asyncio.gather(worker(), worker())
    return {"switch": 2 * n / (cpu() - c0), "switch_wall": 2 * n / (clock() - t0)}


async def async_spawn(n: int) -> dict:
    import asyncio

    async def f(i: int) -> int:
        return i

    create_task = asyncio.get_running_loop().create_task
    t0, c0 = clock(), cpu()
    ts = [create_task(f(i)) for i in range(n)]
    for t in ts:
        await t
    return {"spawn": n / (cpu() - c0), "spawn_wall": n / (clock() - t0)}


async def async_timers(n: int, spread: float) -> dict:
    import asyncio

    late: list[float] = []

    async def f(d: float) -> None:
        t0 = clock()
        await asyncio.sleep(d)
        late.append(clock() - t0 - d)

    create_task = asyncio.get_running_loop().create_task
    ts = [create_task(f(d)) for d in sleeper_delays(n, spread)]
    for t in ts:
        await t
    return lateness(late, "timers")


async def async_memory(n: int) -> dict:
    import asyncio

    ev = asyncio.Event()
    started = [0]

    async def idle() -> None:
        started[0] += 1
        await ev.wait()

    gc.collect()
    base = rss_bytes()
    create_task = asyncio.get_running_loop().create_task
    tasks = [create_task(idle()) for _ in range(n)]
    while started[0] < n:
        await asyncio.sleep(0.001)
    gc.collect()
    result = {"mem_thread": (rss_bytes() - base) / n / 1024}
    del tasks
    return result


async def async_server() -> tuple[int, list[int]]:
    import asyncio

    accepted = [0]

    async def handle(r: Any, w: Any) -> None:
        accepted[0] += 1
        while True:
            d = await r.read(4096)
            if not d:
                break
            w.write(d)
            await w.drain()
        w.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=BACKLOG)
    return srv.sockets[0].getsockname()[1], accepted


async def async_wait_client(p: subprocess.Popen, every: float) -> None:
    import asyncio

    while p.poll() is None:
        await asyncio.sleep(every)


async def async_echo(conns: int, msgs: int) -> dict:
    port, _ = await async_server()
    c0 = cpu()
    p = start_client("echo", port, conns, msgs)
    await async_wait_client(p, 0.05)
    return echo_result(p, conns, msgs, cpu() - c0)


async def async_heartbeat(until: Any) -> list[float]:
    import asyncio

    late = []
    while not until():
        t0 = clock()
        await asyncio.sleep(HEARTBEAT)
        late.append(clock() - t0 - HEARTBEAT)
    return late


async def async_c10k(conns: int, seconds: float) -> dict:
    import asyncio

    port, accepted = await async_server()
    await asyncio.sleep(0.01)
    gc.collect()
    base = rss_bytes()
    p = start_client("hold", port, conns)
    while accepted[0] < conns:
        if p.poll() is not None:
            client_result(p)
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    gc.collect()
    result = {"mem_conn": (rss_bytes() - base) / conns / 1024}
    end = clock() + seconds
    result.update(lateness(await async_heartbeat(lambda: clock() >= end), "c10k_hb"))
    p.stdin.write(b"go\n")
    p.stdin.flush()
    burst = await async_heartbeat(lambda: burst_done(p))
    result["c10k_burst_hb_max"] = max(burst) * 1000
    result["c10k_burst_ms"] = burst_result(p)["burst_ms"]
    return result


# ---------------------------------------------------------------- native threads
def threads_spawn(n: int) -> dict:
    import threading

    def f(i: int) -> int:
        return i

    t0, c0 = clock(), cpu()  # cpu() counts every thread of the process
    ts = [threading.Thread(target=f, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {"spawn": n / (cpu() - c0), "spawn_wall": n / (clock() - t0)}


def threads_timers(n: int, spread: float) -> dict:
    import threading

    late: list[float] = []

    def f(d: float) -> None:
        t0 = clock()
        time.sleep(d)
        late.append(clock() - t0 - d)  # list.append is atomic under the GIL

    ts = [threading.Thread(target=f, args=(d,)) for d in sleeper_delays(n, spread)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return lateness(late, "timers")


def threads_memory(n: int) -> dict:
    import threading

    ev = threading.Event()
    gc.collect()
    base = rss_bytes()
    ts = [threading.Thread(target=ev.wait, daemon=True) for _ in range(n)]
    for t in ts:
        t.start()
    time.sleep(0.1)
    gc.collect()
    return {"mem_thread": (rss_bytes() - base) / n / 1024}


def threads_server() -> tuple[int, list[int]]:
    import socketserver
    import threading

    accepted = [0]
    lock = threading.Lock()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            with lock:
                accepted[0] += 1
            recv, sendall = self.request.recv, self.request.sendall
            while True:
                d = recv(4096)
                if not d:
                    break
                sendall(d)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = BACKLOG
        block_on_close = False

    s = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s.server_address[1], accepted


def threads_echo(conns: int, msgs: int) -> dict:
    port, _ = threads_server()
    c0 = cpu()
    p = start_client("echo", port, conns, msgs)
    p.wait()
    return echo_result(p, conns, msgs, cpu() - c0)


def threads_heartbeat(until: Any) -> list[float]:
    late = []
    while not until():
        t0 = clock()
        time.sleep(HEARTBEAT)
        late.append(clock() - t0 - HEARTBEAT)
    return late


def threads_c10k(conns: int, seconds: float) -> dict:
    gc.collect()
    base = rss_bytes()
    port, accepted = threads_server()
    p = start_client("hold", port, conns)
    while accepted[0] < conns:
        if p.poll() is not None:
            client_result(p)
        time.sleep(0.01)
    time.sleep(0.1)
    gc.collect()
    result = {"mem_conn": (rss_bytes() - base) / conns / 1024}
    end = clock() + seconds
    result.update(lateness(threads_heartbeat(lambda: clock() >= end), "c10k_hb"))
    p.stdin.write(b"go\n")
    p.stdin.flush()
    burst = threads_heartbeat(lambda: burst_done(p))
    result["c10k_burst_hb_max"] = max(burst) * 1000
    result["c10k_burst_ms"] = burst_result(p)["burst_ms"]
    return result


# ---------------------------------------------------------------- bare greenlet
def greenlet_switch(n: int) -> dict:
    """Two greenlets switching to each other: no hub, no queue -- the ceiling.

    A hub's ``sleep(0)`` costs at least two such switches (into the hub, and
    from the hub into the next greenthread), so half this switch rate is the
    most ``sleep(0)`` calls per second any greenlet-based hub can reach.
    """
    import greenlet

    def a() -> None:
        for _ in range(n):
            gb.switch()

    def b() -> None:
        while True:
            ga.switch()

    ga, gb = greenlet.greenlet(a), greenlet.greenlet(b)
    t0, c0 = clock(), cpu()
    ga.switch()
    return {"switch": 2 * n / (cpu() - c0) / 2, "switch_wall": 2 * n / (clock() - t0) / 2}


# ---------------------------------------------------------------- dispatch
def run(lib: str, scenario: str, p: dict) -> dict:
    """Run ``scenario`` for ``lib`` with parameters ``p``; returns {metric: value}."""
    if scenario in ("echo", "c10k"):
        raise_fd_limit()
    if lib == "greenlet":
        if scenario == "switch":
            return greenlet_switch(p["n"])
        raise Skip("bare greenlet: switch only")
    if lib in ("minievent", "minievent+rec", "eventlet", "gevent"):
        g = Green(lib.split("+")[0], recording=lib.endswith("+rec"))
        return {
            "switch": lambda: green_switch(g, p["n"]),
            "spawn": lambda: green_spawn(g, p["n"]),
            "timers": lambda: green_timers(g, p["n"], p["spread"]),
            "memory": lambda: green_memory(g, p["n"]),
            "echo": lambda: green_echo(g, p["conns"], p["msgs"]),
            "c10k": lambda: green_c10k(g, p["conns"], p["seconds"]),
        }[scenario]()
    if lib in ("asyncio", "uvloop"):
        coro = {
            "switch": lambda: async_switch(p["n"]),
            "spawn": lambda: async_spawn(p["n"]),
            "timers": lambda: async_timers(p["n"], p["spread"]),
            "memory": lambda: async_memory(p["n"]),
            "echo": lambda: async_echo(p["conns"], p["msgs"]),
            "c10k": lambda: async_c10k(p["conns"], p["seconds"]),
        }[scenario]()
        return run_async(lib, coro)
    if lib == "threads":
        fn = {
            "spawn": lambda: threads_spawn(p["n"]),
            "timers": lambda: threads_timers(p["n"], p["spread"]),
            "memory": lambda: threads_memory(p["n"]),
            "echo": lambda: threads_echo(p["conns"], p["msgs"]),
            "c10k": lambda: threads_c10k(p["conns"], p["seconds"]),
        }.get(scenario)
        if fn is None:
            raise Skip(f"threads: no {scenario}")
        return fn()
    raise ValueError(f"unknown library {lib!r}")


def main(argv: list[str]) -> None:
    lib, scenario, params = argv[0], argv[1], json.loads(argv[2])
    try:
        out: dict = {"values": run(lib, scenario, params)}
    except Skip as e:
        out = {"skip": str(e)}
    sys.stdout.write("RESULT " + json.dumps(out) + "\n")
    sys.stdout.flush()
    # Leave at once: thousands of parked greenthreads, tasks, threads and
    # sockets need no orderly teardown, and some hubs complain at exit.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
