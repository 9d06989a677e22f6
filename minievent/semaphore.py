"""Semaphore: at most N greenthreads past this point at once.

Waiters are served first come, first served: ``release`` hands the unit
straight to the oldest waiter instead of putting it back in the counter, so a
greenthread that loops on acquire/release cannot starve the others.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from .waiter import _TIMED_OUT, Waiter

__all__ = ["Semaphore", "BoundedSemaphore"]


class Semaphore:
    def __init__(self, value: int = 1) -> None:
        if not isinstance(value, int):
            raise TypeError(f"Semaphore value must be an int, not {type(value).__name__}")
        if value < 0:
            raise ValueError("Semaphore initial value must be >= 0")
        self.counter = value
        self._waiters: deque[Waiter] = deque()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} counter={self.counter} waiting={len(self._waiters)}>"

    def locked(self) -> bool:
        return self.counter <= 0

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take one unit; wait for one if none is free. False if not acquired."""
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be >= 0 or None")
        if self.counter > 0 and not self._waiters:
            self.counter -= 1
            return True
        if not blocking:
            return False
        waiter = Waiter()
        self._waiters.append(waiter)
        try:
            got = waiter.wait(timeout, why=f"a {type(self).__name__} (id 0x{id(self):x})")
        except BaseException:
            if waiter.woken and waiter.value is not _TIMED_OUT:
                self._release_one()  # a unit was handed to us as we were killed: pass it on
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
        return got is not _TIMED_OUT

    def release(self, blocking: bool = True) -> None:
        self._release_one()

    def _release_one(self) -> None:
        while self._waiters:
            if self._waiters.popleft().wake(True):
                return  # the unit goes straight to that waiter
        self.counter += 1

    def __enter__(self) -> Semaphore:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    @property
    def balance(self) -> int:
        """Units free minus greenthreads waiting (eventlet's name)."""
        return self.counter - len(self._waiters)


class BoundedSemaphore(Semaphore):
    """A semaphore that refuses to be released above its initial value."""

    def __init__(self, value: int = 1) -> None:
        super().__init__(value)
        self.original_counter = value

    def release(self, blocking: bool = True) -> None:
        if self.counter >= self.original_counter and not self._waiters:
            raise ValueError("BoundedSemaphore released too many times")
        super().release(blocking)
