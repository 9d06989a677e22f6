"""GreenPool: spawn that blocks once ``size`` greenthreads are running.

A server that spawns a greenthread per connection without a bound turns a
flood of clients into a flood of memory; a pool turns it into back-pressure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .event import Event
from .greenthread import GreenThread, getcurrent, spawn
from .semaphore import Semaphore

__all__ = ["GreenPool"]


class GreenPool:
    def __init__(self, size: int = 1000) -> None:
        if not isinstance(size, int):
            raise TypeError(f"GreenPool size must be an int, not {type(size).__name__}")
        if size < 0:
            raise ValueError("GreenPool size must be >= 0")
        self.size = size
        self.coroutines_running: set[GreenThread] = set()
        self.sem = Semaphore(size)
        self.no_coros_running = Event()
        self.no_coros_running.send(None)

    def __repr__(self) -> str:
        return f"<GreenPool size={self.size} running={self.running()}>"

    def resize(self, new_size: int) -> None:
        if new_size < 0:
            raise ValueError("GreenPool size must be >= 0")
        delta = new_size - self.size
        self.sem.counter += delta
        self.size = new_size
        for _ in range(max(0, min(delta, len(self.sem._waiters)))):
            self.sem.counter -= 1
            self.sem._release_one()

    def running(self) -> int:
        """How many greenthreads of this pool are alive now."""
        return len(self.coroutines_running)

    def free(self) -> int:
        """How many more could be spawned without blocking."""
        return self.sem.counter

    def spawn(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> GreenThread:
        """Like ``minievent.spawn``, but waits for a free slot first."""
        if not callable(fn):
            raise TypeError(f"spawn() needs a callable, not {type(fn).__name__}")
        cur = getcurrent()
        if self.sem.locked() and cur in self.coroutines_running:
            # A pool member spawning into its own full pool could wait for
            # itself forever: let the pool run one over its size instead.
            self.sem.counter -= 1
        else:
            self.sem.acquire()
        gt = spawn(fn, *args, **kwargs)
        if not self.coroutines_running:
            self.no_coros_running.reset()
        self.coroutines_running.add(gt)
        gt.link(self._spawn_done)
        return gt

    def _spawn_done(self, gt: GreenThread) -> None:
        self.sem.release()
        self.coroutines_running.discard(gt)
        if not self.coroutines_running and not self.no_coros_running.ready():
            self.no_coros_running.send(None)

    def spawn_n(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.spawn(fn, *args, **kwargs)

    def waitall(self) -> None:
        """Wait until every greenthread of the pool has finished."""
        if getcurrent() in self.coroutines_running:
            raise RuntimeError("waitall() from inside the pool would wait for itself")
        if self.coroutines_running:
            self.no_coros_running.wait()

    def waiting(self) -> int:
        """How many greenthreads are blocked in ``spawn`` waiting for a slot."""
        return len(self.sem._waiters)

    def imap(self, fn: Callable[..., Any], *iterables: Iterable[Any]) -> Iterator[Any]:
        """Like ``map``, running up to ``size`` calls at once; results in input order."""
        gts = [self.spawn(fn, *args) for args in zip(*iterables, strict=False)]
        for gt in gts:
            yield gt.wait()

    def starmap(self, fn: Callable[..., Any], iterable: Iterable[tuple]) -> Iterator[Any]:
        gts = [self.spawn(fn, *args) for args in iterable]
        for gt in gts:
            yield gt.wait()
