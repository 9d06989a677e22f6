"""Green ``threading``: the stdlib's own module, fed the green ``_thread`` primitives.

Nothing of ``threading.py`` is rewritten. Its classes look up
``_allocate_lock``, ``get_ident``, ``_start_new_thread`` and ``_set_sentinel``
in their module's globals at call time, so ``monkey_patch`` swaps those names
(``PATCHES``) and ``RLock``, ``Condition``, ``Event``, ``Semaphore``,
``Barrier``, ``Timer`` and ``Thread`` are green from then on; ``RLock`` is the
pure-Python one (``_PyRLock``), since the C one counts OS threads.
"""

import threading
from typing import Any

from ..greenthread import GreenThread, getcurrent
from . import thread


class _DummyThread(threading._DummyThread):  # type: ignore[name-defined]
    """What ``current_thread()`` makes for a greenthread that ``Thread`` did not start: it leaves
    ``threading._active`` when that greenthread ends (the stdlib's stays for good: a leak per request)."""

    def __init__(self) -> None:
        super().__init__()
        if isinstance(gt := getcurrent(), GreenThread):
            gt.link(lambda _gt, ident=self._ident: threading._active.pop(ident, None))


# The pure-Python RLock, built on whatever _allocate_lock and get_ident are: green ones, after this.
L, S, RLock, local = thread.allocate_lock, thread.start_new_thread, threading._PyRLock, thread.local  # type: ignore
_BOTH = {"get_ident": thread.get_ident, "get_native_id": thread.get_native_id, "_set_sentinel": thread._set_sentinel}
PATCHES: dict[str, dict[str, Any]] = {
    "_thread": {**_BOTH, "allocate_lock": L, "LockType": L, "start_new_thread": S, "_local": local, "RLock": RLock,
                "_count": thread._count},
    "threading": {**_BOTH, "_allocate_lock": L, "Lock": L, "_CRLock": RLock, "_start_new_thread": S,
                  "local": local, "_DummyThread": _DummyThread},
}
