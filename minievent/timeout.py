"""Timeout: raise an exception in the current greenthread after N seconds.

    with Timeout(2):
        data = sock.recv(1024)     # raises Timeout if nothing came in 2 s

It is a ``BaseException`` (as in eventlet and gevent) so that a bare
``except Exception`` in the guarded code does not swallow it by accident.
It works by scheduling a timer that *throws* into the greenthread, which can
only happen while that greenthread waits: a loop that never yields cannot be
interrupted (that is the lesson of the late heartbeat).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import greenlet

from .hub import Timer, get_hub

__all__ = ["Timeout", "with_timeout", "is_timeout", "wrap_is_timeout"]

_NONE = object()


class Timeout(BaseException):
    """``Timeout(seconds, exception=None)``; ``exception=False`` makes it silent in a ``with``."""

    def __init__(self, seconds: float | None = None, exception: Any = None) -> None:
        super().__init__(seconds)
        if seconds is not None and not isinstance(seconds, (int, float)):
            raise TypeError(f"Timeout seconds must be a number or None, not {type(seconds).__name__}")
        self.seconds = seconds
        self.exception = exception
        self.timer: Timer | None = None
        self.start()

    def start(self) -> Timeout:
        """Arm the timer (``Timeout`` arms itself on creation; call again after ``cancel``)."""
        if self.pending:
            raise RuntimeError(f"{self!r} is already started; cancel() it first")
        if self.seconds is None:  # never fires
            self.timer = None
            return self
        cur = greenlet.getcurrent()
        exc = self if self.exception is None or self.exception is False or self.exception is True else self.exception
        if isinstance(exc, type):
            exc = exc()
        # Remember the greenthread, not just the greenlet: a worker greenlet
        # may run another greenthread by the time a forgotten Timeout fires.
        self.timer = get_hub().schedule_call(self.seconds, self._fire, cur, getattr(cur, "gt", None), exc)
        return self

    @staticmethod
    def _fire(g: greenlet.greenlet, gt: object, exc: BaseException) -> None:
        if not g.dead and getattr(g, "gt", None) is gt:
            g.throw(exc)

    @property
    def pending(self) -> bool:
        return self.timer is not None and self.timer.pending

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def __enter__(self) -> Timeout:
        if not self.pending:
            self.start()
        return self

    def __exit__(self, typ: Any, value: Any, tb: Any) -> bool:
        self.cancel()
        return value is self and self.exception is False

    def __repr__(self) -> str:
        return f"<Timeout {self.seconds}s {'pending' if self.pending else 'idle'}>"

    def __str__(self) -> str:
        return "" if self.seconds is None else f"{self.seconds} second{'s' if self.seconds != 1 else ''}"


def with_timeout(seconds: float | None, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` under a ``Timeout``; with ``timeout_value=X`` return X instead of raising."""
    timeout_value = kwargs.pop("timeout_value", _NONE)
    with Timeout(seconds) as timeout:
        try:
            return fn(*args, **kwargs)
        except Timeout as e:
            if e is timeout and timeout_value is not _NONE:
                return timeout_value
            raise


def is_timeout(obj: object) -> bool:
    """True for a ``Timeout``, a ``TimeoutError`` (``socket.timeout`` is one), or what is marked ``is_timeout``."""
    return isinstance(obj, (Timeout, TimeoutError)) or getattr(obj, "is_timeout", False) is True


def wrap_is_timeout(cls: type) -> type:
    """Mark a class (an exception of a library's own, say) so that ``is_timeout`` says True of its instances."""
    cls.is_timeout = True  # type: ignore[attr-defined]  (a non-class raises AttributeError or TypeError here)
    return cls
