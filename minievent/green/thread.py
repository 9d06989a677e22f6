"""Green ``_thread``: the five primitives the stdlib's ``threading`` is built from, made green.

``threading.py`` is pure Python on top of ``_thread``: a lock
(``allocate_lock``), an identity (``get_ident``), a way to start a thread
(``start_new_thread``), a sentinel that ``join`` waits on (``_set_sentinel``)
and thread-local storage (``_local``). Give it green versions of those and its
``RLock``, ``Condition``, ``Event``, ``Semaphore``, ``Barrier``, ``Timer`` and
``Thread`` -- and ``queue.Queue``, built on them in turn -- work between
greenthreads unchanged. A "thread" is then a greenthread, and its ident is
the greenthread's; an OS thread's main greenlet keeps the OS thread's ident,
so ``main_thread()`` is still ``current_thread()`` in the main greenlet.

Mixing with real OS threads (tpool workers, ``patcher.original("threading")``):
a green lock is safe to share. Its locked bit is a real C lock, so exclusion
holds across OS threads; a release from another OS thread wakes the waiting
greenthread through its hub's ``call_threadsafe``; and while other OS threads
exist, a waiting hub stays up for them (``keepalive``). With no other OS
thread, a wait that nothing can end raises ``LoopExit`` instead of hanging.
"""

import _thread
import _threading_local
import functools
import signal
import sys
import threading

# The rest of _thread, unchanged, so that this module can stand in for it (patcher.import_patched).
from _thread import TIMEOUT_MAX, _excepthook, _ExceptHookArgs, error, exit, stack_size  # noqa: F401
from collections.abc import Callable
from typing import Any

import greenlet

from .. import tpool
from ..greenthread import GreenThread, getcurrent, sleep, spawn
from ..hub import clock, get_hub, os_thread_id
from ..waiter import WaitQueue

# Before patching:
_os_lock = _thread.allocate_lock
_os_threads = _thread._count
_os_native_id = _thread.get_native_id
_os_interrupt_main = _thread.interrupt_main
_running: set[Any] = set()  # the greenthreads of start_new_thread, while they run (what _count() counts)
# What the interpreter hands sys.unraisablehook (the default hook takes nothing else); sys does not name its type.
_Unraisable = next(t for t in tuple.__subclasses__() if t.__name__ == "UnraisableHookArgs")


class LockType:
    """A lock whose ``acquire`` parks the greenthread; waiters get it first come, first served."""

    __slots__ = ("_bit", "_waiters", "_pending", "_hub", "__weakref__")

    def __new__(cls) -> Any:  # (as _thread's lock type: allocate_lock() makes them)
        raise TypeError(f"cannot create '{__name__}.LockType' instances")

    def _at_fork_reinit(self) -> None:
        self._bit = _os_lock()  # the locked state: atomic even against other OS threads
        self._waiters = WaitQueue()
        self._pending: set[Any] = set()  # who is between a failed try and its park (set ops are atomic)
        self._hub: Any = None  # the hub the waiters park in

    def locked(self) -> bool:
        return self._bit.locked()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if timeout != -1:
            _os_lock().acquire(blocking, timeout)  # (a free lock: only the stdlib's checks of the arguments)
        if (got := self._bit.acquire(False)) or not blocking:
            return got
        hub = get_hub()
        me = getcurrent()
        deadline = None if timeout == -1 else clock() + timeout
        self._hub = hub  # (first: a releaser in another OS thread that sees us pending rings this hub)
        self._pending.add(me)
        others = _os_threads() > 0  # they might release it: don't let the hub give up (LoopExit)
        hub.keepalive += others
        try:
            while not self._bit.acquire(False):
                left = None if deadline is None else deadline - clock()
                if left is not None and left <= 0:
                    return False
                # (If handed the lock and then killed before it could resume, it passes the lock on.)
                if self._waiters.wait(left, why=("lock", self), lost=self._pass_on) is True:
                    return True  # handed over by release(): ours now
            return True
        finally:
            hub.keepalive -= others
            self._pending.discard(me)

    def _pass_on(self, handed: Any) -> None:
        # A waiter handed the lock (``handed is True``) but killed before it resumed: the next one gets it.
        if handed is True:
            self.release()

    def release(self) -> None:
        if not self._bit.locked():
            raise RuntimeError("release unlocked lock")
        if self._waiters.wake_one(True):
            return  # handed straight to the oldest waiter (in any OS thread): it stays locked, no one barges in
        self._bit.release()
        # A waiter of another OS thread may be between its failed try and its park: nudge it.
        if self._pending and (hub := self._hub).thread_id != os_thread_id():
            hub.call_threadsafe(self._waiters.wake_one, False)

    __enter__ = acquire

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def __repr__(self) -> str:  # (as _thread's lock says it)
        return f"<{'locked' if self.locked() else 'unlocked'} {__name__}.LockType object at {id(self):#x}>"


@staticmethod  # (so that, kept as a class attribute, ``lock_factory = threading.Lock``, it binds no self: a builtin)
def allocate_lock() -> LockType:
    """A new, unlocked lock (``threading.Lock()``)."""
    lock = object.__new__(LockType)
    lock._at_fork_reinit()
    return lock


def get_ident() -> int:
    """The current greenthread's id; in an OS thread's main greenlet, the OS thread's ident."""
    try:
        g = greenlet.getcurrent()
    except RuntimeError:  # at interpreter exit, after greenlet's own end (a lock released in a weakref callback)
        return os_thread_id()
    return os_thread_id() if g.parent is None else id(getattr(g, "gt", None) or g)


def _count() -> int:
    """The threads the program started that still run: greenthreads of ``start_new_thread``, and OS threads
    (the thread pool's are the runtime's, as the hub is)."""
    return len(_running) - tpool.os_threads() + _os_threads()  # (in this order: a start under way is waited for)


def get_native_id() -> int:
    """A greenthread has no kernel thread id of its own: its ident stands in (the main greenlet keeps the real one)."""
    return _os_native_id() if greenlet.getcurrent().parent is None else get_ident()


def interrupt_main(signum: int = signal.SIGINT, /) -> None:
    """``_thread.interrupt_main``: as if ``signum`` arrived in the main thread, whose main greenlet gets what its
    handler raises (``KeyboardInterrupt``). From a greenthread, the real one would run the handler in the caller."""
    handler = signal.getsignal(signum)  # (a bad number: the stdlib's ValueError)
    hub = get_hub()
    if hub.thread_id != threading.main_thread().ident or greenlet.getcurrent() is hub.main:
        return _os_interrupt_main(signum)
    if callable(handler):  # (SIG_IGN and SIG_DFL: nothing, as the stdlib)
        try:
            handler(signum, hub.main.gr_frame)
        except BaseException as e:
            hub.schedule(functools.partial(hub.main.throw, e))
            sleep(0)  # (let it happen before we go on, as a kill does)


def _release_at_end(_gt: GreenThread, lock: LockType) -> None:
    if lock.locked():
        lock.release()


def _set_sentinel() -> LockType:
    """A lock (``threading`` acquires it) that is released when this greenthread ends: ``Thread.join`` waits on it."""
    lock = allocate_lock()
    if isinstance(gt := getcurrent(), GreenThread):  # (not a main greenlet: _MainThread's is released at exit)
        gt.link(_release_at_end, lock)
    return lock


def _bootstrap(function: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    _running.add(me := getcurrent())
    try:
        function(*args, **kwargs)
    except SystemExit:
        pass  # ends the thread, as _thread does
    except BaseException as e:  # reported as _thread reports it (sys.unraisablehook), and the thread ends
        sys.unraisablehook(
            _Unraisable((type(e), e, e.__traceback__, "Exception ignored in thread started by", function))
        )
    finally:
        _running.discard(me)


def start_new_thread(function: Callable[..., Any], args: tuple, kwargs: dict | None = None) -> int:
    """Start ``function(*args, **kwargs)`` in a new greenthread; return its ident."""
    if not callable(function):
        raise TypeError("first arg must be callable")
    if not isinstance(args, tuple):
        raise TypeError("2nd arg must be a tuple")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError("optional 3rd arg must be a dictionary")
    return id(spawn(_bootstrap, function, args, kwargs or {}))


# Thread-local storage: the stdlib's pure-Python ``_threading_local`` keys its dicts on
# ``threading.current_thread()``, which after patching is one object per greenthread.
local = _threading_local.local
_local = local
