"""Green ``threading``: the stdlib's own module, fed the green ``_thread`` primitives.

Nothing of ``threading.py`` is rewritten. Its classes look up
``_allocate_lock``, ``get_ident``, ``_start_new_thread`` and ``_set_sentinel``
in their module's globals at call time, so ``monkey_patch`` swaps those names
(``PATCHES``) and ``RLock``, ``Condition``, ``Event``, ``Semaphore``,
``Barrier``, ``Timer`` and ``Thread`` are green from then on; ``RLock`` is the
pure-Python one (``_PyRLock``), since the C one counts OS threads. Only
``current_thread`` is new: a greenthread that ``Thread`` did not start still
gets a ``Thread`` of its own.
"""

import functools
import gc
import itertools
import threading
from collections.abc import Callable
from typing import Any

from ..greenthread import GreenThread, getcurrent
from ..hub import os_thread_id
from ..originals import original
from . import thread


def _forget(_gt: GreenThread, ident: int) -> None:
    threading._active.pop(ident, None)  # (its Thread leaves threading's table when it ends)


class _GreenThread(threading._DummyThread):  # type: ignore[name-defined]
    """The ``Thread`` of a greenthread that ``Thread`` did not start (eventlet's name): daemon, named
    ``GreenThread-N``, its ``ident`` the greenthread's; ``is_alive()`` and ``join()`` follow the greenthread.
    It leaves ``threading._active`` when the greenthread ends (the stdlib's dummy stays: a leak per request)."""

    _numbers = itertools.count(1)
    _stop = threading.Thread._stop
    is_alive = threading.Thread.is_alive
    join = threading.Thread.join

    def __init__(self, gt: GreenThread) -> None:
        super().__init__()
        self.name = f"GreenThread-{next(self._numbers)}"
        self._tstate_lock = thread._set_sentinel()  # released when the greenthread ends: what join() waits on
        self._tstate_lock.acquire()
        gt.link(_forget, self._ident)


def current_thread() -> threading.Thread:
    """This greenthread's ``Thread``. One of ``_thread.start_new_thread`` gets the stdlib's dummy, kept as the
    stdlib keeps it; a raw greenlet gets its OS thread's; an OS thread that the patched module did not start
    (``tpool``'s, ``patcher.original("threading")``'s) gets the original module's."""
    if isinstance(gt := getcurrent(), GreenThread):
        return threading._active.get(id(gt)) or (
            threading._DummyThread() if gt in thread._running else _GreenThread(gt)
        )
    return threading._active.get(os_thread_id()) or original("threading").current_thread()


def patch() -> None:
    """What ``monkey_patch(thread=True)`` does beyond ``PATCHES``, to what was made before it.

    A forked child goes on running every greenthread (they live in the forking OS thread), but the stdlib's
    after-fork hook marks every other ``Thread`` stopped, so ``join()`` would return while it runs; the hook is
    registered already (``os.register_at_fork``), so its code is emptied, as eventlet does.

    RLocks made before patching (``logging``'s module lock and each handler's, a class attribute) are C ones
    that block the OS thread. Each free one that a dict, a list, a class or an object's attributes holds is
    swapped for a green one. A held one, and one held where nothing can be rewritten (a local variable, a
    tuple, a ``Condition`` made on it, which keeps its bound methods), stays as it was.
    """
    threading._after_fork.__code__ = (lambda: None).__code__
    old = [o for o in gc.get_objects() if type(o) is _CRLock and not o._is_owned() and o.acquire(False)]
    new = {id(o): o.release() or RLock() for o in old}  # (held by no OS thread: acquire(False) said so)
    for lock in new.values():
        lock._block = thread.allocate_lock()  # (made before patching: _PyRLock() took a C lock)

    def swap(items: Any, put: Callable[[Any, Any], Any]) -> None:
        for key, value in list(items):
            if id(value) in new:
                put(key, new[id(value)])

    # A class's own dict is written through setattr (its attribute cache); issubclass never asks the object.
    classes = (
        {
            id(d): t
            for t in gc.get_objects()
            if issubclass(type(t), type)
            for d in gc.get_referents(t)
            if type(d) is dict
        }
        if old
        else {}
    )
    for holder in gc.get_referrers(*old):
        if isinstance(holder, list) and holder is not old:
            swap(enumerate(holder), holder.__setitem__)
        elif isinstance(holder, dict):
            cls = classes.get(id(holder))
            swap(holder.items(), holder.__setitem__ if cls is None else functools.partial(setattr, cls))
        elif not isinstance(holder, type) and isinstance(getattr(holder, "__dict__", None), dict):
            swap(vars(holder).items(), functools.partial(setattr, holder))  # (attributes kept without a dict)


_CRLock = threading._CRLock  # (before patching: PATCHES replaces it)
# The pure-Python RLock, built on whatever _allocate_lock and get_ident are: green ones, after this.
RLock = threading._PyRLock  # type: ignore[attr-defined]
_BOTH = {"get_ident": thread.get_ident, "get_native_id": thread.get_native_id, "_set_sentinel": thread._set_sentinel}
PATCHES: dict[str, dict[str, Any]] = {
    "_thread": {
        **_BOTH,
        "allocate_lock": thread.allocate_lock,
        "LockType": thread.LockType,
        "start_new_thread": thread.start_new_thread,
        "_local": thread.local,
        "RLock": RLock,
        "_count": thread._count,
        "interrupt_main": thread.interrupt_main,
    },
    "threading": {
        **_BOTH,
        "_allocate_lock": thread.allocate_lock,
        "Lock": thread.allocate_lock,
        "_CRLock": RLock,
        "_start_new_thread": thread.start_new_thread,
        "local": thread.local,
        "current_thread": current_thread,
    },
    "_threading_local": {"current_thread": current_thread},  # (it copied the name at import: thread.local's key)
}
