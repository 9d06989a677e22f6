"""The flight recorder's Prometheus metrics: schedule latency per lane, loop held, incidents written.

An operator alerts on these before the scheduler calls the service down: a heartbeat lane whose
schedule latency (ready to running) climbs towards ``service_down_time``, a loop held for seconds.

* ``minievent_schedule_latency_seconds{lane="FixedIntervalLoopingCall(report_state)"}``:
  histogram, from the moment a lane was ready (its timer due, its fd reported, its event sent)
  to the moment it ran;
* ``minievent_loop_held_seconds``: histogram of how long one lane ran without giving the loop back
  (only runs longer than ``HELD_FLOOR``: the rest is the loop working as it should);
* ``minievent_incidents_total``: incidents written, by ``reason`` (stall, late, signal).

Three parts, in two processes. In the program's: ``Metrics`` counts (a few list operations with no
lock, in whichever thread notices) and hands out ``snapshot()``, plain numbers; ``listen()`` binds
the endpoint's socket when the recorder is armed (from ``_socket``, the C socket no monkey patching
replaces), so that a port in use is refused before the program starts. In the sidecar's
(``minievent.recording.sidecar`` says why): ``families()`` turns a snapshot into
``prometheus_client``'s metric families, and ``serve()`` answers ``GET /metrics`` (and ``/``)
on that socket and nothing else. ``prometheus_client`` is never imported in the program's process.
"""

from __future__ import annotations

import _socket
import bisect
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = [
    "Metrics",
    "families",
    "listen",
    "serve",
    "url",
    "check_port",
    "LATENCY_BUCKETS",
    "HELD_BUCKETS",
    "HELD_FLOOR",
]

#: seconds; nova's report_interval is 10 s and service_down_time 60 s, so the top buckets matter
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
HELD_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: a run shorter than this is not counted as the loop held
HELD_FLOOR = 0.01


class _Histogram:
    """Cumulative-at-read buckets, a sum and a count; observed without a lock."""

    __slots__ = ("bounds", "counts", "total", "n")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.n += 1

    def observe_many(self, values: list[float]) -> None:
        """Count many at once: sorted, then one bisection a bucket (the values are sorted in place)."""
        if not values:
            return
        values.sort()
        below = 0
        for i, bound in enumerate(self.bounds):
            upto = bisect.bisect_right(values, bound)  # (a bucket counts the values <= its bound)
            self.counts[i] += upto - below
            below = upto
        self.counts[-1] += len(values) - below
        self.total += sum(values)
        self.n += len(values)


class Metrics:
    """What the flight recorder counts; ``snapshot()`` gives the numbers, for ``families()``."""

    def __init__(self) -> None:
        self.latency: dict[str, _Histogram] = {}
        self.held = _Histogram(HELD_BUCKETS)
        self.incidents: dict[str, int] = {}
        self.changes = 0  # one more at every observation: the recorder sends a snapshot when it moved

    def observe_latency(self, lane: str, seconds: float) -> None:
        h = self.latency.get(lane)
        if h is None:
            h = self.latency[lane] = _Histogram(LATENCY_BUCKETS)
        h.observe(max(0.0, seconds))
        self.changes += 1

    def observe_latency_many(self, lane: str, seconds: list[float]) -> None:
        h = self.latency.get(lane)
        if h is None:
            h = self.latency[lane] = _Histogram(LATENCY_BUCKETS)
        h.observe_many([max(0.0, s) for s in seconds])
        self.changes += 1

    def observe_held_many(self, seconds: list[float]) -> None:
        """Runs already known to be HELD_FLOOR or longer."""
        if seconds:
            self.held.observe_many(seconds)
            self.changes += 1

    def observe_held(self, seconds: float) -> None:
        if seconds >= HELD_FLOOR:
            self.held.observe(seconds)
            self.changes += 1

    def incident(self, reason: str) -> None:
        self.incidents[reason] = self.incidents.get(reason, 0) + 1
        self.changes += 1

    def snapshot(self) -> dict:
        """Plain numbers (dicts, lists, floats: what ``marshal`` sends), read without stopping anyone."""
        return {
            "latency": {lane: _numbers(h) for lane, h in sorted(dict(self.latency).items())},
            "held": _numbers(self.held),
            "incidents": dict(self.incidents),
        }


def _numbers(h: _Histogram) -> list:
    return [list(h.bounds), list(h.counts), h.total]


def _buckets(bounds: list[float], counts: list[int]) -> list[tuple[str, int]]:
    out, running = [], 0
    for bound, count in zip((*bounds, float("inf")), counts, strict=True):
        running += count
        out.append(("+Inf" if bound == float("inf") else repr(bound), running))
    return out


def families(snapshot: dict) -> Iterator[Any]:
    """``prometheus_client``'s metric families for a ``Metrics.snapshot()`` (in the sidecar only)."""
    from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

    latency = HistogramMetricFamily(
        "minievent_schedule_latency_seconds",
        "From ready (timer due, fd reported, event sent) to running, per lane",
        labels=["lane"],
    )
    for lane, (bounds, counts, total) in snapshot["latency"].items():
        latency.add_metric([lane], _buckets(bounds, counts), total)
    yield latency
    held = HistogramMetricFamily(
        "minievent_loop_held_seconds", f"How long one lane ran without yielding (runs over {HELD_FLOOR:g} s)"
    )
    bounds, counts, total = snapshot["held"]
    held.add_metric([], _buckets(bounds, counts), total)
    yield held
    incidents = CounterMetricFamily(
        "minievent_incidents", "Incidents the flight recorder wrote, by reason", labels=["reason"]
    )
    for reason in ("stall", "late", "signal"):
        incidents.add_metric([reason], snapshot["incidents"].get(reason, 0))
    yield incidents


def check_port(port: Any) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"--metrics-port must be from 0 to 65535, not {port!r}")
    return port


def listen(addr: str = "127.0.0.1", port: int = 0) -> Any:
    """The endpoint's listening socket, bound now (OSError: the address is in use or not ours)."""
    check_port(port)
    try:
        infos = _socket.getaddrinfo(addr, port, 0, _socket.SOCK_STREAM, 0, _socket.AI_PASSIVE)
    except _socket.gaierror as e:
        raise OSError(f"--metrics-addr {addr}: {e.strerror or e}") from None
    family, kind, proto, _canon, sockaddr = infos[0]
    sock = _socket.socket(family, kind, proto)
    try:
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(16)
    except OSError as e:
        sock.close()
        raise OSError(f"--metrics-port {port} on {addr}: {e.strerror or e}") from None
    return sock


def url(sock: Any) -> str:
    """The endpoint's address, for people: ``http://127.0.0.1:9100/metrics``."""
    host, port = sock.getsockname()[:2]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/metrics"


def serve(listener: Any, body: Callable[[], tuple[str, bytes]]) -> None:
    """Answer ``GET /metrics`` on ``listener`` for ever, one client at a time (``body()``: type, bytes)."""
    while True:
        conn, _peer = listener.accept()
        try:
            conn.settimeout(5.0)
            _answer(conn, body)
        except OSError:
            pass  # that client went away: the next one is answered
        finally:
            conn.close()


def _answer(conn: Any, body: Callable[[], tuple[str, bytes]]) -> None:
    request = b""
    while b"\r\n\r\n" not in request and len(request) < 16384:
        chunk = conn.recv(4096)
        if not chunk:
            return
        request += chunk
    line = request.split(b"\r\n", 1)[0].split()
    if len(line) < 2 or line[0] not in (b"GET", b"HEAD"):
        conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        return
    path = line[1].split(b"?", 1)[0]
    if path not in (b"/", b"/metrics"):
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        return
    kind, data = body()
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    ).encode()
    conn.sendall(head if line[0] == b"HEAD" else head + data)
