"""Green ``queue``: ``Queue``, ``LifoQueue`` and ``PriorityQueue`` need nothing.

They are pure Python on ``threading.Lock`` and ``Condition``, looked up when a
queue is made, so once ``threading`` is green, so are they. Only
``SimpleQueue`` is C (it blocks the OS thread); the stdlib ships a pure-Python
twin on ``threading.Semaphore``, which is green, and ``monkey_patch`` puts it in.
"""

import queue

PATCHES = {"_queue": {"SimpleQueue": queue._PySimpleQueue}, "queue": {"SimpleQueue": queue._PySimpleQueue}}  # type: ignore
