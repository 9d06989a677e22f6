"""The capture of asyncio programs: each task step, and why and since when it was ready.

    with minievent.record(loop="asyncio") as tl:
        asyncio.run(main())

asyncio's ``BaseEventLoop`` is pure Python: a task step is a running span;
the loop's ready queue is replaced while recording by a deque that notes,
for each handle, since when it was ready and why (a timer's deadline, a
poll's end, another task), and an internal callback passes its own
readiness on to what it wakes (the timer of ``asyncio.sleep`` wakes the
task: the task was ready from the deadline). The selector's ``select`` is
timed for the loop's waits. Loops that *start* while recording are recorded
(``asyncio.run`` in the recorded program), one at a time; a loop already
running must be passed as ``loop=``. Not seen: uvloop and other loops not
built on ``BaseEventLoop`` (their loop is C), and what runs inside a step.

A lane is a task, named after its coroutine, or a plain callback; "hub" is
the loop itself; the code outside the loop is named after its thread.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Iterable, Iterator
from itertools import compress, repeat
from operator import is_
from typing import Any

from .records import EXITED, HUB, HUB_ID, SPAWN, YIELD, Capture, Records, clock, func_name, pop_each, thread_ident

__all__ = ["AsyncioCapture"]

_TIMER = "timer due"
_WOKEN = "woken"
_IO = "I/O ready"


class _Main:
    """The lane key of the code outside the loop (a sentinel, named after its thread)."""

    def __init__(self, name: str) -> None:
        self.name = name


class _ReadyQueue(collections.deque):
    """The loop's ``_ready`` while recording: each entry a (handle, since, why) triple.

    A capture's queue is of a subclass made for it (``AsyncioCapture._queue_type``) whose ``append`` and
    ``popleft`` are the capture's closures: the hot path, with what it reads bound once. Methods of the
    class, not attributes of the instance, so that ``_run_once``'s ``self._ready.popleft()`` stays a
    specialised method load, as on the loop's own deque. ``popleft`` hands the loop the handle alone,
    and iterating the queue gives the handles: the triples are the capture's. (One deque of triples,
    not a second deque of readiness beside it: a tuple made and unpacked costs less than a second
    deque's push and pop.)"""

    __slots__ = ()

    def __iter__(self) -> Iterator[Any]:
        return (entry[0] for entry in collections.deque.__iter__(self))

    def __getitem__(self, i: Any) -> Any:
        return collections.deque.__getitem__(self, i)[0]

    def readiness(self) -> list[tuple]:
        """(since, why) of each handle, in the queue's order."""
        return [(since, why) for _, since, why in collections.deque.__iter__(self)]


class AsyncioCapture(Capture):
    kind = "asyncio"

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__()
        self.explicit = loop
        self.loop: Any = None  # the loop being recorded now
        self.on = False
        self.cur: Any = None  # the lane running now
        # What a handle queued now was ready by: None, woken now (a task's or callback's doing); a cause,
        # ready now for it (a poll's end); a (since, cause) pair, a loop-internal callback's passed on.
        self.mark: Any = None
        self._lock = threading.Lock()
        self._tasks = (asyncio.Task, asyncio.tasks._PyTask)
        self._sleep_code = asyncio.sleep.__code__
        self._asyncio_dir = asyncio.__path__[0]
        self._orig_run_forever: Any = None
        # A task's lane id (one int object a lane; HUB_ID: the hub's), by _task_key(task): an exact
        # asyncio.Task by itself (its hash is its address: no int made a step), any other task by id()
        # (a subclass may hash itself: the capture calls none of the program's code).
        self._task_lanes: dict[Any, int] = {}
        self._due: dict[Any, tuple] = {}  # task -> (ready since, why) when its loop stopped, had it not run
        self._sleep_due: dict[int, float] = {}  # id(task) -> when its asyncio.sleep is due
        self._internal: list[Any] = []

    def install(self, records: Records) -> None:
        self.records, self.on = records, True
        self.main = _Main(threading.current_thread().name)  # "MainThread": the code outside the loop
        records.begin(self.main)
        self._lanes = records.lane_ids()
        self.cur = self.main
        if self.explicit is not None:
            self._attach(self.explicit)
            return
        # Record the loops that start running from now on.
        base = asyncio.BaseEventLoop
        orig = self._orig_run_forever = base.run_forever
        capture = self

        def run_forever(loop: Any) -> Any:
            with capture._lock:
                mine = capture.on and capture.loop is None
                if mine:
                    capture.loop = loop
            if not mine:
                return orig(loop)
            capture._attach(loop)
            try:
                return orig(loop)
            finally:
                capture._detach(loop)

        base.run_forever = run_forever

    def uninstall(self) -> None:
        self.on = False
        if self._orig_run_forever is not None:
            asyncio.BaseEventLoop.run_forever = self._orig_run_forever
            self._orig_run_forever = None
        if self.explicit is not None and thread_ident() == self.records.thread:
            self._detach(self.explicit)
        # A loop running in another thread keeps our (now passive) queue until run_forever returns.

    def _attach(self, loop: Any) -> None:
        if not isinstance(loop, asyncio.BaseEventLoop):
            raise TypeError(f"cannot record {type(loop).__name__}: only loops built on asyncio.BaseEventLoop")
        self.loop = loop
        self.records.thread = thread_ident()
        self.main.name = threading.current_thread().name  # the lane of the code outside this loop
        ready = self._queue_type()()
        old = loop._ready
        while old:
            ready.append(old.popleft())
        loop._ready = ready
        sel, select = loop._selector, loop._selector.select

        def timed_select(timeout: float | None = None) -> Any:
            if not self.on:
                return select(timeout)
            self.mark = _IO  # what the poll reports is ready from its end
            if timeout == 0:  # work is ready: a poll that cannot block (the hub's lane skips it)
                return select(timeout)
            start = clock()
            self._switch(HUB, start)
            try:
                return select(timeout)
            finally:
                self.records.poll(start, clock())

        sel.select = timed_select

    def ready_at_end(self, end: float) -> dict[Any, tuple]:
        return self._due

    def outside(self) -> Any:
        return self.main

    def over_among(self, keys: list) -> Iterable[bool]:
        tasks = self._tasks
        return [isinstance(key, tasks) and key.done() for key in keys]

    def forget(self, kids: list) -> None:
        super().forget(kids)
        # (in C, no Python line a lane: see records.pop_each; the lanes still hold the keys)
        keys = list(map(self._lanes.get, kids))
        pop_each(self._task_lanes, kids)  # (tasks by id)
        pop_each(self._task_lanes, list(compress(keys, map(is_, map(type, keys), repeat(asyncio.Task)))))
        pop_each(self._sleep_due, kids)
        # asyncio's own tasks are the hub's lane, never a key: let go of those that are done too
        for task in [task for task in self._internal if task.done()]:
            self._task_lanes.pop(self._task_key(task), None)  # (first: while the list keeps it, an id is its own)
            self._internal.remove(task)  # (in place: the loop's thread may be appending)

    def lane_name(self, key: Any) -> str:
        if isinstance(key, _Main):
            return key.name
        return super().lane_name(key)

    def _snapshot_due(self, loop: Any, now: float) -> None:
        # What was ready when the loop stopped but never ran: steps in the
        # ready queue, and tasks whose sleep was due (asyncio moves a due
        # timer to the ready queue only on its next iteration).
        keys = self.records.lane_ids()
        ready = loop._ready
        if isinstance(ready, _ReadyQueue):
            for handle, (since, cause) in zip(list(ready), ready.readiness(), strict=False):
                owner = getattr(handle._callback, "__self__", None)
                if id(owner) in keys and not handle._cancelled:
                    self._due.setdefault(owner, (since, cause))
        for kid, due in list(self._sleep_due.items()):
            if due <= now and kid in keys:
                self._due.setdefault(keys[kid], (due, _TIMER))

    def _detach(self, loop: Any) -> None:
        self.records.thread = thread_ident()
        if self.on:
            now = clock()
            self._switch(self.main, now)
            try:
                self._snapshot_due(loop, now)
            except Exception:  # (asyncio's internals: what we read is private)
                pass
        ready = loop._ready
        if isinstance(ready, _ReadyQueue):
            loop._ready = collections.deque(ready)
        # (del, never through the selector's ``__dict__``: on CPython 3.11 reading an object's ``__dict__``
        # moves its attributes out of the compact layout its class's bytecode is specialised for, and each
        # ``self.x`` of the selector is looked up the slow way for the rest of the loop's life.)
        try:
            del loop._selector.select
        except AttributeError:  # (not timed: never attached)
            pass
        with self._lock:
            self.loop = None

    def _queue_type(self) -> type[_ReadyQueue]:
        """The ready queue's class for this capture: its ``append`` and ``popleft`` note since when and why
        each handle was ready, and ``popleft``, as ``_run_once`` is about to run a handle, enters the lane
        of its task (or callback)."""
        put, take = collections.deque.append, collections.deque.popleft
        timer_handle, now, c_task = asyncio.TimerHandle, clock, asyncio.Task
        tasks, task_lanes, sleep_due, names = self._tasks, self._task_lanes, self._sleep_due, self.names
        records, lanes, task_lane, task_key, left = (
            self.records,
            self._lanes,
            self._task_lane,
            self._task_key,
            self._left,
        )
        file_lane, note_timer, drop = records.lane, records.timer, records.drop
        sw, room = records.switch_log()
        c_done = c_task.done
        add = sw.extend

        def append(ready: _ReadyQueue, handle: Any) -> None:
            if type(handle) is timer_handle:  # moved here by _run_once once due
                put(ready, (handle, handle._when, _TIMER))
                return
            mark = self.mark
            if mark is None:
                put(ready, (handle, now(), _WOKEN))  # (the common case)
            elif mark.__class__ is tuple:  # a loop-internal callback passes its readiness on
                put(ready, (handle, *mark))
            else:
                put(ready, (handle, now(), mark))

        def popleft(ready: _ReadyQueue) -> Any:
            handle, since, cause = take(ready)
            if handle._cancelled or not self.on:
                return handle
            cb = handle._callback
            owner = getattr(cb, "__self__", None)
            # A step (or wakeup) of a task: its lane id (the lane's own int: the log keeps no new int a
            # step), found by _task_key, inline (an id is never 0).
            if type(owner) is c_task:
                kid = task_lanes.get(owner) or task_lane(owner)
            elif isinstance(owner, tasks):
                kid = task_lanes.get(id(owner)) or task_lane(owner)
            else:
                kid = None
            if kid is not None:
                key = HUB if kid is HUB_ID else owner
                self.mark = None
            elif getattr(cb, "__module__", None) is None or cb.__module__.startswith("asyncio"):
                key, kid = HUB, HUB_ID  # the loop's own machinery: a sleep's timer, a transport's reader
                self.mark = (since, cause)  # ... what it wakes was ready when it was
            else:
                key = getattr(cb, "__func__", cb)  # a plain callback of the program
                kid = id(key)
                self.mark = None
                if kid not in names:
                    names[kid] = func_name(key) or "callback"
            cur = self.cur
            if key is cur and key is HUB:
                return handle  # (a task's next step is a switch: it left, ready, and came back)
            t = now()
            if key is HUB:
                since = cause = None
            elif kid not in lanes:
                since, cause = None, SPAWN
                kid = file_lane(key)
                if key is owner:  # a task: from now on its lane id is the very int the lanes are keyed by,
                    task_lanes[task_key(owner)] = kid  # ... so that ``kid in lanes`` matches it by identity, no compare
            else:
                due = sleep_due.pop(kid, None) if sleep_due else None
                if due is not None and cause is not _TIMER and due < since:
                    since, cause = due, _TIMER  # woken another way (cancelled) after its sleep was due
                if cause is _TIMER:
                    note_timer(key, since, t)
            self.cur = key
            # Why the lane before left: the common case (a task that yielded) without a call.
            if cur is HUB:
                why = None
            elif cur.__class__ is c_task:  # (its methods through the class: a specialised call)
                why = YIELD if cur._fut_waiter is None and not c_done(cur) else left(cur)
            elif cur.__class__ in tasks and cur._fut_waiter is None and not cur.done():
                why = YIELD
            else:
                why = left(cur)
            if len(sw) < room:  # (Records.switch's five slots, without the call)
                add((t, kid, why, since, cause))
            else:
                drop()
            return handle

        return type("_ReadyQueue", (_ReadyQueue,), {"__slots__": (), "append": append, "popleft": popleft})

    def _switch(self, key: Any, t: float) -> None:
        cur = self.cur
        if key is not cur:
            self.cur = key
            self.records.switch(t, self.records.lane(key), self._left(cur))

    def _task_lane(self, task: Any) -> int:
        # A task's lane is the task, named after it (or its coroutine, when
        # asyncio named it "Task-N"); asyncio's own tasks (asyncio.run's
        # shutdown steps) are the loop's work: the hub lane. Decided once a
        # task; its lane id, the one int object every switch into it writes
        # (an id() a step would be a new int kept in the log: 32 bytes).
        kid = id(task)
        coro = task.get_coro()
        code = getattr(coro, "cr_code", None)
        if code is not None and code.co_filename.startswith(self._asyncio_dir):
            self._task_lanes[self._task_key(task)] = HUB_ID
            self._internal.append(task)  # (alive while recording, so that its id stays its own)
            return HUB_ID
        name = task.get_name()
        self.names[kid] = func_name(coro) or name if name.startswith("Task-") else name
        self._task_lanes[self._task_key(task)] = kid
        return kid

    @staticmethod
    def _task_key(task: Any) -> Any:
        return task if type(task) is asyncio.Task else id(task)

    def _left(self, lane: Any) -> Any:
        if lane is HUB or isinstance(lane, _Main):
            return "run_forever" if isinstance(lane, _Main) else None
        if not isinstance(lane, self._tasks):
            return EXITED  # a callback runs to its end
        if lane.done():
            return EXITED
        if lane._fut_waiter is None:
            return YIELD  # a bare yield (asyncio.sleep(0)): the step is queued again
        # Waiting on a future: say on what, from the innermost coroutine of its await chain.
        c = lane.get_coro()
        while True:
            inner = getattr(c, "cr_await", None)
            if inner is None or not hasattr(inner, "cr_code"):
                break
            c = inner
        code = getattr(c, "cr_code", None)
        if code is None:
            return "await"
        if code is self._sleep_code and c.cr_frame is not None:
            delay = c.cr_frame.f_locals.get("delay", 0)
            self._sleep_due[id(lane)] = clock() + delay
            return ("sleep", delay)
        return code.co_qualname.rsplit("<locals>.", 1)[-1]
