"""GreenPool: spawn that blocks once ``size`` greenthreads are running; GreenPile: their results in order.

A server that spawns a greenthread per connection without a bound turns a
flood of clients into a flood of memory; a pool turns it into back-pressure.
A ``GreenPile`` collects what the calls spawned into it return, in the order
they were spawned (``imap`` is a pile fed by a greenthread of its own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .event import Event
from .greenthread import GreenThread, getcurrent, spawn
from .queue import Queue
from .semaphore import Semaphore

__all__ = ["GreenPool", "GreenPile"]


class GreenPool:
    def __init__(self, size: int = 1000) -> None:
        self.sem = Semaphore(size)  # (checks it: a whole number >= 0; eventlet takes 1e3)
        self.size = self.sem.counter
        self.coroutines_running: set[GreenThread] = set()
        self.no_coros_running = Event()
        self.no_coros_running.send(None)

    def __repr__(self) -> str:
        return f"<GreenPool size={self.size} running={self.running()}>"

    def resize(self, new_size: int) -> None:
        if new_size < 0:
            raise ValueError("GreenPool size must be >= 0")
        delta = new_size - self.size
        self.size = new_size
        self.sem.counter += min(delta, 0)
        for _ in range(delta):  # more room: each new slot goes to a waiting spawn first, else it is free
            self.sem.release()

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
        if self.sem.locked() and getcurrent() in self.coroutines_running:
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

    spawn_n = spawn  # (as minievent.spawn_n: it returns the greenthread too)

    def waitall(self) -> None:
        """Wait until every greenthread of the pool has finished."""
        if getcurrent() in self.coroutines_running:
            raise RuntimeError("waitall() from inside the pool would wait for itself")
        self.no_coros_running.wait()  # (sent whenever none runs)

    def waiting(self) -> int:
        """How many greenthreads are blocked in ``spawn`` waiting for a slot."""
        return self.sem.statistics().waiting

    def imap(self, fn: Callable[..., Any] | None, *iterables: Iterable[Any]) -> GreenPile:
        """Like ``map``, running up to ``size`` calls at once; results in input order.

        A call that raised re-raises at its turn, and the iteration goes on past it.
        ``fn=None`` yields the argument tuples, as ``zip`` does.
        """
        return self.starmap(fn, zip(*iterables, strict=False))

    def starmap(self, fn: Callable[..., Any] | None, iterable: Iterable[tuple]) -> GreenPile:
        pile = GreenPile(self)
        pile.counter += 1  # the feeder's end mark is one more thing to collect

        def feed() -> None:
            try:
                for args in iterable:
                    pile.spawn(fn or (lambda *args: args), *args)  # (fn=None: the arguments themselves)
            except BaseException:
                pile.waiters.put(getcurrent())  # the consumer waits for us at this turn: it gets our exception
                raise
            pile.waiters.put(None)

        spawn(feed)  # (not a pool member: it must not take a slot)
        return pile


class GreenPile(Iterator[Any]):
    """Spawn calls into it (through a ``GreenPool``, or a new one of ``size``), iterate it for their results."""

    def __init__(self, size_or_pool: GreenPool | int = 1000) -> None:
        self.pool = size_or_pool if isinstance(size_or_pool, GreenPool) else GreenPool(size_or_pool)
        self.waiters: Queue = Queue()  # the spawned greenthreads, in spawn order
        self.counter = 0  # spawned (or being spawned) and not collected yet

    def spawn(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        # Counted before the pool may block us: an iterating greenthread must know more is coming.
        self.counter += 1
        try:
            self.waiters.put(self.pool.spawn(fn, *args, **kwargs))
        except BaseException:
            self.counter -= 1
            raise

    def __next__(self) -> Any:
        """The next result in spawn order (or raise what that call raised)."""
        if self.counter == 0:
            raise StopIteration
        gt = self.waiters.get()
        self.counter -= 1
        if gt is None:  # imap's end mark
            raise StopIteration
        return gt.wait()

    next = __next__  # eventlet's name
