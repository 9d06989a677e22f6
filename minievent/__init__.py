"""minievent: a small, complete greenthread library you can read -- and watch.

An epoll hub, greenthreads, timeouts and sync primitives with eventlet's names,
built to be read line by line alongside the lessons in ``notebooks/``.

    import minievent

    def worker(n):
        minievent.sleep(0.1)
        return n * 2

    pool = minievent.GreenPool()
    print(list(pool.imap(worker, range(5))))
"""

from greenlet import GreenletExit

from . import debug, tpool  # noqa: F401  (minievent.debug.blocking_detection, minievent.tpool.execute: no second import)
from .convenience import StopServe, connect, listen, serve, wrap_ssl
from .event import Event
from .greenio import GreenSocket, create_connection, trampoline
from .greenthread import GreenThread, getcurrent, kill, sleep, spawn, spawn_after, spawn_n
from .hub import BlockingSwitchOutError, LoopExit, get_hub
from .patcher import import_patched, monkey_patch
from .pool import GreenPile, GreenPool
from .queue import Empty, Full, LightQueue, Queue
from .recording import Timeline, record
from .semaphore import BoundedSemaphore, CappedSemaphore, Semaphore
from .timeout import Timeout, is_timeout, with_timeout, wrap_is_timeout

__version__ = "0.1.0"

__all__ = [
    "BlockingSwitchOutError",
    "BoundedSemaphore",
    "CappedSemaphore",
    "Empty",
    "Event",
    "Full",
    "GreenPile",
    "GreenPool",
    "GreenSocket",
    "GreenThread",
    "GreenletExit",
    "LightQueue",
    "LoopExit",
    "Queue",
    "Semaphore",
    "StopServe",
    "Timeline",
    "Timeout",
    "connect",
    "create_connection",
    "getcurrent",
    "get_hub",
    "kill",
    "listen",
    "import_patched",
    "monkey_patch",
    "record",
    "serve",
    "sleep",
    "spawn",
    "spawn_after",
    "spawn_n",
    "trampoline",
    "is_timeout",
    "with_timeout",
    "wrap_ssl",
    "wrap_is_timeout",
]
