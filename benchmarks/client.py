"""The load generator: a separate process that talks to the server under test.

Why a separate process: the client must not share the GIL -- or the event
loop -- with the server it measures, and it must be *the same* client for
every library, so that the only thing that changes between two figures is
the server. It runs on uvloop when uvloop is installed (plain asyncio
otherwise) with protocol callbacks, the cheapest client Python offers, so
that on a 2-core machine it is not the client that sets the pace.

Two modes, one JSON line on stdout each:

``echo PORT CONNS MSGS``
    Open CONNS connections; each does one warm-up round trip (so the server
    has accepted every connection before the clock starts), then MSGS
    sequential 64-byte round trips. Prints ``{"rate": round trips/s, "busy":
    the client's CPU share}`` over the timed part only.

``hold PORT CONNS``
    Open CONNS connections and keep them idle until a line arrives on stdin;
    then send 64 bytes on every one at once and wait for every echo. Prints
    ``{"burst_ms": ..., "rate": ...}``, and holds the connections until stdin
    closes (the server exits first). Used for C10K.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time

PAYLOAD = b"x" * 64

#: Connections opened at the same time. Enough to open 10,000 in about a
#: second, few enough never to overflow a listen backlog of 1,024.
CONNECT_CONCURRENCY = 64


def raise_fd_limit() -> int:
    """Lift the soft RLIMIT_NOFILE to the hard limit: 10,000 sockets need it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Echo(asyncio.Protocol):
    """One connection: counts 64-byte echoes and resolves futures as they complete."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.got = 0
        self.left = 0
        self.done: asyncio.Future | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def start(self, msgs: int) -> asyncio.Future:
        """Do ``msgs`` sequential round trips; the future resolves after the last echo."""
        self.left = msgs
        self.done = self.loop.create_future()
        self.transport.write(PAYLOAD)
        return self.done

    def data_received(self, data: bytes) -> None:
        self.got += len(data)
        while self.got >= len(PAYLOAD):
            self.got -= len(PAYLOAD)
            self.left -= 1
            if self.left <= 0:
                if self.done is not None and not self.done.done():
                    self.done.set_result(None)
                return
            self.transport.write(PAYLOAD)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError(f"server closed the connection early: {exc!r}"))


async def open_all(port: int, conns: int) -> list[Echo]:
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(CONNECT_CONCURRENCY)
    protocols: list[Echo] = []

    async def one() -> None:
        async with sem:
            _, proto = await loop.create_connection(lambda: Echo(loop), "127.0.0.1", port)
            protocols.append(proto)

    await asyncio.gather(*[one() for _ in range(conns)])
    return protocols


async def echo(port: int, conns: int, msgs: int) -> dict:
    protocols = await open_all(port, conns)
    await asyncio.gather(*[p.start(1) for p in protocols])  # warm-up: all accepted
    t0, c0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*[p.start(msgs) for p in protocols])
    elapsed, used = time.perf_counter() - t0, time.process_time() - c0
    for p in protocols:
        p.transport.close()
    # busy near 1.0: the client, not the server, set the pace.
    return {"rate": conns * msgs / elapsed, "busy": used / elapsed}


async def hold(port: int, conns: int) -> dict:
    protocols = await open_all(port, conns)
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)  # the server says "go"
    if not line:
        raise SystemExit("hold: stdin closed before go")
    t0 = time.perf_counter()
    await asyncio.gather(*[p.start(1) for p in protocols])
    elapsed = time.perf_counter() - t0
    # Report, then keep every connection open until the server goes away
    # (stdin closes). Closing them here would wake 10,000 handlers at once
    # only to say goodbye -- with native threads a GIL storm of minutes.
    print(json.dumps({"burst_ms": elapsed * 1000, "rate": conns / elapsed}), flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    return None


def main(argv: list[str]) -> None:
    raise_fd_limit()
    mode, args = argv[0], [int(a) for a in argv[1:]]
    coro = echo(*args) if mode == "echo" else hold(*args)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(coro)
    else:
        loop = uvloop.new_event_loop()
        result = loop.run_until_complete(coro)
    if result is not None:
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
