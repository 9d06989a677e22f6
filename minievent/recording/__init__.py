"""The recording wing: everything that watches a program's event loop, built on the core, never imported by it.

    with minievent.record() as tl:                    # this thread's minievent hub
        ...
    with minievent.record(loop="eventlet") as tl:     # or "gevent", "asyncio"
        run_the_service()
    tl.spans(); tl.blocked(0.1); tl.to_chrome_trace("t.json"); minievent.plot.swimlanes(tl)

One capture a loop writes the same raw records (``records.py``), so the
analysis, the pictures and the Chrome trace (``timeline.py``) are the same
whatever the loop:

* ``minievent.py``: minievent's hub, through its instrument hooks;
* ``eventlet.py``, ``gevent.py``: ``greenlet.settrace`` (``greenlets.py``)
  plus what each hub shows of its timers and polls;
* ``asyncio.py``: asyncio's ready queue and task steps.

Each capture's module says what it can see and what not. This module picks
one: ``record()`` and ``detect()`` (which loop runs this thread), or all that
appear: ``LoopRecorder``, which ``python -m minievent trace`` and the flight
recorder run on, records each loop from the moment it shows itself (the
first switch to a hub it knows; an asyncio loop that starts running).
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Iterator
from typing import Any

from . import watchdog
from .greenlets import HubSpotter
from .records import DEFAULT_CAP, Capture
from .timeline import Timeline

__all__ = ["LOOPS", "LoopRecorder", "Timeline", "capture_for", "detect", "hub_kind", "record", "timeline_for"]

#: What ``record(loop=...)`` and ``python -m minievent trace`` know how to record.
LOOPS = ("minievent", "eventlet", "gevent", "asyncio")


def detect() -> str:
    """The loop ``record()`` records when not told: eventlet or gevent if its hub exists in this thread or it
    has monkey-patched the program, else minievent. (A running asyncio loop is not a sign: Jupyter runs one.)"""
    from .. import hub as _hub

    if _hub.existing_hub() is not None:
        return "minievent"
    ev = sys.modules.get("eventlet.patcher")
    if ev is not None and (
        getattr(sys.modules["eventlet.hubs"]._threadlocal, "hub", None) is not None or ev.is_monkey_patched("socket")
    ):
        return "eventlet"
    gm = sys.modules.get("gevent.monkey")
    gh = sys.modules.get("gevent._hub_local")
    if (gh is not None and gh.get_hub_if_exists() is not None) or (gm is not None and gm.is_module_patched("socket")):
        return "gevent"
    return "minievent"


def capture_for(loop: Any) -> Capture | None:
    """The capture for ``loop``: "eventlet", "gevent", "asyncio", or an asyncio loop object (None: minievent).

    A capture's module is imported only when asked for: importing this package
    imports neither asyncio (nor, through it, logging) nor eventlet nor gevent.
    """
    aio = sys.modules.get("asyncio")
    if aio is not None and isinstance(loop, aio.AbstractEventLoop):
        from .asyncio import AsyncioCapture

        return AsyncioCapture(loop)
    if loop == "minievent":
        return None
    if loop == "eventlet":
        from .eventlet import EventletCapture

        return EventletCapture()
    if loop == "gevent":
        from .gevent import GeventCapture

        return GeventCapture()
    if loop == "asyncio":
        from .asyncio import AsyncioCapture

        return AsyncioCapture()
    raise ValueError(f"loop must be one of {LOOPS}, None (detect) or an asyncio loop, not {loop!r}")


def timeline_for(loop: Any = None, cap: int = DEFAULT_CAP) -> Timeline:
    """A new, unstarted recorder of ``loop`` (as ``minievent.record(loop=...)`` takes it; None: ``detect()``)."""
    return Timeline(cap, capture_for(detect() if loop is None else loop))


@contextlib.contextmanager
def record(cap: int = DEFAULT_CAP, loop: Any = None) -> Iterator[Timeline]:
    """Record this OS thread's loop until the ``with`` block ends: ``with minievent.record() as tl:``.

    ``loop="eventlet"``, ``"gevent"`` or ``"asyncio"`` records a program on that
    library instead; None: minievent, unless eventlet's or gevent's hub
    already runs this thread or has monkey-patched it.
    """
    tl = timeline_for(loop, cap)
    tl.start()
    try:
        yield tl
    finally:
        tl.stop()


def hub_kind(g: Any) -> str | None:
    """Which library's hub greenlet ``g`` is, if any (looked up only in libraries already imported)."""
    mh = sys.modules.get("minievent.hub")
    if mh is not None and g is getattr(mh.existing_hub(), "greenlet", None):
        return "minievent"
    eh = sys.modules.get("eventlet.hubs")
    if eh is not None and g is getattr(getattr(eh._threadlocal, "hub", None), "greenlet", None):
        return "eventlet"
    gh = sys.modules.get("gevent.hub")
    if gh is not None and isinstance(g, gh.Hub):
        return "gevent"
    return None


class AfterImport:
    """On ``sys.meta_path``: once module ``name`` has been imported (by anyone), call ``then()``, and step off.

    It finds nothing itself: it asks the finders after it, and wraps the loader
    of what they found, so the module is the one the program would get.
    """

    def __init__(self, name: str, then: Any) -> None:
        self.name, self.then = name, then

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != self.name or self not in sys.meta_path:
            return None
        sys.meta_path.remove(self)  # (first: the finders after it must not find us again)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader, then = spec.loader, self.then

        class Loader:
            def create_module(self, spec: Any) -> Any:
                return loader.create_module(spec)

            def exec_module(self, module: Any) -> None:
                loader.exec_module(module)
                then()

        spec.loader = Loader()
        return spec


class LoopRecorder:
    """Records every loop that appears in this OS thread from ``start()`` to ``stop()``, one ``Timeline`` each.

    ``loop``: None (all that appear), or one of ``LOOPS``. Start it before the
    program imports its library or patches: it waits for the loop to show
    itself. ``watch(tl)`` (for a subclass) gives the watchdog's ``Watch`` for a
    recording that begins, or None.
    """

    def __init__(self, loop: str | None = None) -> None:
        if loop is not None and loop not in LOOPS:
            raise ValueError(f"loop must be one of {LOOPS} or None, not {loop!r}")
        self.loop = loop
        self.timelines: list[Timeline] = []
        self.watches: list[watchdog.Watch] = []
        self._spotter: HubSpotter | None = None
        self._asyncio_import: AfterImport | None = None

    def watch(self, tl: Timeline) -> watchdog.Watch | None:
        """The watchdog's watch over ``tl``, which just began (None: none)."""
        return None

    # ------------------------------------------------------------ on / off
    def start(self) -> LoopRecorder:
        if self.loop == "asyncio" or (self.loop is None and "asyncio" in sys.modules):
            self._begin("asyncio")
        elif self.loop is None:  # once the program imports it (not before: it imports logging, and its locks)
            self._asyncio_import = AfterImport("asyncio", lambda: self._begin("asyncio"))
            sys.meta_path.insert(0, self._asyncio_import)
        if self.loop != "asyncio":  # greenlet loops: wait for the first switch to a hub we know
            self._spotter = HubSpotter(hub_kind, self._spotted)
            self._spotter.install_tracer()
        return self

    def stop(self) -> None:
        """Stop every recording; once this returns, the watchdog looks at none of them again."""
        self.stop_spotting()
        for w in self.watches:
            watchdog.remove(w)
        for tl in self.timelines:
            try:
                tl.stop()
            except RuntimeError:  # stopped from another thread than its loop's: it stops with its loop
                pass

    def stop_spotting(self) -> None:
        """No longer wait for a loop to appear (the greenlet tracer is put back)."""
        waiting, self._asyncio_import = self._asyncio_import, None
        if waiting is not None and waiting in sys.meta_path:
            sys.meta_path.remove(waiting)
        spotter, self._spotter = self._spotter, None
        if spotter is not None:
            spotter.uninstall_tracer()

    def add_watch(self, w: watchdog.Watch) -> None:
        """Have the watchdog look at ``w`` until ``stop()``."""
        self.watches.append(w)
        watchdog.add(w)

    def _begin(self, loop: str) -> None:
        tl = timeline_for(loop)
        tl.start()
        self.timelines.append(tl)
        w = self.watch(tl)
        if w is not None:
            self.add_watch(w)

    def _spotted(self, kind: str) -> None:
        if self.loop in (None, kind):
            self.stop_spotting()
            self._begin(kind)  # (its tracer chains whatever was installed before the spotter)

    # ------------------------------------------------------------ results
    def recorded(self) -> list[Timeline]:
        """The recordings that saw a switch, most switches first."""
        return sorted((tl for tl in self.timelines if tl.latest()[0]), key=lambda tl: -tl.latest()[0])
