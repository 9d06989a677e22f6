"""Semaphore: at most N greenthreads past this point at once.

Waiters are served first come, first served: ``release`` hands the unit
straight to the oldest waiter instead of putting it back in the counter, so a
greenthread that loops on acquire/release cannot starve the others.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .waiter import TIMED_OUT, WaitQueue

__all__ = ["Semaphore", "BoundedSemaphore", "CappedSemaphore", "SemaphoreStatistics"]


class SemaphoreStatistics(NamedTuple):
    """What ``Semaphore.statistics()`` reports."""

    counter: int  # units free
    waiting: int  # greenthreads parked in acquire()


class Semaphore:
    def __init__(self, value: int = 1) -> None:
        if not (isinstance(value, int) or isinstance(value, float) and value.is_integer()):  # (eventlet takes 1e2)
            raise TypeError(f"{type(self).__name__} value must be a whole number, not {value!r}")
        if value < 0:
            raise ValueError(f"{type(self).__name__} value must be >= 0, not {value!r}")
        self.counter = int(value)
        self._waiters = WaitQueue()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} counter={self.counter} waiting={len(self._waiters)}>"

    def locked(self) -> bool:
        return self.counter <= 0

    def statistics(self) -> SemaphoreStatistics:
        """Units free and greenthreads waiting now (trio's ``statistics()``: a snapshot, for tests and operators)."""
        return SemaphoreStatistics(self.counter, len(self._waiters))

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
        return self._waiters.wait(timeout, ("acquire", self), lost=self.release) is not TIMED_OUT

    def release(self, blocking: Any = True) -> None:
        """Give a unit back: to the oldest waiter, else to the counter. (``blocking``: the stdlib's
        signature; also what a unit passed on from a killed waiter arrives as.)"""
        if self._waiters.wake_one(True) is None:  # else the unit went straight to that waiter
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
        self.original_counter = self.counter

    def release(self, blocking: bool = True) -> None:
        if self.counter >= self.original_counter and not self._waiters:
            raise ValueError("BoundedSemaphore released too many times")
        super().release(blocking)


class CappedSemaphore:
    """A semaphore whose ``release`` waits, instead of raising, while ``limit`` units are free.

    Two semaphores face each other: ``lower_bound`` counts the free units, ``upper_bound`` the
    room left under ``limit``. A call gives a unit to one side before it takes one from the other:
    giving first is what lets a waiting releaser and a waiting acquirer meet (even at ``limit`` 0).
    """

    def __init__(self, count: int, limit: int) -> None:
        self.lower_bound = Semaphore(count)
        if limit < count:
            raise ValueError(f"CappedSemaphore count {count!r} is above its limit {limit!r}")
        self.upper_bound = Semaphore(limit - count)

    def _move(self, give: Semaphore, take: Semaphore, blocking: bool, timeout: float | None) -> bool:
        if not blocking and take.locked():
            return take.acquire(False, timeout)  # False, or the stdlib's ValueError for a timeout
        give.release()
        got = False
        try:
            got = take.acquire(blocking, timeout)
        finally:
            if not got:  # timed out or killed: take the given unit back (a debt, if it went on already)
                give.counter -= 1
        return got

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take a unit; wait while none is free. False if not acquired."""
        return self._move(self.upper_bound, self.lower_bound, blocking, timeout)

    def release(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Give a unit back; wait while ``limit`` units are free already. False if not released."""
        return self._move(self.lower_bound, self.upper_bound, blocking, timeout)

    def locked(self) -> bool:
        """``acquire`` would wait."""
        return self.lower_bound.locked()

    def bounded(self) -> bool:
        """``release`` would wait."""
        return self.upper_bound.locked()

    __enter__ = Semaphore.__enter__
    __exit__ = Semaphore.__exit__

    @property
    def balance(self) -> int:
        """Free units minus room under the limit, waiters counted (eventlet's): > 0, about the acquires
        that would not wait; < 0, minus the releases that would not."""
        return self.lower_bound.balance - self.upper_bound.balance
