"""The flight recorder's Prometheus metrics: schedule latency per lane, loop held, incidents written.

An operator alerts on these before the scheduler calls the service down: a heartbeat lane whose
schedule latency (ready to running) climbs towards ``service_down_time``, a loop held for seconds.

* ``minievent_schedule_latency_seconds{lane="FixedIntervalLoopingCall(report_state)"}``:
  histogram, from the moment a lane was ready (its timer due, its fd reported, its event sent)
  to the moment it ran;
* ``minievent_loop_held_seconds``: histogram of how long one lane ran without giving the loop back
  (only runs longer than ``HELD_FLOOR``: the rest is the loop working as it should);
* ``minievent_incidents_total``: incidents written, by ``reason`` (stall, late, signal).

Observing is a few list operations with no lock, in whichever thread notices (the loop's, or the
watchdog's). ``prometheus_client`` is needed only to serve: its metric families and its text
format, through ``collect()`` here (no registry of its own, no lock of its own). It is imported
when the first scrape arrives, in the server's thread: never before the program's
``monkey_patch()``, which wants to see ``ssl`` and ``threading`` first.

The endpoint is a bare OS thread (``_thread``: the program's ``threading.enumerate()`` does not
list it) on a listening socket made from ``_socket`` (the C socket, which no monkey patching
replaces), bound when the recorder is armed so that a port in use is refused before the
program starts. It answers ``GET /metrics`` (and ``/``) and nothing else.
"""

from __future__ import annotations

import _socket
import _thread
import bisect
import os
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["Metrics", "MetricsServer", "LATENCY_BUCKETS", "HELD_BUCKETS", "HELD_FLOOR"]

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

    def buckets(self) -> list[tuple[str, int]]:
        out, running = [], 0
        for bound, count in zip((*self.bounds, float("inf")), list(self.counts), strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return out


class Metrics:
    """What the flight recorder counts; ``collect()`` gives prometheus_client's metric families."""

    def __init__(self) -> None:
        self.latency: dict[str, _Histogram] = {}
        self.held = _Histogram(HELD_BUCKETS)
        self.incidents: dict[str, int] = {}

    def observe_latency(self, lane: str, seconds: float) -> None:
        h = self.latency.get(lane)
        if h is None:
            h = self.latency[lane] = _Histogram(LATENCY_BUCKETS)
        h.observe(max(0.0, seconds))

    def observe_held(self, seconds: float) -> None:
        if seconds >= HELD_FLOOR:
            self.held.observe(seconds)

    def incident(self, reason: str) -> None:
        self.incidents[reason] = self.incidents.get(reason, 0) + 1

    def collect(self) -> Iterator[Any]:
        """prometheus_client's collector protocol (``generate_latest(metrics)`` calls it)."""
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        latency = HistogramMetricFamily(
            "minievent_schedule_latency_seconds",
            "From ready (timer due, fd reported, event sent) to running, per lane",
            labels=["lane"],
        )
        for lane, h in sorted(dict(self.latency).items()):
            latency.add_metric([lane], h.buckets(), h.total)
        yield latency
        held = HistogramMetricFamily(
            "minievent_loop_held_seconds", f"How long one lane ran without yielding (runs over {HELD_FLOOR:g} s)"
        )
        held.add_metric([], self.held.buckets(), self.held.total)
        yield held
        incidents = CounterMetricFamily(
            "minievent_incidents", "Incidents the flight recorder wrote, by reason", labels=["reason"]
        )
        for reason in ("stall", "late", "signal"):
            incidents.add_metric([reason], self.incidents.get(reason, 0))
        yield incidents


class MetricsServer:
    """``GET /metrics`` on ``addr:port`` from a bare OS thread; ``bind()`` refuses a bad address at once."""

    def __init__(self, metrics: Metrics, addr: str = "127.0.0.1", port: int = 0) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int from 0 to 65535, got {port!r}")
        self.metrics = metrics
        self.addr = addr
        self.port = port
        self._sock: Any = None
        self.error: str | None = None  # the one failure reported, after which the server stands down

    def bind(self) -> MetricsServer:
        """Make the listening socket now (OSError: the address is in use or not ours)."""
        try:
            infos = _socket.getaddrinfo(self.addr, self.port, 0, _socket.SOCK_STREAM, 0, _socket.AI_PASSIVE)
        except _socket.gaierror as e:
            raise OSError(f"--metrics-addr {self.addr}: {e.strerror or e}") from None
        family, kind, proto, _canon, sockaddr = infos[0]
        sock = _socket.socket(family, kind, proto)
        try:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            sock.bind(sockaddr)
            sock.listen(16)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self.port = sock.getsockname()[1]
        return self

    def start(self) -> MetricsServer:
        if self._sock is None:
            self.bind()
        _thread.start_new_thread(self._serve, ())
        return self

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(_socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    @property
    def url(self) -> str:
        host = f"[{self.addr}]" if ":" in self.addr else self.addr
        return f"http://{host}:{self.port}/metrics"

    def _serve(self) -> None:
        while True:
            sock = self._sock
            if sock is None:
                return
            try:
                fd, _peer = sock._accept()
            except OSError:
                if self._sock is None:
                    return
                continue
            conn = _socket.socket(fileno=fd)
            try:
                conn.settimeout(5.0)
                self._answer(conn)
            except Exception as e:  # one report, then stand down: the program runs on
                if self.error is None:
                    self.error = f"{type(e).__name__}: {e}"
                    _warn(f"minievent flight: the metrics endpoint stands down ({self.error})")
                    self.close()
            finally:
                conn.close()

    def _answer(self, conn: Any) -> None:
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
        from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

        body = generate_latest(self.metrics)  # type: ignore[arg-type]  (a collector is all it calls)
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: {CONTENT_TYPE_LATEST}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        conn.sendall(head if line[0] == b"HEAD" else head + body)


def _warn(text: str) -> None:
    try:
        os.write(2, (text + "\n").encode())
    except OSError:
        pass
