"""Pool: at most ``max_size`` reusable resources (connections, clients...), made on demand.

A ``GreenPool`` bounds how many greenthreads run; a ``Pool`` bounds how many
*things* exist and lends them out: ``get`` hands a free item, else makes one
while fewer than ``max_size`` exist, else waits until someone ``put``s one
back. eventlet's ``pools`` module, on minievent's shared wait queue: a getter
killed or timed out after an item was handed to it passes the item on.

    class ClientPool(Pool):
        def create(self):
            return make_client()

    with pool.item() as client:
        client.call()
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .waiter import WaitQueue

__all__ = ["Pool", "TokenPool", "Token"]


class Pool:
    """Items made by ``create`` (an argument, or a method of a subclass), lent by ``get``/``put``.

    ``min_size`` items are made at once. ``order_as_stack=True`` lends the most
    recently returned item first (warm caches), else items take turns.
    """

    def __init__(
        self,
        min_size: int = 0,
        max_size: int = 4,
        order_as_stack: bool = False,
        create: Callable[[], Any] | None = None,
    ) -> None:
        for name, n in (("min_size", min_size), ("max_size", max_size)):
            if not isinstance(n, int):
                raise TypeError(f"Pool {name} must be an int, not {type(n).__name__}")
        if not 0 <= min_size <= max_size:
            raise ValueError(f"Pool needs 0 <= min_size <= max_size, got {min_size} and {max_size}")
        self.min_size = min_size
        self.max_size = max_size
        self.order_as_stack = order_as_stack
        if create is not None:
            self.create = create  # type: ignore[method-assign]
        self.free_items: deque[Any] = deque(self.create() for _ in range(min_size))
        self.current_size = min_size  # items that exist: lent out or free
        self._getters = WaitQueue()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} size={self.current_size}/{self.max_size} free={self.free()}>"

    def create(self) -> Any:
        """Make a new item; override it, or pass ``create=`` to the constructor."""
        raise NotImplementedError("give Pool a create= function, or override create() in a subclass")

    def get(self) -> Any:
        """A free item, a new one while fewer than ``max_size`` exist, else wait for a ``put``."""
        if self.free_items:
            return self.free_items.popleft()
        if self.current_size < self.max_size:
            return self._make()
        return self._getters.wait(None, ("get", self), lost=self.put)

    def _make(self) -> Any:
        self.current_size += 1  # (counted before create() runs: it may yield)
        try:
            return self.create()
        except BaseException:
            self.current_size -= 1
            raise

    def put(self, item: Any) -> None:
        """Give ``item`` back: to the oldest waiting ``get``, else to the free items.

        After ``resize`` made the pool smaller, items put back are dropped until it fits.
        """
        if self.current_size > self.max_size:
            self.current_size -= 1
        elif self._getters.wake_one(item) is None:
            (self.free_items.appendleft if self.order_as_stack else self.free_items.append)(item)

    @contextmanager
    def item(self) -> Iterator[Any]:
        """``with pool.item() as x:`` -- ``get`` on entry, ``put`` back on exit, whatever happens."""
        obj = self.get()
        try:
            yield obj
        finally:
            self.put(obj)

    def resize(self, new_size: int) -> None:
        """Change ``max_size``: waiting getters get new items if it grew; if it shrank, free items
        go now and items in use as they come back."""
        if not isinstance(new_size, int):
            raise TypeError(f"Pool size must be an int, not {type(new_size).__name__}")
        if new_size < 0:
            raise ValueError("Pool size must be >= 0")
        self.max_size = new_size
        while self.current_size > new_size and self.free_items:
            self.free_items.pop()
            self.current_size -= 1
        while self._getters and self.current_size < new_size:
            self._getters.wake_one(self._make())

    def free(self) -> int:
        """How many ``get`` calls would not wait now."""
        return len(self.free_items) + max(0, self.max_size - self.current_size)

    def waiting(self) -> int:
        """How many greenthreads wait in ``get``."""
        return len(self._getters)


class Token:
    """An opaque item: holding one is the right to use some limited thing."""


class TokenPool(Pool):
    """A pool of ``Token``s: at most ``max_size`` holders at once (a semaphore that hands out objects)."""

    def create(self) -> Token:
        return Token()
