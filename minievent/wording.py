"""Park reasons in words: the analysis's wording, which the hub borrows to word ``LoopExit``.

A greenthread parks saying why as a cheap tuple, ``(kind, what)``: ``("sleep", 0.5)``,
``("read", 7)``, ``("wait", an_event)``... The hub and the captures keep the tuple; it
becomes text only here, when somebody reads a recording (or a ``LoopExit``). Every kind a
primitive parks with has its words (tests/test_wording.py reads every park site of the core).
This module imports nothing of minievent's, so both the hub and the recording wing can use it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["WORDING", "why_text"]


def _a(obj: Any) -> str:
    name = type(obj).__name__
    return f"{'an' if name[0] in 'AEIOU' else 'a'} {name} (id 0x{id(obj):x})"


def _seconds(s: Any) -> str:
    return f"sleep({s:g})" if isinstance(s, (int, float)) else f"sleep({s})"


#: Each kind of park reason -> the words for what it waits on.
WORDING: dict[str, Callable[[Any], str]] = {
    "sleep": _seconds,  # greenthread.sleep; eventlet's, gevent's, asyncio's sleep
    "read": "read on fd {}".format,  # a socket or fd not readable yet (greenio, trampoline)
    "write": "write on fd {}".format,
    "fd": "fd {} ready".format,  # (a cause of readiness: the poll reported it)
    "wait": lambda ev: f"{_a(ev)} to be sent",  # Event.wait
    "acquire": lambda sem: f"{_a(sem)} to be released",  # Semaphore, BoundedSemaphore, CappedSemaphore
    "lock": lambda lock: f"a green lock (id 0x{id(lock):x}) to be released",  # threading.Lock under monkey_patch
    "select": lambda n: f"select() on {n} fd{'s' if n != 1 else ''}",  # green select.select
    "get": lambda q: f"an item from an empty {type(q).__name__} (id 0x{id(q):x})",  # Queue.get, pools.Pool.get
    "put": lambda q: f"room in a full {type(q).__name__} (id 0x{id(q):x})",  # Queue.put
    "join": lambda q: f"{type(q).__name__}.join() (id 0x{id(q):x})",  # Queue.join
    "greenthread": lambda gt: f"greenthread {gt.name!r} to finish",  # GreenThread.wait
    "tpool": lambda fn: f"tpool.execute({getattr(fn, '__qualname__', fn)!r})",  # a call in a real thread
}


def why_text(why: Any) -> str | None:
    """A park reason in words: ``("sleep", 0.5)`` -> "sleep(0.5)", ``("read", 7)`` -> "read on fd 7".

    Strings (``sleep(0)``'s ``YIELD``, a capture's own words such as the caller eventlet's hub
    switched from) are kept; a kind without words is shown as its parts.
    """
    if why is None or isinstance(why, str):
        return why
    if type(why) is tuple and why:
        if why[0] == "done":  # how a lane ended, in the analysis's words already: ("done", "raised ValueError")
            return why[1]
        wording = WORDING.get(why[0])
        if wording is not None and len(why) == 2:
            return wording(why[1])
    return " ".join(map(str, why)) if isinstance(why, tuple) else str(why)
