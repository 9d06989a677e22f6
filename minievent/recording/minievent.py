"""The capture of minievent's own hub: an instrument on its three single points.

The instrument itself is ``minievent.recorder.HubRecorder``; this module
installs it on the calling thread's hub and names minievent's lanes: a
GreenThread after its name (a worker greenlet runs many over time), the main
greenlet "main", any other greenlet "greenlet".
"""

from __future__ import annotations

from typing import Any

import greenlet

from ..greenthread import GreenThread
from ..hub import Hub, get_hub
from ..recorder import _POLLED, _STOP, RESUMED, HubRecorder
from .records import HUB, HUB_ID, SPAWN, Capture, Records, _first_at, thread_ident

__all__ = ["HubCapture", "in_hub"]


class HubCapture(Capture):
    """Records the hub of the OS thread that installs it."""

    kind = "minievent"

    def install(self, records: Records) -> None:
        hub = get_hub()  # (other instruments may be installed on it: the flight recorder, another recording)
        self.records, self.hub, self.main = records, hub, hub.main
        cur = greenlet.getcurrent()
        records.begin(HUB if cur is hub.greenlet else getattr(cur, "gt", None) or cur)
        self.recorder = HubRecorder(records, hub, HUB_ID, SPAWN)
        hub.add_instrument(self.recorder)

    def uninstall(self) -> None:
        if thread_ident() != self.records.thread:  # type: ignore[union-attr]
            raise RuntimeError("stop() must be called from the OS thread that called start()")
        if self.recorder in self.hub.instruments:  # (not if a failing hook had it removed)
            self.hub.remove_instrument(self.recorder)
        self.recorder.finish(greenlet.getcurrent())

    def flush(self) -> None:
        self.recorder.flush()

    def latest(self) -> tuple[int, float, int | None]:
        return self.recorder.latest()

    # -- a window of a recording that runs (the flight recorder's), read from another OS thread
    def trim(self, horizon: float) -> int:
        """Drop the raw records older than ``horizon``: the log the hub appends to, the polls, and the entries
        made ready before it that never ran. For a recording nobody flushes while it runs (the flight
        recorder's, which reads it through ``window()``). Returns how many records went."""
        rec = self.recorder
        raw = rec._raw
        k = _first_at(raw, len(raw) // 3, horizon)
        if k:
            del raw[: 3 * k]  # (one statement: the hub's appends go on after it)
            self.records.trimmed = True
        polls = self.records._polls
        drop = 0
        while drop < len(polls) and polls[drop][1] < horizon:
            drop += 1
        del polls[:drop]
        for entry, since in list(rec._scheduled.items()):
            if since < horizon:
                rec._scheduled.pop(entry, None)
        return k

    def window(self, since: float, until: float) -> Records:
        """The records from ``since`` to ``until``, made from a copy of the raw log (any thread; the live
        recording is not touched). They start at the first park after ``since``, when the hub had the CPU."""
        raw = list(self.recorder._raw)
        n = len(raw) // 3
        i = _first_at(raw, n, since)
        while i < n and any(raw[3 * i + 1] is x for x in (RESUMED, _POLLED, _STOP)):
            i += 1  # (a resume, a poll's events, a stop: not a park)
        out = Records(self.records.cap)
        out.t0 = raw[3 * i] if i < n else since
        out.thread = self.records.thread
        out.first_key = HUB
        out._polls = [p for p in self.records.polls() if p[1] >= out.t0]
        decoder = HubRecorder(out, self.hub, HUB_ID, SPAWN)
        decoder._raw = raw[3 * (i + 1) : 3 * n]  # (the park itself: the hub had the CPU from then)
        decoder._scheduled = dict(self.recorder._scheduled)
        decoder.flush()
        out.t1 = until
        return out

    def lane_name(self, key: Any) -> str:
        if isinstance(key, GreenThread):
            return str(key.name)
        return "main" if key is self.main else "greenlet"


def in_hub(frame: Any) -> bool:
    """Whether ``frame`` runs in minievent's hub greenlet (the bottom of its stack is ``Hub.run``).

    For a watchdog: after a yield, the records cannot say who runs; the stack can.
    """
    while frame.f_back is not None:
        frame = frame.f_back
    return frame.f_code is Hub.run.__code__
