"""Semaphore: at most N greenthreads past this point at once.

Waiters are served first come, first served: ``release`` hands the unit
straight to the oldest waiter instead of putting it back in the counter, so a
greenthread that loops on acquire/release cannot starve the others.
"""

from __future__ import annotations

from typing import Any

from .waiter import TIMED_OUT, WaitQueue

__all__ = ["Semaphore", "BoundedSemaphore"]


class Semaphore:
    def __init__(self, value: int = 1) -> None:
        if not isinstance(value, int):
            raise TypeError(f"Semaphore value must be an int, not {type(value).__name__}")
        if value < 0:
            raise ValueError("Semaphore initial value must be >= 0")
        self.counter = value
        self._waiters = WaitQueue()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} counter={self.counter} waiting={len(self._waiters)}>"

    def locked(self) -> bool:
        return self.counter <= 0

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take one unit; wait for one if none is free. False if not acquired."""
        if timeout is not None and (timeout < 0 or not blocking):  # (the stdlib's two checks)
            raise ValueError("can't specify a timeout for a non-blocking call" if timeout >= 0 else "timeout < 0")
        if self.counter > 0 and not self._waiters:
            self.counter -= 1
            return True
        if not blocking:
            return False
        # A unit handed to us as we are killed passes on to the next waiter.
        return self._waiters.wait(timeout, ("acquire", self), lost=self._pass_on) is not TIMED_OUT

    def release(self, blocking: bool = True) -> None:
        self._release_one()

    def _release_one(self) -> None:
        if self._waiters.wake_one(True) is None:  # else the unit went straight to that waiter
            self.counter += 1

    def _pass_on(self, _unit: Any) -> None:
        self._release_one()

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
