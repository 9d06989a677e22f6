"""The stdlib's ``os`` module, green: ``waitpid`` parks the greenthread, not the OS thread.

The kernel offers no fd to wait on for "a child exited" (short of SIGCHLD
handling, which belongs to the program), so, as eventlet does, the green
``waitpid`` asks with ``WNOHANG`` and sleeps green between tries, backing off
to 50 ms. ``subprocess.Popen.wait()`` calls ``os.waitpid`` at call time, so it
is green once this is patched in.
"""

import os as _os

from ..greenthread import sleep

globals().update({k: v for k, v in vars(_os).items() if not k.startswith("__")})
_real_waitpid = _os.waitpid


def waitpid(pid: int, options: int, /) -> tuple[int, int]:
    delay = 0.001
    while True:
        got = _real_waitpid(pid, options | _os.WNOHANG)
        if got != (0, 0) or options & _os.WNOHANG:
            return got
        sleep(delay := min(delay * 2, 0.05))


PATCHES = {"os": {"waitpid": waitpid}}
