"""tpool: run a blocking call in a real OS thread while the hub goes on.

Greenthreads share one OS thread, so a call that blocks in C (a database
driver, file I/O, compression, ``time.sleep`` from the real ``time`` module)
stops every greenthread -- the late-heartbeat outage of the lessons.
``execute(fn, *args)`` hands ``fn`` to a pool of worker threads instead; the
calling greenthread parks in a ``WaitQueue``, the hub keeps running the others,
and when the worker is done it rings the hub's doorbell (``call_threadsafe``:
append to the hub's inbox, then write the waker fd that the poller watches),
which wakes the hub out of ``epoll_wait``; the waker's listener moves the
inbox onto the ready queue (``schedule``), and the run phase delivers the result.
``Proxy(obj)`` does the same for every method call on ``obj``.

While a job is out, the hub's ``keepalive`` counts it: with nothing else to
wait for, the hub would otherwise conclude that nothing can ever wake the
main greenlet (``LoopExit``), not knowing that a thread will.
"""

from __future__ import annotations

import contextlib
import operator
import os
import queue
import threading
import warnings
from _thread import allocate_lock, start_new_thread  # the OS's own: tpool is imported with minievent, before any patch
from collections.abc import Callable
from typing import Any, TypeVar

from .hub import Hub, get_hub
from .originals import original
from .waiter import WaitQueue

__all__ = ["Proxy", "execute", "setup", "killall", "set_num_threads", "get_num_threads"]

T = TypeVar("T")

# eventlet's variable is read too, so that a deployment tuned for eventlet keeps its size.
_nthreads = int(os.environ.get("MINIEVENT_THREADPOOL_SIZE") or os.environ.get("EVENTLET_THREADPOOL_SIZE") or 20)
_jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
_threads: list[threading.Thread] = []
_starting = allocate_lock()  # held while an OS thread of its own starts the workers (see setup)
_STOP = object()


def set_num_threads(n: int) -> None:
    """Size of the pool the next ``setup`` starts (call ``killall`` first to resize a running pool).

    0, as in eventlet, means no threads: ``execute`` then calls ``fn`` inline, blocking the hub, and warns."""
    global _nthreads
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"the thread pool size must be an int >= 0, not {n!r}")
    _nthreads = n


def get_num_threads() -> int:
    return _nthreads


def _worker() -> None:
    while True:
        job = _jobs.get()
        if job is _STOP:
            return
        fn, args, kwargs, hub, deliver = job
        try:
            outcome = (True, fn(*args, **kwargs))
        except BaseException as e:  # handed to the caller, like a return value
            outcome = (False, e)
        del fn, args, kwargs, job  # don't keep big arguments alive while idle
        with contextlib.suppress(OSError):  # (that hub was closed meanwhile: nobody is left to tell)
            hub.call_threadsafe(deliver, outcome)
        del hub, deliver, outcome


def setup() -> None:
    """Start the worker threads (``execute`` does it on first use), without waiting for them to run.

    ``Thread.start()`` waits until its thread runs: done by the hub's thread for each worker, those
    waits stopped every greenthread at the first ``execute()``. An OS thread of its own starts them
    instead (the raw ``start_new_thread`` does not wait), and jobs queue until the first one runs.
    """
    if _nthreads < 0:
        raise ValueError(f"the thread pool size must be >= 0, not {_nthreads} (*_THREADPOOL_SIZE)")
    if len(_threads) < _nthreads and _starting.acquire(False):
        try:
            start_new_thread(_start_workers, (original("threading").Thread,))  # (copied here: not in that thread)
        except BaseException:
            _starting.release()
            raise


def _start_workers(thread_class: type[threading.Thread]) -> None:
    try:
        while len(_threads) < _nthreads:
            t = thread_class(target=_worker, name=f"minievent.tpool-{len(_threads)}", daemon=True)
            t.start()
            _threads.append(t)
    except Exception as e:  # "can't start new thread"
        _starting.release()  # (first: a job queued from now on makes another try, which fails it if this did)
        _fail_queued(e)
    else:
        _starting.release()  # (the last thing this thread does: see os_threads)


def _fail_queued(error: Exception) -> None:
    """No worker could be started: the jobs queued so far get the error starting one raised (their callers raise it)."""
    for _ in range(_jobs.qsize()):  # (so far: a job queued later made a try of its own)
        if _threads:
            return  # (one started meanwhile: it runs them)
        try:
            *_, hub, deliver = _jobs.get_nowait()
        except queue.Empty:
            return
        with contextlib.suppress(OSError):
            hub.call_threadsafe(deliver, (False, error))


def os_threads() -> int:
    """How many OS threads the pool runs: the runtime's, not the program's (``_thread._count()``).

    A start under way is waited for, so that the count is one the interpreter's agrees with.
    """
    with _starting:
        return len(_threads)


def killall(timeout: float | None = 10.0) -> None:
    """Stop the worker threads once the jobs already queued are done, and join them."""
    with _starting:  # (a start under way finishes first)
        threads = _threads[:]
        _threads.clear()
    for _ in threads:
        _jobs.put(_STOP)
    for t in threads:
        t.join(timeout)


def _forget_threads_after_fork() -> None:
    """A forked child has none of its parent's other OS threads: its pool starts afresh on next use."""
    global _starting
    _threads.clear()
    _starting = allocate_lock()  # (a start under way in the parent left it held)


os.register_at_fork(after_in_child=_forget_threads_after_fork)


def execute(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` in a pool thread; park until it is done; return or raise its outcome.

    Many greenthreads may call it at once: at most ``get_num_threads()`` jobs
    run together, the rest queue. If the caller is killed meanwhile, the job
    still finishes in its thread and its result is dropped.
    """
    if _nthreads == 0:
        warnings.warn(
            "Zero threads in tpool (MINIEVENT_THREADPOOL_SIZE or EVENTLET_THREADPOOL_SIZE is 0, or "
            "set_num_threads(0)): the call runs inline and blocks the hub",
            RuntimeWarning,
            stacklevel=2,
        )
        return fn(*args, **kwargs)
    hub = get_hub()
    done = WaitQueue()

    def deliver(outcome: tuple[bool, Any], hub: Hub = hub) -> None:
        # Runs in the hub's thread, from the ready queue (so never before we park below).
        hub.keepalive -= 1
        done.wake_one(outcome)

    hub.keepalive += 1
    _jobs.put((fn, args, kwargs, hub, deliver))
    if not _threads:
        try:
            setup()  # (after the put: a start that fails, or a size < 0, hands its error to what is queued)
        except Exception as e:
            _fail_queued(e)
    ok, value = done.wait(why=("tpool", fn))
    if ok:
        return value
    raise value


class Proxy:
    """``obj`` whose method calls (and ``next()``, and the call itself) run in the thread pool.

    For a blocking object (a C database connection, a file): ``Proxy(conn).execute(sql)``
    parks only the calling greenthread. Plain attributes, ``len``, ``str``, indexing and
    comparisons are cheap, so they run at once in the caller's thread. A result is wrapped in
    a ``Proxy`` too if it is an instance of ``autowrap`` or came from a name in ``autowrap_names``
    (e.g. a cursor that a connection's ``cursor()`` returns).
    """

    def __init__(self, obj: Any, autowrap: tuple[type, ...] = (), autowrap_names: tuple[str, ...] = ()) -> None:
        self._obj = obj
        self._autowrap = tuple(autowrap)
        self._names = frozenset(autowrap_names)

    def _wrap(self, name: str, value: Any) -> Any:
        return Proxy(value, self._autowrap) if isinstance(value, self._autowrap) or name in self._names else value

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._obj, name)
        if not callable(attr):
            return self._wrap(name, attr)
        return lambda *args, **kwargs: self._wrap(name, execute(attr, *args, **kwargs))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._wrap("__call__", execute(self._obj, *args, **kwargs))

    def __iter__(self) -> Proxy:  # (an iterator's iter() is itself: then this proxies the same object)
        return Proxy(iter(self._obj), self._autowrap, tuple(self._names))

    def __next__(self) -> Any:
        return self._wrap("next", execute(next, self._obj))  # StopIteration comes back like any exception


# The special methods Python looks up on the type, not through __getattr__: run at once.
for _name, _fn in {
    "getitem": operator.getitem,
    "setitem": operator.setitem,
    "delitem": operator.delitem,
    "len": len,
    "contains": operator.contains,
    "str": str,
    "repr": repr,
    "bool": bool,
    "hash": hash,
    "eq": operator.eq,
    "ne": operator.ne,
}.items():
    setattr(Proxy, f"__{_name}__", lambda self, *args, _fn=_fn: _fn(self._obj, *args))
