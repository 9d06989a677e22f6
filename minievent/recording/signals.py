"""The on-demand signal (SIGUSR2 by default), shared with the program that watches it.

A service may take the same signal for itself: nova's Guru Meditation Report (oslo.reports)
installs a SIGUSR2 handler that prints the service's threads and configuration. The flight
recorder must not take that away, nor be taken away by it. So once armed:

* our handler stays installed; the program's ``signal.signal(SIGUSR2, h)`` returns what the
  program had before (the previous handler, or ``SIG_DFL``) and records ``h`` as the
  program's, which our handler calls after its own work, with the same arguments;
* ``signal.getsignal(SIGUSR2)`` answers with the program's handler, as if we were not there;
* ``SIG_IGN`` and ``SIG_DFL`` from the program are kept too: both mean "nothing more"
  (the default action of SIGUSR2 would end the process; while the recorder is armed, asking
  it for an incident is what the signal is for).

gevent's ``signal_handler()`` takes a signal below Python: libev (or libuv) installs its own C
handler, and Python's, ours, is no longer called. libev calls every watcher of a signal, so once
a gevent hub runs, ``also_on_gevent()`` adds a watcher of ours to its loop (unreferenced: it keeps
no loop alive), and we are called beside the program's watchers.

Our own part only *notes* the request (a flag a watchdog reads, a lock it waits on): a signal
handler runs between two bytecodes of whatever the main thread was doing, maybe inside the
loop, and must not write files or walk records there.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["SharedSignal", "signal_number"]

_Handler = Any  # a callable, signal.SIG_DFL, signal.SIG_IGN or None


def signal_number(name: str | int) -> int:
    """``"SIGUSR2"``, ``"USR2"`` or ``12`` -> the signal number; ValueError for anything else."""
    if isinstance(name, int) and not isinstance(name, bool):
        valid = {int(s) for s in signal.valid_signals()}
        if name not in valid:
            raise ValueError(f"no signal number {name}")
        return name
    if not isinstance(name, str):
        raise ValueError(f"a signal is a name such as SIGUSR2, not {name!r}")
    text = name.strip().upper()
    if text.isdigit():
        return signal_number(int(text))
    if not text.startswith("SIG"):
        text = "SIG" + text
    sig = getattr(signal.Signals, text, None) if text in signal.Signals.__members__ else None
    if sig is None:
        raise ValueError(f"no signal named {name!r}")
    if sig in (signal.SIGKILL, signal.SIGSTOP):
        raise ValueError(f"{text} cannot be caught")
    return int(sig)


class SharedSignal:
    """Our handler for ``signum``, installed for good, calling the program's handler after ours."""

    def __init__(self, signum: int, ours: Callable[[], None]) -> None:
        self.signum = signum
        self.ours = ours
        self.theirs: _Handler = signal.SIG_DFL
        self._real_signal: Callable[..., Any] | None = None
        self._real_getsignal: Callable[[int], Any] | None = None
        self._gevent_watcher: Any = None

    # ------------------------------------------------------------ on / off
    def arm(self) -> SharedSignal:
        """Install (from the main thread, as ``signal.signal`` requires); keep what was there as theirs."""
        if self._real_signal is not None:
            raise RuntimeError("already armed")
        self.theirs = signal.getsignal(self.signum)
        real_signal, real_getsignal = signal.signal, signal.getsignal
        real_signal(self.signum, self._handle)
        self._real_signal, self._real_getsignal = real_signal, real_getsignal
        signal.signal, signal.getsignal = self._signal, self._getsignal  # type: ignore[assignment]
        return self

    def also_on_gevent(self) -> None:
        """From a running gevent hub's thread: be called by its loop too (see the module's docstring)."""
        gevent = sys.modules.get("gevent")
        if gevent is None or self._gevent_watcher is not None:
            return
        watcher = gevent.get_hub().loop.signal(self.signum, ref=False)
        watcher.start(self.ours)
        self._gevent_watcher = watcher

    def disarm(self) -> None:
        """Give the signal back to the program's handler and the module its own functions."""
        watcher, self._gevent_watcher = self._gevent_watcher, None
        if watcher is not None:
            try:
                watcher.stop()
            except Exception:  # the loop may be gone with the program
                pass
        if self._real_signal is None:
            return
        if signal.signal is self._signal:
            signal.signal, signal.getsignal = self._real_signal, self._real_getsignal  # type: ignore[assignment]
        theirs = self.theirs if self.theirs is not None else signal.SIG_DFL
        try:
            self._real_signal(self.signum, theirs)
        except (ValueError, TypeError):  # not the main thread, or the interpreter is going away
            pass
        self._real_signal = self._real_getsignal = None

    # ------------------------------------------------------------ what the program calls
    def _signal(self, signalnum: int, handler: _Handler) -> _Handler:
        if signalnum != self.signum:
            return self._real_signal(signalnum, handler)  # type: ignore[misc]
        if handler is not signal.SIG_DFL and handler is not signal.SIG_IGN and not callable(handler):
            raise TypeError("signal handler must be signal.SIG_IGN, signal.SIG_DFL, or a callable object")
        self._real_signal(signalnum, self._handle)  # type: ignore[misc]  (main thread only, as the stdlib)
        previous, self.theirs = self.theirs, handler
        return previous

    def _getsignal(self, signalnum: int) -> _Handler:
        if signalnum == self.signum:
            return self.theirs
        return self._real_getsignal(signalnum)  # type: ignore[misc]

    # ------------------------------------------------------------ the signal arrives
    def _handle(self, signum: int, frame: Any) -> None:
        try:
            self.ours()
        finally:
            theirs = self.theirs
            if callable(theirs):
                theirs(signum, frame)
