"""Queue: a FIFO for passing items between greenthreads, with the stdlib's API and eventlet's sizes.

``Queue()`` is unbounded; ``Queue(0)`` is eventlet's *channel*: it holds
nothing, so a ``put`` returns only once a getter has taken the item.

``get`` on an empty queue and ``put`` on a full one park the greenthread.
An item is handed *directly* to a waiting getter, so no greenthread can jump
the line, and an item handed to a getter that is killed before it resumes is
put back, never lost. ``queue.Empty`` and ``queue.Full`` are the stdlib's own.
"""

from __future__ import annotations

import queue as _stdqueue
from collections import deque
from typing import Any, NamedTuple

from .greenthread import sleep
from .waiter import TIMED_OUT, WaitQueue

__all__ = ["Queue", "LightQueue", "Empty", "Full", "QueueStatistics"]

Empty = _stdqueue.Empty
Full = _stdqueue.Full


def _check_timeout(timeout: float | None) -> None:
    if timeout is not None and timeout < 0:
        raise ValueError("'timeout' must be a non-negative number")  # (the stdlib's words)


class QueueStatistics(NamedTuple):
    """What ``Queue.statistics()`` reports: how many greenthreads are parked where."""

    items: int
    getting: int  # in get()
    putting: int  # in put(), each with its item
    joining: int  # in join()


class Queue:
    def __init__(self, maxsize: int | None = None) -> None:
        self.queue: deque[Any] = deque()  # (the stdlib's and eventlet's name)
        self._getters = WaitQueue()
        self._putters = WaitQueue()  # (putters carry items)
        self._joiners = WaitQueue()
        self.unfinished_tasks = 0
        self.resize(maxsize)

    def __repr__(self) -> str:
        return (
            f"<Queue maxsize={self.maxsize} items={len(self.queue)} "
            f"getters={len(self._getters)} putters={len(self._putters)}>"
        )

    def qsize(self) -> int:
        return len(self.queue)

    __len__ = qsize

    def empty(self) -> bool:
        return not self.queue

    def full(self) -> bool:
        return self.maxsize is not None and len(self.queue) >= self.maxsize

    def resize(self, maxsize: int | None) -> None:
        """A new ``maxsize`` (``None``: unbounded); waiting putters come in if there is room now."""
        if maxsize is not None and (not isinstance(maxsize, int) or maxsize < 0):
            raise (ValueError if isinstance(maxsize, int) else TypeError)(f"maxsize: an int >= 0, or None: {maxsize!r}")
        self.maxsize = maxsize
        self._admit_putter()

    def getting(self) -> int:
        """How many greenthreads wait in ``get``."""
        return len(self._getters)

    def putting(self) -> int:
        """How many greenthreads wait in ``put``."""
        return len(self._putters)

    def statistics(self) -> QueueStatistics:
        """Items held and greenthreads waiting now (trio's ``statistics()``: a snapshot, for tests and operators)."""
        return QueueStatistics(len(self.queue), len(self._getters), len(self._putters), len(self._joiners))

    # ------------------------------------------------------------ put
    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        _check_timeout(timeout)
        # (An item counts as unfinished from the moment it is in, as in the stdlib.)
        if self._getters.wake_one(item) is None:  # nobody waiting to take it at once
            if self.full():
                # Parked with the item (unless we may not wait); _admit_putter puts it in when a slot frees up.
                if not block or timeout == 0:
                    raise Full
                woke = self._putters.wait(timeout, ("put", self), item=item)
                if woke is TIMED_OUT:
                    raise Full
                return
            self.queue.append(item)
        self.unfinished_tasks += 1
        if self.maxsize == 0 and block:  # a channel: return once the getter has it (it resumes first)
            sleep(0)

    def put_nowait(self, item: Any) -> None:
        self.put(item, block=False)

    # ------------------------------------------------------------ get
    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        _check_timeout(timeout)
        if self.queue:
            item = self.queue.popleft()
            self._admit_putter()
            return item
        putter = self._putters.wake_one()  # a channel: straight from a waiting putter
        if putter is not None:
            self.unfinished_tasks += 1
            return putter.item
        if not block or timeout == 0:
            raise Empty
        # An item handed to us as we die is given back: not lost.
        got = self._getters.wait(timeout, ("get", self), lost=self._give_back)
        if got is TIMED_OUT:
            raise Empty
        return got

    def get_nowait(self) -> Any:
        return self.get(block=False)

    def _admit_putter(self) -> None:
        # A slot just freed up: the oldest blocked putter's item goes in.
        while self._putters and not self.full():
            putter = self._putters.wake_one()
            if putter is not None:
                self.queue.append(putter.item)
                self.unfinished_tasks += 1

    def _give_back(self, item: Any) -> None:
        if self._getters.wake_one(item) is None:
            self.queue.appendleft(item)

    # ------------------------------------------------------------ join
    def task_done(self) -> None:
        if self.unfinished_tasks <= 0:
            raise ValueError("task_done() called too many times")
        self.unfinished_tasks -= 1
        if self.unfinished_tasks == 0:
            self._joiners.wake_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every item put has been marked ``task_done``; False on timeout."""
        if self.unfinished_tasks == 0:
            return True
        woke = self._joiners.wait(timeout, ("join", self))
        return woke is not TIMED_OUT


#: eventlet's queue without join/task_done; this one has them, which costs nothing when unused.
LightQueue = Queue
