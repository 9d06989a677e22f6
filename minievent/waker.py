"""The hub's doorbell: an fd that other OS threads write to, to wake a hub blocked in poll.

``eventfd`` where the OS has it (one fd, one 8-byte counter), else a pipe.
The hub registers it like any other fd but does not count it when it asks
"could anything still wake the main greenlet?": a doorbell nobody will ring
delivers nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys

#: One ring: an eventfd adds this 8-byte 1 to its counter, a pipe just holds it.
_ONE = (1).to_bytes(8, sys.byteorder)


class Waker:
    def __init__(self) -> None:
        if hasattr(os, "eventfd"):
            fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)  # (one fd, read and written)
            self._r = fd
            self._w = fd
        else:
            self._r, self._w = os.pipe()
            os.set_blocking(self._r, False)
            os.set_blocking(self._w, False)

    def fileno(self) -> int:
        return self._r

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError):  # the doorbell is already ringing
            os.write(self._w, _ONE)

    def drain(self) -> None:
        # An eventfd hands its whole counter to the first read; a pipe gives what it holds.
        with contextlib.suppress(BlockingIOError):  # (empty now)
            while os.read(self._r, 4096):
                pass

    def close(self) -> None:
        fds, self._r, self._w = {self._r, self._w}, -1, -1  # a late wake() then fails with EBADF, not on a reused fd
        for fd in fds:  # (one eventfd, or a pipe's two ends)
            os.close(fd)
