"""The hub's doorbell: an fd that other OS threads write to, to wake a hub blocked in poll.

``eventfd`` where the OS has it (one fd, one 8-byte counter), else a pipe.
The hub registers it like any other fd but does not count it when it asks
"could anything still wake the main greenlet?": a doorbell nobody will ring
delivers nothing.
"""

from __future__ import annotations

import os


class Waker:
    def __init__(self) -> None:
        if hasattr(os, "eventfd"):
            self._r = self._w = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        else:
            self._r, self._w = os.pipe()
            os.set_blocking(self._r, False)
            os.set_blocking(self._w, False)

    def fileno(self) -> int:
        return self._r

    def wake(self) -> None:
        try:
            if self._r == self._w:
                os.eventfd_write(self._w, 1)
            else:
                os.write(self._w, b"\0")
        except BlockingIOError:  # the doorbell is already ringing
            pass

    def drain(self) -> None:
        try:
            while True:
                if self._r == self._w:
                    os.eventfd_read(self._r)
                    return
                if not os.read(self._r, 4096):
                    return
        except BlockingIOError:
            pass

    def close(self) -> None:
        r, w = self._r, self._w
        self._r = self._w = -1  # a late wake() from a thread then fails with EBADF, never hits a reused fd
        os.close(r)
        if w != r:
            os.close(w)
