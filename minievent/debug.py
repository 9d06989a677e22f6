"""Blocking detection: catch a greenthread that keeps the hub to itself, while it does.

    with minievent.debug.blocking_detection(threshold=0.1):
        run_my_service()
    # WARNING minievent.debug: greenthread 'periodic_tasks' has run 0.31 s without yielding ...

A greenthread that computes for a second, or calls C code that blocks, stops
every other greenthread of its OS thread: no timer fires, no socket is served.
The program gets slow, but nothing says why. A watchdog makes it say why.

How: a ``greenlet.settrace`` tracer notes, on every switch, which greenlet
got the CPU and when. A watchdog OS thread wakes a few times per
``threshold``; if the same greenthread has held the CPU longer than
``threshold`` (the hub itself, sitting in ``epoll_wait``, does not count), it
takes that thread's current stack from ``sys._current_frames()`` -- the
culprit's own frames, so the report points at the line where it is stuck --
and reports it: a logging warning by default, or ``on_block(report)``.

It only *observes*. eventlet's ``hub_blocking_detection`` instead arms a
``SIGALRM`` timer whose handler raises an exception inside the running code:
the stack is exact, but the program now fails where it merely was slow, and
signals only reach the main thread. Here the user's code never sees an
exception; the price is that the watchdog samples (a few times per
``threshold``) rather than interrupts.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import greenlet

from .hub import get_hub

__all__ = ["BlockReport", "BlockingDetector", "blocking_detection", "hub_blocking_detection"]

log = logging.getLogger("minievent.debug")
clock = time.monotonic


@dataclass(frozen=True)
class BlockReport:
    """A greenthread (``name``) has held the CPU ``duration`` seconds so far; ``stack`` says where."""

    name: str
    duration: float
    stack: str
    threshold: float
    thread_id: int

    def __str__(self) -> str:
        return (
            f"greenthread {self.name!r} has run {self.duration:.3f} s without yielding "
            f"(threshold {self.threshold:g} s); it is here now:\n{self.stack}"
        )


def _lane_name(g: Any, main: Any) -> str:
    gt = getattr(g, "gt", None)  # a worker greenlet names the greenthread it runs
    if gt is not None:
        return str(gt.name)
    if g is main:
        return "main"
    return repr(g)


class BlockingDetector:
    """Watch the calling OS thread's hub; report greenthreads that run longer than ``threshold``."""

    def __init__(self, threshold: float = 0.1, on_block: Callable[[BlockReport], Any] | None = None) -> None:
        if not isinstance(threshold, (int, float)) or threshold <= 0:
            raise ValueError("threshold must be a positive number of seconds")
        self.threshold = float(threshold)
        self.on_block = on_block
        self.reports: list[BlockReport] = []
        # (greenlet that got the CPU, when, switch serial): replaced as a whole
        # on each switch, so the watchdog thread always reads a consistent trio.
        self._state: tuple[Any, float, int] | None = None
        self._serial = 0
        self._prev_trace: Any = None
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None
        self._thread_id: int | None = None
        self._hub_g: Any = None
        self._main_g: Any = None

    # ------------------------------------------------------------ on / off
    def enable(self) -> BlockingDetector:
        if self._watchdog is not None:
            raise RuntimeError("blocking detection is already enabled")
        hub = get_hub()
        self._hub_g, self._main_g = hub.greenlet, hub.main
        self._thread_id = threading.get_ident()
        self._state = (greenlet.getcurrent(), clock(), 0)
        self._prev_trace = greenlet.gettrace()
        greenlet.settrace(self._trace)
        self._stop.clear()
        self._watchdog = threading.Thread(target=self._watch, name="minievent-blocking-watchdog", daemon=True)
        self._watchdog.start()
        return self

    def disable(self) -> None:
        if self._watchdog is None:
            return
        if threading.get_ident() != self._thread_id:
            raise RuntimeError("disable() must be called from the OS thread that enabled detection")
        greenlet.settrace(self._prev_trace)
        self._prev_trace = None
        self._stop.set()
        self._watchdog.join()
        self._watchdog = None

    def __enter__(self) -> BlockingDetector:
        return self.enable()

    def __exit__(self, *exc: Any) -> None:
        self.disable()

    # ------------------------------------------------------------ the two halves
    def _trace(self, event: str, args: Any) -> None:
        # In the hub's thread, on every switch: remember who runs from now on.
        self._serial += 1
        self._state = (args[1], clock(), self._serial)
        if self._prev_trace is not None:
            self._prev_trace(event, args)

    def _watch(self) -> None:
        # In the watchdog thread. It takes the GIL a few times per threshold;
        # a greenthread computing in pure Python gives it up every 5 ms
        # (sys.getswitchinterval), one blocked in C code released it already.
        period = min(max(self.threshold / 4, 0.001), 0.25)
        reported = -1
        while not self._stop.wait(period):
            state = self._state
            if state is None:
                continue
            g, since, serial = state
            if g is self._hub_g or serial == reported:
                continue  # the hub waiting in poll is not blocking anyone
            duration = clock() - since
            if duration <= self.threshold:
                continue
            frame = sys._current_frames().get(self._thread_id)  # type: ignore[arg-type]
            if self._state is not state:
                continue  # it switched while we looked: not stuck after all
            stack = "".join(traceback.format_stack(frame)) if frame is not None else "(no stack)\n"
            reported = serial
            report = BlockReport(_lane_name(g, self._main_g), duration, stack, self.threshold,
                                 self._thread_id)  # type: ignore[arg-type]
            self.reports.append(report)
            try:
                if self.on_block is not None:
                    self.on_block(report)
                else:
                    log.warning("%s", report)
            except Exception:
                # A failing callback must not kill the watchdog, nor reach the user's code.
                log.exception("minievent: on_block callback raised")


def blocking_detection(threshold: float = 0.1,
                       on_block: Callable[[BlockReport], Any] | None = None) -> BlockingDetector:
    """A detector for this OS thread's hub: ``with blocking_detection(0.1): ...``, or ``.enable()``/``.disable()``."""
    return BlockingDetector(threshold, on_block)


_global: BlockingDetector | None = None


def hub_blocking_detection(state: bool = False, resolution: float = 1.0) -> None:
    """eventlet's switch, for code that uses it: ``hub_blocking_detection(True, 0.1)`` turns it on."""
    global _global
    if state:
        if _global is None:
            _global = BlockingDetector(resolution).enable()
    elif _global is not None:
        _global.disable()
        _global = None
