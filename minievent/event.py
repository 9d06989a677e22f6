"""Event: one greenthread sends a value, any number wait for it.

eventlet's ``Event`` (not ``threading.Event``): ``send(value)`` wakes every
waiter with the value, and later waiters get it at once, until ``reset()``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .waiter import TIMED_OUT, WaitQueue

__all__ = ["Event", "EventStatistics"]

_NOT_SENT = object()


class EventStatistics(NamedTuple):
    """What ``Event.statistics()`` reports."""

    waiting: int  # greenthreads parked in wait()


class Event:
    def __init__(self) -> None:
        self._value: Any = _NOT_SENT
        self._exc: BaseException | None = None
        self._waiters = WaitQueue()

    def __repr__(self) -> str:
        return f"<Event {'sent' if self.ready() else 'not sent'}, {len(self._waiters)} waiting>"

    def ready(self) -> bool:
        """True once ``send`` or ``send_exception`` was called (until ``reset``)."""
        return self._value is not _NOT_SENT

    def statistics(self) -> EventStatistics:
        """How many greenthreads wait for it now (trio's ``statistics()``: a snapshot, for tests and operators)."""
        return EventStatistics(len(self._waiters))

    def has_exception(self) -> bool:
        return self._exc is not None

    def reset(self) -> None:
        if not self.ready():
            raise AssertionError("reset() of an Event that was not sent")
        self._value = _NOT_SENT
        self._exc = None

    def send(self, result: Any = None, exc: BaseException | None = None) -> None:
        """Wake every waiter with ``result`` (or make them raise ``exc``)."""
        if self.ready():
            raise AssertionError("send() of an Event that was already sent; reset() it first")
        self._value = result
        self._exc = exc
        self._waiters.wake_all()

    def send_exception(self, *args: Any) -> None:
        """``send_exception(ExcClass, arg)`` or ``send_exception(exc)``: waiters raise it."""
        if not args:
            raise TypeError("send_exception() needs an exception")
        self.send(None, args[0] if isinstance(args[0], BaseException) else args[0](*args[1:]))

    def wait(self, timeout: float | None = None) -> Any:
        """The sent value (or raise the sent exception); ``None`` after ``timeout`` seconds."""
        if not self.ready():
            if timeout is not None and timeout <= 0:
                return None
            woke = self._waiters.wait(timeout, ("wait", self))
            if woke is TIMED_OUT:
                return None
        if self._exc is not None:
            raise self._exc
        return self._value
