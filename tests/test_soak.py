"""Soak: 1,000 concurrent echo connections for SOAK_SECONDS under chaos, on 127.0.0.1.

Clients loop: connect, run a random number of rounds (send a payload of a
random size, read the echo back), close. Meanwhile:

- some clients close abruptly in the middle of a round (unread data: a reset);
- some stall longer than the server's idle timeout (the server drops them);
- some give up on a round after a tiny ``Timeout``;
- a chaos greenthread kills random server-side handlers;
- some clients connect and leave without a byte, or connect and never send.

What must hold, checked per connection:

- every byte that came back is the byte that was sent at that position of
  that connection's stream (checked chunk by chunk as it arrives; payloads
  carry the connection id and round, so crossed streams would show);
- on connections that ended normally, every byte sent was echoed, and the
  server's checksums of what it received and what it sent back equal the
  client's checksums of what it sent and what it received (sha256);
- afterwards: no greenthread stuck, the hub's loop greenlet the same one
  (it never died), no listener, no pending timer, fds back to the baseline.
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
import resource
import socket
import struct
import time

import pytest
from support import assert_hub_clean, collect, open_fds, pending_timers

import minievent
from minievent import GreenletExit

pytestmark = [pytest.mark.usefixtures("poller"), pytest.mark.slow, pytest.mark.timeout(300)]

#: How long the load runs (per poller). 30 s in CI; MINIEVENT_SOAK_SECONDS overrides it for a local run.
SOAK_SECONDS = float(os.environ.get("MINIEVENT_SOAK_SECONDS", "30"))
CONNECTIONS = 1000
MAX_PAYLOAD = 64 * 1024  # below the loopback buffers: a send-then-read round can't deadlock on itself
SERVER_IDLE_TIMEOUT = 2.0
HEADER = struct.Struct("!QI")  # connection id, round: at the start of every payload

BLOCK = random.Random(1).randbytes(1 << 20)

# What a client may meet when the server side is killed, times out or is reset.
EXPECTED_ERRORS = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, TimeoutError)


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        new = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert soft == resource.RLIM_INFINITY or soft >= needed, f"need {needed} fds, the hard limit allows {soft}"


class Stats:
    def __init__(self):
        self.rounds = 0
        self.bytes_echoed = 0  # verified, byte for byte
        self.conns = 0
        self.outcomes: dict[str, int] = {}
        self.server: dict[int, tuple] = {}  # cid -> (outcome, nrx, ntx, rx sha, tx sha)
        self.clean: dict[int, tuple] = {}  # cid -> (nsent, nrecv, sent sha, recv sha)
        self.corrupt: list[str] = []
        self.unexpected: list[BaseException] = []
        self.server_unexpected: list[BaseException] = []
        self.server_kills = 0

    def count(self, outcome):
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


class Conn:
    """One client connection's bookkeeping: what was sent and not yet seen back, and checksums."""

    def __init__(self, cid, sock):
        self.cid = cid
        self.sock = sock
        self.pending = bytearray()
        self.sent = hashlib.sha256()
        self.recvd = hashlib.sha256()
        self.nsent = self.nrecv = 0

    def send(self, data):
        self.pending += data  # before sendall: a partial send still only lets a prefix come back
        self.sock.sendall(data)
        self.sent.update(data)
        self.nsent += len(data)

    def read_back(self, n, stats):
        """Read ``n`` echoed bytes; each chunk must be exactly the next bytes sent. False on EOF."""
        while n:
            chunk = self.sock.recv(min(n, 65536))
            if not chunk:
                return False
            k = len(chunk)
            if self.pending[:k] != chunk:
                stats.corrupt.append(f"connection {self.cid}: {k} bytes at offset {self.nrecv} differ")
                return False
            del self.pending[:k]
            self.recvd.update(chunk)
            self.nrecv += k
            stats.bytes_echoed += k
            n -= k
        return True


def _server(srv, stats, handlers):
    def handle(conn):
        conn.settimeout(SERVER_IDLE_TIMEOUT)
        rx, tx = hashlib.sha256(), hashlib.sha256()
        nrx = ntx = 0
        head = b""
        outcome = "?"
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    outcome = "eof"
                    break
                if len(head) < 8:
                    head += data[: 8 - len(head)]
                rx.update(data)
                nrx += len(data)
                conn.sendall(data)
                tx.update(data)
                ntx += len(data)
        except GreenletExit:
            outcome = "killed"
            raise
        except EXPECTED_ERRORS as e:
            outcome = type(e).__name__
        except BaseException as e:  # noqa: B036 -- reported by the test
            outcome = "unexpected"
            stats.server_unexpected.append(e)
        finally:
            conn.close()
            if len(head) == 8:
                cid = struct.unpack("!Q", head)[0]
                stats.server[cid] = (outcome, nrx, ntx, rx.digest(), tx.digest())

    def ended(gt, conn):
        conn.close()  # (a handler killed before it started never ran its own finally)
        handlers.discard(gt)

    while True:
        conn, _ = srv.accept()
        gt = minievent.spawn(handle, conn)
        gt.link(ended, conn)
        handlers.add(gt)


def _chaos(handlers, stats, rnd, stop):
    while not stop.ready():
        minievent.sleep(rnd.uniform(0.005, 0.05))
        if handlers:
            victim = rnd.choice(list(handlers))
            victim.kill()
            stats.server_kills += 1


def _client(n, addr, stats, rnd, deadline, ids):
    while time.monotonic() < deadline:
        cid = next(ids)
        stats.conns += 1
        style = rnd.random()
        try:
            sock = minievent.connect(addr)
        except OSError as e:
            stats.unexpected.append(e)
            return
        conn = Conn(cid, sock)
        outcome = "clean"
        try:
            if style < 0.01:  # connect and leave at once
                outcome = "left at once"
                continue
            if style < 0.015:  # connect and never send: the server's idle timeout ends it
                outcome = "silent"
                if sock.recv(1) != b"":
                    stats.corrupt.append(f"connection {cid}: data on a silent connection")
                continue
            sock.settimeout(rnd.choice([None, 10.0]))
            for r in range(rnd.randint(1, 30)):
                size = rnd.choice([1, 7, 100, 1000, 1460, 4096, 20000, MAX_PAYLOAD - HEADER.size])
                off = rnd.randrange(len(BLOCK) - size)
                payload = HEADER.pack(cid, r) + BLOCK[off : off + size]
                act = rnd.random()
                if act < 0.005:  # stall past the server's idle timeout: it drops us
                    minievent.sleep(SERVER_IDLE_TIMEOUT + rnd.uniform(0.1, 0.5))
                if act > 0.99:  # abrupt close mid-round, echo unread: a reset for the server
                    conn.send(payload)
                    conn.read_back(rnd.randint(0, len(payload) // 2), stats)
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    outcome = "aborted"
                    break
                conn.send(payload)
                if act > 0.98:  # give up on this round after a tiny timeout
                    try:
                        with minievent.Timeout(rnd.choice([0.0001, 0.001])):
                            ok = conn.read_back(len(payload), stats)
                    except minievent.Timeout:
                        outcome = "gave up"
                        break
                else:
                    ok = conn.read_back(len(payload), stats)
                if not ok:
                    outcome = "server closed"
                    break
                stats.rounds += 1
        except EXPECTED_ERRORS as e:
            outcome = type(e).__name__
        except OSError as e:
            if e.errno in (errno.ECONNRESET, errno.EPIPE):
                outcome = type(e).__name__
            else:
                stats.unexpected.append(e)
                outcome = "unexpected"
        except Exception as e:
            stats.unexpected.append(e)
            outcome = "unexpected"
        finally:
            sock.close()
            stats.count(outcome)
            if outcome == "clean":
                stats.clean[cid] = (conn.nsent, conn.nrecv, conn.sent.digest(), conn.recvd.digest())


def test_soak_1000_connections_under_chaos():
    _raise_fd_limit(4 * CONNECTIONS + 256)
    hub = minievent.get_hub()
    loop = hub.greenlet
    collect()
    fds_before = open_fds()
    stats = Stats()
    handlers: set = set()

    srv = minievent.listen(("127.0.0.1", 0), backlog=2048)
    addr = srv.getsockname()
    server = minievent.spawn(_server, srv, stats, handlers)
    stop = minievent.Event()
    chaos = minievent.spawn(_chaos, handlers, stats, random.Random(5), stop)
    ticks = []

    def heartbeat():
        while not stop.ready():
            t = time.monotonic()
            minievent.sleep(0.01)
            ticks.append(time.monotonic() - t - 0.01)

    beat = minievent.spawn(heartbeat)
    ids = iter(range(1, 10**9))
    t0 = time.monotonic()
    deadline = t0 + SOAK_SECONDS
    clients = [minievent.spawn(_client, i, addr, stats, random.Random(i), deadline, ids) for i in range(CONNECTIONS)]

    # The run. Then every client must finish its last round on its own (bounded by the
    # server's idle timeout and the chaos): nothing may be stuck.
    stuck = []
    try:
        with minievent.Timeout(SOAK_SECONDS + 60):
            for c in clients:
                c.wait()
    except minievent.Timeout:
        stuck = [c for c in clients if not c.dead]
    elapsed = time.monotonic() - t0
    stop.send()
    chaos.wait()
    beat.wait()
    # Handlers see EOF from the closed clients and end by themselves.
    with minievent.Timeout(SERVER_IDLE_TIMEOUT + 10, False):
        while handlers:
            minievent.sleep(0.01)
    stuck_handlers = list(handlers)
    server.kill()
    with pytest.raises(GreenletExit):
        server.wait()
    srv.close()
    for c in stuck:
        c.kill()
    for h in stuck_handlers:
        h.kill()

    print(
        f"\nsoak ({hub.poller.name}): {elapsed:.1f}s, {CONNECTIONS} concurrent clients, {stats.conns} connections, "
        f"{stats.rounds} rounds, {stats.bytes_echoed / 1e6:.1f} MB echoed and verified, "
        f"{stats.server_kills} server-side kills, outcomes {dict(sorted(stats.outcomes.items()))}, "
        f"heartbeat {len(ticks)} ticks, worst lateness {max(ticks, default=0) * 1000:.0f} ms"
    )
    assert not stuck, f"{len(stuck)} clients stuck: {stuck[:5]}"
    assert not stuck_handlers, f"{len(stuck_handlers)} server handlers stuck"
    assert stats.corrupt == [], stats.corrupt[:10]
    assert stats.unexpected == [], stats.unexpected[:10]
    assert stats.server_unexpected == [], stats.server_unexpected[:10]

    # Every connection that ended normally: all bytes came back, and both ends agree on them.
    assert stats.clean, "no connection ended normally"
    compared = 0
    for cid, (nsent, nrecv, sent, recvd) in stats.clean.items():
        assert nsent == nrecv and sent == recvd, f"connection {cid}: sent {nsent}, got {nrecv} back"
        srv_rec = stats.server.get(cid)
        assert srv_rec is not None, f"connection {cid}: the server never saw it"
        outcome, nrx, ntx, rx, tx = srv_rec
        if outcome == "eof":
            assert (nrx, ntx, rx, tx) == (nsent, nrecv, sent, recvd), f"connection {cid}: checksums differ"
            compared += 1
    assert compared > len(stats.clean) // 2
    # Every style of trouble happened (otherwise this soak tested less than it claims).
    for outcome in ("aborted", "gave up", "server closed", "silent", "left at once"):
        assert stats.outcomes.get(outcome, 0) > 0, f"no '{outcome}' connection in this run"
    assert stats.server_kills > 0

    # The hub: never died, nothing left behind.
    assert hub.greenlet is loop and not loop.dead
    assert ticks, "the heartbeat never ran"
    minievent.sleep(0.01)
    assert hub.listeners() == []
    assert pending_timers(hub) == []
    assert_hub_clean(hub)
    collect()
    assert open_fds() == fds_before
