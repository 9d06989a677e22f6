"""The stdlib's ``os`` module, green: ``read``, ``write`` and ``waitpid`` park the greenthread, not the OS thread.

``read`` and ``write`` on a blocking fd that is not ready (a pipe, a
terminal, a socket) wait for it in the hub first, as eventlet's do; then the
real call has something to do at once. A regular file is always ready, a
non-blocking fd keeps its ``BlockingIOError``, an fd not open for the call its
``EBADF``, and a thread without a hub has no greenthread to hold up, so those
calls are the stdlib's straight away. A
write larger than the room a pipe has still waits in the kernel for the rest,
as a blocking write does: ``os.write`` writes it all.

The kernel offers no fd to wait on for "a child exited" (short of SIGCHLD
handling, which belongs to the program), so, as eventlet does, the green
``waitpid`` asks with ``WNOHANG`` and sleeps green between tries, backing off
to 50 ms. ``subprocess.Popen.wait()`` calls ``os.waitpid`` at call time, so it
is green once this is patched in.
"""

import fcntl
import operator
import os as _os
import select as _select

from ..greenio import trampoline
from ..greenthread import sleep
from ..hub import existing_hub
from . import slurp_properties

slurp_properties(_os, globals())
_real_waitpid = _os.waitpid
_real_read = _os.read
_real_write = _os.write
_real_poll = _select.poll  # (captured before monkey_patch greens select.poll)


def _wait_until_ready(fd: int, write: bool) -> None:
    fd = operator.index(fd)  # (not an int: the stdlib's TypeError, before any wait)
    if existing_hub() is None:
        return
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    except (OSError, ValueError):
        return  # (a closed or negative fd: the real call says so)
    if flags & _os.O_NONBLOCK or flags & _os.O_ACCMODE == (_os.O_RDONLY if write else _os.O_WRONLY):
        return  # (an fd not open for it never gets ready: the real call fails, as the stdlib's)
    poll = _real_poll()
    poll.register(fd, _select.POLLOUT if write else _select.POLLIN)
    if not poll.poll(0):  # (a hang-up or an error counts as ready: the real call reports it)
        trampoline(fd, read=not write, write=write)


def read(fd: int, n: int, /) -> bytes:
    """``os.read``: at most ``n`` bytes; on a blocking fd with none yet, the greenthread waits for them."""
    if operator.index(n) > 0:  # (nothing to wait for when asked for nothing; a bad n is the stdlib's error)
        _wait_until_ready(fd, write=False)
    return _real_read(fd, n)


def write(fd: int, data: bytes, /) -> int:
    """``os.write``: on a blocking fd with no room yet, the greenthread waits for room first."""
    _wait_until_ready(fd, write=True)
    return _real_write(fd, data)


def waitpid(pid: int, options: int, /) -> tuple[int, int]:
    delay = 0.001
    while True:
        got = _real_waitpid(pid, options | _os.WNOHANG)
        if got != (0, 0) or options & _os.WNOHANG:
            return got
        sleep(delay := min(delay * 2, 0.05))


PATCHES = {"os": {"waitpid": waitpid, "read": read, "write": write}}
