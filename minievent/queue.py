"""Queue: a FIFO for passing items between greenthreads, with the stdlib's API.

``get`` on an empty queue and ``put`` on a full one park the greenthread.
An item is handed *directly* to a waiting getter, so no greenthread can jump
the line, and an item handed to a getter that is killed before it resumes is
put back, never lost. ``queue.Empty`` and ``queue.Full`` are the stdlib's own.
"""

from __future__ import annotations

import queue as _stdqueue
from collections import deque
from typing import Any

from .waiter import _TIMED_OUT, Waiter

__all__ = ["Queue", "Empty", "Full"]

Empty = _stdqueue.Empty
Full = _stdqueue.Full


class Queue:
    def __init__(self, maxsize: int = 0) -> None:
        if not isinstance(maxsize, int):
            raise TypeError(f"maxsize must be an int, not {type(maxsize).__name__}")
        if maxsize < 0:
            raise ValueError("maxsize must be >= 0 (0 means unbounded)")
        self.maxsize = maxsize
        self._items: deque[Any] = deque()
        self._getters: deque[Waiter] = deque()
        self._putters: deque[tuple[Waiter, Any]] = deque()
        self._unfinished = 0
        self._joiners: list[Waiter] = []

    def __repr__(self) -> str:
        return (f"<Queue maxsize={self.maxsize} items={len(self._items)} "
                f"getters={len(self._getters)} putters={len(self._putters)}>")

    def qsize(self) -> int:
        return len(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return 0 < self.maxsize <= len(self._items)

    @staticmethod
    def _check_timeout(timeout: float | None) -> None:
        if timeout is not None and timeout < 0:
            raise ValueError("'timeout' must be a non-negative number")

    # ------------------------------------------------------------ put
    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        self._check_timeout(timeout)
        self._unfinished += 1
        while self._getters:  # someone is waiting: hand it over
            if self._getters.popleft().wake(item):
                return
        if not self.full():
            self._items.append(item)
            return
        if not block or timeout == 0:
            self._unfinished -= 1
            raise Full
        waiter = Waiter()
        entry = (waiter, item)
        self._putters.append(entry)
        try:
            got = waiter.wait(timeout, why=f"room in a full Queue (id 0x{id(self):x})")
        except BaseException:
            if not waiter.woken or waiter.value is _TIMED_OUT:
                self._unfinished -= 1  # never went in
            raise
        finally:
            if entry in self._putters:
                self._putters.remove(entry)
        if got is _TIMED_OUT:
            self._unfinished -= 1
            raise Full

    def put_nowait(self, item: Any) -> None:
        self.put(item, block=False)

    # ------------------------------------------------------------ get
    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        self._check_timeout(timeout)
        if self._items:
            item = self._items.popleft()
            self._admit_putter()
            return item
        if not block or timeout == 0:
            raise Empty
        waiter = Waiter()
        self._getters.append(waiter)
        try:
            got = waiter.wait(timeout, why=f"an item from an empty Queue (id 0x{id(self):x})")
        except BaseException:
            if waiter.woken and waiter.value is not _TIMED_OUT:
                self._give_back(waiter.value)  # handed to us as we died: not lost
            raise
        finally:
            if waiter in self._getters:
                self._getters.remove(waiter)
        if got is _TIMED_OUT:
            raise Empty
        return got

    def get_nowait(self) -> Any:
        return self.get(block=False)

    def _admit_putter(self) -> None:
        # A slot just freed up: the oldest blocked putter's item goes in.
        while self._putters and not self.full():
            waiter, item = self._putters.popleft()
            if waiter.wake(None):
                self._items.append(item)

    def _give_back(self, item: Any) -> None:
        while self._getters:
            if self._getters.popleft().wake(item):
                return
        self._items.appendleft(item)

    # ------------------------------------------------------------ join
    def task_done(self) -> None:
        if self._unfinished <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished -= 1
        if self._unfinished == 0:
            joiners, self._joiners = self._joiners, []
            for w in joiners:
                w.wake()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every item put has been marked ``task_done``; False on timeout."""
        if self._unfinished == 0:
            return True
        waiter = Waiter()
        self._joiners.append(waiter)
        try:
            return waiter.wait(timeout, why="Queue.join()") is not _TIMED_OUT
        finally:
            if waiter in self._joiners:
                self._joiners.remove(waiter)
