"""Blocking detection: catch a greenthread that keeps the hub to itself, while it does.

    with minievent.debug.blocking_detection(threshold=0.1):
        run_my_service()
    # WARNING minievent.debug: greenthread 'periodic_tasks' has run 0.31 s without yielding ...

A greenthread that computes for a second, or calls C code that blocks, stops
every other greenthread of its OS thread: no timer fires, no socket is served.
The program gets slow, but nothing says why. A watchdog makes it say why.

How: a ``greenlet.settrace`` tracer keeps the latest switch (which greenlet
got the CPU, and when: ``minievent.recording.greenlets.LatestSwitch``), and
the recording wing's watchdog (``minievent.recording.watchdog``, one OS
thread for every watch in the process, invisible to ``threading``) looks a
few times per ``threshold``: if the same greenthread has held the CPU longer
than ``threshold`` (the hub itself, sitting in ``epoll_wait``, does not
count), it takes that thread's current stack from ``sys._current_frames()``
-- the culprit's own frames, so the report points at the line where it is
stuck -- and reports it, once a run: a logging warning by default, or
``on_block(report)``.

By default it only *observes*. eventlet's ``hub_blocking_detection`` instead
arms a ``SIGALRM`` timer whose handler raises an exception inside the running
code: the stack is exact, but the program now fails where it merely was slow,
and signals only reach the main thread. Here the user's code sees no exception
unless it asks for one (``raise_exc=True``: the watchdog then signals the main
thread, whose handler raises ``BlockingError`` in the stuck code, as eventlet's).

The rest of the module is eventlet's other debugging switches: which
listeners and timers the hub holds and where they were made
(``format_hub_listeners``, ``hub_listener_stacks``...), whether errors in
greenthreads and tpool jobs are printed, and ``spew``, a line tracer.
"""

from __future__ import annotations

import functools
import linecache
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import hubcompat, tpool
from .hub import Hub, get_hub
from .recording import watchdog
from .recording.greenlets import LatestSwitch

__all__ = [
    "BlockReport",
    "BlockingDetector",
    "BlockingError",
    "blocking_detection",
    "hub_blocking_detection",
    "hub_exceptions",
    "tpool_exceptions",
    "hub_listener_stacks",
    "hub_timer_stacks",
    "format_hub_listeners",
    "format_hub_timers",
    "hub_prevent_multiple_readers",
    "Spew",
    "spew",
    "unspew",
]

clock = time.monotonic


def _log() -> Any:
    """The ``minievent.debug`` logger. (``logging`` is imported only once there is something to say: its
    module lock and handlers are RLocks, and a program's ``monkey_patch()`` must not find them made before
    it -- eventlet's warns that they were not greened.)"""
    import logging

    return logging.getLogger("minievent.debug")


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


class BlockingError(RuntimeError):
    """Raised inside the stuck code when a detector was made with ``raise_exc=True``."""


class BlockingDetector:
    """Watch the calling OS thread's hub; report greenthreads that run longer than ``threshold``."""

    def __init__(
        self, threshold: float = 0.1, on_block: Callable[[BlockReport], Any] | None = None, raise_exc: bool = False
    ) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold <= 0:
            raise ValueError("threshold must be a positive number of seconds")
        self.threshold = float(threshold)
        self.on_block = on_block
        self.raise_exc = raise_exc
        self._prev_alarm: Any = None
        self.reports: list[BlockReport] = []
        self._switches: LatestSwitch | None = None
        self._watch: _Watch | None = None
        self._main_g: Any = None
        self._reported = -1  # the switch number of the run reported last (raise_exc's handler checks it)

    # ------------------------------------------------------------ on / off
    def enable(self) -> BlockingDetector:
        if self._watch is not None:
            raise RuntimeError("blocking detection is already enabled")
        hub = get_hub()
        if self.raise_exc:  # (signal.signal raises ValueError outside the main thread: signals only go there)
            self._prev_alarm = signal.signal(signal.SIGALRM, self._alarm)
        self._main_g = hub.main
        self._switches = LatestSwitch(hub.greenlet)
        self._switches.install_tracer()
        self._watch = _Watch(self)
        watchdog.add(self._watch)
        return self

    def disable(self) -> None:
        if self._watch is None:
            return
        self._switches.uninstall_tracer()  # type: ignore[union-attr]  # (RuntimeError from another OS thread)
        watchdog.remove(self._watch)
        self._watch = None
        if self.raise_exc:
            signal.signal(signal.SIGALRM, self._prev_alarm)

    def _alarm(self, signum: int, frame: Any) -> None:
        # In the main thread, inside the stuck code (a blocking C call is interrupted with EINTR).
        report = self.reports[-1] if self.reports else None
        if report is not None and self._switches is not None and self._switches.latest()[0] == self._reported:
            raise BlockingError(f"blocking detector: {report}")

    def __enter__(self) -> BlockingDetector:
        return self.enable()

    def __exit__(self, *exc: Any) -> None:
        self.disable()

    # ------------------------------------------------------------ in the watchdog thread
    def _held(self, hold: watchdog.Hold, frame: Any) -> None:
        # A few times per threshold while one greenthread holds the hub: the first look reports it.
        switches = self._switches
        n, _since, g = switches.state  # type: ignore[union-attr]
        if hold.samples != 1 or n + 1 != hold.serial:
            return  # reported already, or it switched since the watchdog looked
        stack = "".join(traceback.format_stack(frame))
        self._reported = hold.serial
        thread = switches.thread  # type: ignore[union-attr]
        report = BlockReport(_lane_name(g, self._main_g), clock() - hold.since, stack, self.threshold, thread)  # type: ignore[arg-type]
        self.reports.append(report)
        try:
            if self.on_block is not None:
                self.on_block(report)
            else:
                _log().warning("%s", report)
        except Exception:
            # A failing callback must not kill the watchdog, nor reach the user's code.
            _log().exception("minievent: on_block callback raised")
        if self.raise_exc:
            signal.pthread_kill(thread, signal.SIGALRM)  # type: ignore[arg-type]


class _Watch(watchdog.Watch):
    """The detector's watch: its greenlet tracer says who runs; a hold is reported once."""

    def __init__(self, detector: BlockingDetector) -> None:
        super().__init__(detector._switches, detector.threshold, period=min(max(detector.threshold / 4, 0.001), 0.25))
        self.detector = detector

    def held(self, hold: watchdog.Hold, frame: Any) -> None:
        self.detector._held(hold, frame)


def blocking_detection(
    threshold: float = 0.1, on_block: Callable[[BlockReport], Any] | None = None, raise_exc: bool = False
) -> BlockingDetector:
    """A detector for this OS thread's hub: ``with blocking_detection(0.1): ...``, or ``.enable()``/``.disable()``."""
    return BlockingDetector(threshold, on_block, raise_exc)


_global: BlockingDetector | None = None


def hub_blocking_detection(state: bool = False, resolution: float = 1.0, raise_exc: bool = False) -> None:
    """eventlet's switch: ``hub_blocking_detection(True, 0.1)`` turns it on (``raise_exc=True``: as eventlet's)."""
    global _global
    if state:
        if _global is None:
            _global = BlockingDetector(resolution, raise_exc=raise_exc).enable()
    elif _global is not None:
        _global.disable()
        _global = None


# ---------------------------------------------------------------- what the hub holds
# Where each listener / timer was made: recorded only while switched on, by wrapping the hub's
# two registration methods (nothing is added to the hub itself, so it costs nothing when off).
_made_at: dict[int, tuple[Any, str]] = {}  # id(listener or timer) -> (it, the stack that made it)
_unwrapped: dict[str, Any] = {}


def _record_stacks(method: str, state: bool) -> None:
    if state and method not in _unwrapped:
        original = _unwrapped[method] = getattr(Hub, method)

        def recording(self: Hub, *args: Any, **kwargs: Any) -> Any:
            made = original(self, *args, **kwargs)
            if len(_made_at) > 10_000:  # forget the ones that are done
                for key in [k for k, (x, _) in _made_at.items() if not _live(x)]:
                    del _made_at[key]
            _made_at[id(made)] = (made, "".join(traceback.format_stack()[:-1]))
            return made

        setattr(Hub, method, recording)
    elif not state and method in _unwrapped:
        setattr(Hub, method, _unwrapped.pop(method))
        _made_at.clear()


def _live(x: Any) -> bool:
    return bool(x.pending if hasattr(x, "pending") else x.active)


def hub_listener_stacks(state: bool = False) -> None:
    """Remember where each fd listener was added, for ``format_hub_listeners``."""
    _record_stacks("add", state)


hubcompat.listener_stacks = hub_listener_stacks  # (eventlet's hub.set_debug_listeners calls it)


def hub_timer_stacks(state: bool = False) -> None:
    """Remember where each timer was scheduled, for ``format_hub_timers``."""
    _record_stacks("schedule_call", state)


def _format(title: str, items: list[Any]) -> str:
    lines = [title]
    for x in items:
        lines.append(repr(x))
        made = _made_at.get(id(x))
        if made is not None and made[0] is x:
            lines.append(made[1])
    return "\n".join(lines)


def format_hub_listeners() -> str:
    """The fd listeners of this thread's hub, one a line (with where they were added, if recorded)."""
    return _format("Listeners:", get_hub().listeners())


def format_hub_timers() -> str:
    """The pending timers of this thread's hub, soonest first (with where they were scheduled, if recorded)."""
    return _format("Timers:", [t for _, _, t in sorted(get_hub().timers) if t.pending])


def hub_exceptions(state: bool = True) -> None:
    """Print the traceback of a greenthread that dies of an exception (on by default)."""
    get_hub().print_exceptions = state


def tpool_exceptions(state: bool = False) -> None:
    """Print the traceback of a ``tpool`` job that raised, in its worker thread (off by default:
    the caller gets the exception anyway). Done by wrapping ``tpool.execute`` while it is on."""
    wrapped = getattr(tpool.execute, "__wrapped__", None)
    if state and wrapped is None:
        execute = tpool.execute

        @functools.wraps(execute)
        def printing_execute(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            def job(*args: Any, **kwargs: Any) -> Any:
                try:
                    return fn(*args, **kwargs)
                except BaseException:
                    traceback.print_exc()  # (in the worker thread)
                    raise

            return execute(job, *args, **kwargs)

        tpool.execute = printing_execute  # (Proxy calls execute through the module too)
    elif not state and wrapped is not None:
        tpool.execute = wrapped


def hub_prevent_multiple_readers(state: bool = True) -> None:
    """minievent always prevents two greenthreads from waiting on one fd at once.

    A second simultaneous reader raises ``RuntimeError`` (they would steal each
    other's data); eventlet can be told to allow it, minievent cannot.
    """
    if not state:
        raise ValueError("minievent's hub allows one reader and one writer per fd; it cannot be turned off")


# ---------------------------------------------------------------- spew
class Spew:
    """A ``sys.settrace`` tracer: prints each line run as ``module:line: source``, then the names it uses.

    ``trace_names``: only these modules; ``show_values=False``: the lines only.
    """

    def __init__(self, trace_names: Any = None, show_values: bool = True) -> None:
        self.trace_names = trace_names
        self.show_values = show_values

    def __call__(self, frame: Any, event: str, arg: Any) -> Spew:
        if event != "line":
            return self
        g, lineno = frame.f_globals, frame.f_lineno
        name = g.get("__name__", "[unknown]") if "__file__" in g else "[unknown]"
        if self.trace_names is not None and name not in self.trace_names:
            return self
        source = linecache.getline(g["__file__"], lineno).rstrip() if "__file__" in g else ""
        print(f"{name}:{lineno}: {source or f'(no source) {frame.f_code.co_name} VM instruction #{frame.f_lasti}'}")
        if self.show_values:
            for word in dict.fromkeys(re.findall(r"[A-Za-z_]\w*", source)):
                for scope in (frame.f_locals, g):
                    if word in scope:
                        print(f"\t{word}={scope[word]!r}")
                        break
        return self


def spew(trace_names: Any = None, show_values: bool = False) -> None:
    """Print every line the program runs from now on (``unspew()`` stops)."""
    sys.settrace(Spew(trace_names, show_values))


def unspew() -> None:
    sys.settrace(None)
