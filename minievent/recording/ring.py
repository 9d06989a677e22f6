"""The flight recorder's ring: the last ``window`` seconds of records, older ones dropped by age.

A capture's hot path must stay one ``list.append``, so the ring is not a circular buffer of
slots (an index to advance and wrap on every record) but a short queue of *chunks*: plain
lists, each covering ``window / chunks`` seconds. Captures append to the newest chunk's
lists; once in a while (once per loop turn, before the poll: never per record) the loop's
own thread calls ``rotate(now)``, which starts a new chunk when the newest one has covered
its share of the window and drops every chunk that ended more than ``window`` ago. So the
ring holds between ``window`` and ``window + window / chunks`` seconds of records, memory
is flat however long the service runs, and dropping costs one ``popleft`` per chunk.

Each chunk has the same named streams (``switches``, ``timers``...), so one capture's
records of different kinds age together. A window of ``math.inf`` never drops: that is
``trace``'s recording, the same machinery unbounded.

    ring = Ring(window=30.0, streams=("switches", "timers"))
    sw = ring.newest.switches          # the capture binds sw.append ...
    if ring.rotate(clock()):           # ... and binds again after a rotation
        sw = ring.newest.switches
    ring.reaches_back()                # when the oldest kept record may be from
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = ["Ring", "Chunk", "DEFAULT_CHUNKS"]

#: Chunks a window is cut into: the window is kept to within 1/DEFAULT_CHUNKS of its length.
DEFAULT_CHUNKS = 8


class Chunk:
    """One slice of the window: ``start`` (when it began), ``end`` (None while newest), its streams."""

    __slots__ = ("start", "end", "streams")

    def __init__(self, start: float, names: Sequence[str]) -> None:
        self.start = start
        self.end: float | None = None
        self.streams: dict[str, list[Any]] = {name: [] for name in names}

    def __getattr__(self, name: str) -> list[Any]:
        try:
            return self.streams[name]
        except KeyError:
            raise AttributeError(f"no stream {name!r} in this ring") from None

    def __len__(self) -> int:
        return sum(len(s) for s in self.streams.values())


class Ring:
    """The last ``window`` seconds of records, in chunks; ``rotate`` from the loop's own thread."""

    def __init__(
        self,
        window: float,
        streams: Sequence[str] = ("records",),
        chunks: int = DEFAULT_CHUNKS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(window, bool) or not isinstance(window, (int, float)):
            raise TypeError(f"window must be a number of seconds, got {type(window).__name__}")
        if math.isnan(window) or window <= 0:
            raise ValueError(f"window must be > 0 seconds (math.inf: keep everything), got {window!r}")
        if isinstance(chunks, bool) or not isinstance(chunks, int) or chunks < 1:
            raise ValueError(f"chunks must be an int >= 1, got {chunks!r}")
        names = tuple(streams)
        if not names or len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"streams must be distinct non-empty names, got {streams!r}")
        self.window = float(window)
        self.names = names
        self.span = self.window / chunks  # inf for an unbounded ring: one chunk forever
        self.clock = clock
        self.dropped_chunks = 0
        self.dropped_records = 0
        #: the time before which records may have been dropped (None: nothing dropped yet)
        self.dropped_before: float | None = None
        start = clock()
        self.started = start
        self.newest = Chunk(start, names)
        self._chunks: deque[Chunk] = deque([self.newest])

    def rotate(self, now: float | None = None) -> bool:
        """Start a new chunk if the newest has covered its span; drop chunks older than the window.

        Returns True when a new chunk began (the caller binds the newest chunk's lists again).
        Cheap when nothing is due: two comparisons.
        """
        if now is None:
            now = self.clock()
        newest = self.newest
        if now - newest.start < self.span:
            return False
        newest.end = now
        self.newest = Chunk(now, self.names)
        self._chunks.append(self.newest)
        horizon = now - self.window
        chunks = self._chunks
        while chunks[0].end is not None and chunks[0].end < horizon:
            old = chunks.popleft()
            self.dropped_chunks += 1
            self.dropped_records += len(old)
            self.dropped_before = old.end
        return True

    def chunks(self) -> list[Chunk]:
        """The chunks kept, oldest first (a copy of the list; the chunks themselves are live)."""
        return list(self._chunks)

    def stream(self, name: str) -> Iterator[Any]:
        """Every record of one stream still kept, oldest first."""
        if name not in self.names:
            raise KeyError(name)
        for chunk in list(self._chunks):
            yield from chunk.streams[name]

    def reaches_back(self) -> float:
        """The earliest time the ring still covers: the start of its oldest kept chunk."""
        return self._chunks[0].start

    def __len__(self) -> int:
        """Records kept, every stream counted."""
        return sum(len(c) for c in self._chunks)

    def describe(self, now: float | None = None) -> str:
        """One line for a dump: how far back the records reach, and what was dropped."""
        if now is None:
            now = self.clock()
        back = now - self.reaches_back()
        if self.dropped_before is None:
            return f"records reach back {back:.1f} s, to the start of recording; nothing dropped"
        return (
            f"records reach back {back:.1f} s (window {self.window:g} s); "
            f"{self.dropped_records} older records dropped by age"
        )
