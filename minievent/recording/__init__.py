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
one: ``record()`` and ``detect()`` (which loop runs this thread).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from .records import DEFAULT_CAP, Capture
from .timeline import Timeline

__all__ = ["LOOPS", "Timeline", "capture_for", "detect", "record", "timeline_for"]

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
