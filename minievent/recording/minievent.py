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
from ..recorder import HubRecorder
from .records import HUB, HUB_ID, SPAWN, Capture, Records, thread_ident

__all__ = ["HubCapture", "in_hub"]


class HubCapture(Capture):
    """Records the hub of the OS thread that installs it."""

    kind = "minievent"

    def install(self, records: Records) -> None:
        hub = get_hub()
        if hub.instrument is not None:
            raise RuntimeError("another recorder is already installed on this thread's hub")
        self.records, self.hub, self.main = records, hub, hub.main
        cur = greenlet.getcurrent()
        records.begin(HUB if cur is hub.greenlet else getattr(cur, "gt", None) or cur)
        self.recorder = HubRecorder(records, hub, HUB_ID, SPAWN)
        hub.install(self.recorder)

    def uninstall(self) -> None:
        if thread_ident() != self.records.thread:  # type: ignore[union-attr]
            raise RuntimeError("stop() must be called from the OS thread that called start()")
        self.hub.uninstall(self.recorder)
        self.recorder.finish(greenlet.getcurrent())

    def flush(self) -> None:
        self.recorder.flush()

    def latest(self) -> tuple[int, float, int | None]:
        return self.recorder.latest()

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
