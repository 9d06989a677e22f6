"""The flight recorder's sidecar: a process of its own for what must not run in the program's process.

Two of the recorder's outputs need big libraries: the metrics endpoint (``prometheus_client``) and
an incident's picture (matplotlib). The program's process may import neither:

* not before the program runs: both import ``threading``, ``socket`` and ``ssl`` (matplotlib
  ``logging`` too) and make locks, which the program's ``monkey_patch()`` must see first;
* not while it runs, from one of the recorder's threads: eventlet's patcher holds the
  interpreter's global import lock while it imports (``patcher.inject``, as
  ``eventlet.support.greendns`` imports dnspython), and an import in another thread that holds a
  module's lock and then needs the global one waits for ever, and the program with it. (A
  service under ``--metrics-port`` hung so, scraped while it imported eventlet.) So once the
  program runs, the recorder's threads import nothing.

Those two run in a fresh interpreter, ``python -m minievent.recording.sidecar_process``, started
when the recorder is armed. It is handed the metrics endpoint's listening socket (bound when arming, so
that a port in use is refused before the program starts) and one end of a socket pair, over
which the recorder sends, as ``marshal``'d tuples:

* ``("metrics", snapshot)``: the metrics' numbers (``Metrics.snapshot()``), when they changed;
* ``("draw", folder)``: an incident written there, whose picture the sidecar draws;
* ``("bye",)``: the program has ended; the sidecar answers ``("bye",)`` once it has drawn
  everything asked before;

and the sidecar answers ``("drawn", folder)``, or ``("error", text)`` once, when a part of it
stands down. Sending never blocks the recorder: a message that does not fit is dropped (a
metrics snapshot; the next one replaces it) or reported (a picture).

The sidecar is not the program's child: it forks at once and its first process exits (reaped
here, while arming), so the program's ``os.wait()`` never sees it and no ``SIGCHLD`` from it
reaches the program. It runs in a session of its own (a Ctrl-C in the terminal is the program's,
not the sidecar's), niced, its standard streams on /dev/null, and it ends when the program's
process does: its end of the pair reads EOF.
"""

from __future__ import annotations

import _socket
import marshal
import os
import sys
import time
from typing import Any

__all__ = ["Sidecar", "SIDECAR_MODULE"]

SIDECAR_MODULE = "minievent.recording.sidecar_process"
#: the largest message either side sends or reads
MAX_MESSAGE = 1 << 20
#: the sidecar's first process forks and exits: arming waits at most this long for it
_LAUNCH_TIMEOUT = 10.0

# Fork at once, before anything is imported (the first process's exit is all arming waits for),
# then become a session of its own and run the sidecar's module as __main__.
_LAUNCHER = (
    "import os\n"
    "if os.fork():\n"
    "    os._exit(0)\n"
    "os.setsid()\n"
    "import runpy\n"
    f"runpy.run_module({SIDECAR_MODULE!r}, run_name='__main__', alter_sys=True)\n"
)


class Sidecar:
    """The recorder's end: ``start()`` launches the sidecar; ``send``, ``messages``, ``finish``.

    Everything here runs in the program's process and uses only what is imported already
    (``_socket``, ``marshal``, ``os``): it may run in the recorder's watchdog thread.
    """

    def __init__(self, listener: Any = None, draw: bool = True, python: str | None = None) -> None:
        self.listener = listener  # a bound, listening _socket.socket, or None: no metrics endpoint
        self.draw = draw
        self.python = python if python is not None else sys.executable
        self._chan: Any = None
        self.pending: set[str] = set()  # folders whose picture was asked for and not drawn yet
        self.errors: list[str] = []
        self.closed = False

    def start(self) -> Sidecar:
        """Launch it (OSError if it cannot be started); the listening socket is its own from now on."""
        if not self.python:
            raise OSError("no Python interpreter to run the sidecar (sys.executable is empty)")
        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        # The sidecar inherits its end of the pair and the listening socket for the length of the spawn
        # (the program's process runs nothing else yet); it is told their numbers.
        handed = [theirs.fileno()] + ([self.listener.fileno()] if self.listener is not None else [])
        try:
            ours.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDBUF, MAX_MESSAGE)
            argv = [self.python, "-c", _LAUNCHER, "--channel", str(handed[0])]
            if self.listener is not None:
                argv += ["--listen", str(handed[1])]
            if self.draw:
                argv.append("--draw")
            actions = [
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
            ]
            for fd in handed:
                os.set_inheritable(fd, True)
            pid = os.posix_spawn(self.python, argv, _environment(), file_actions=actions)
            _reap(pid)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
            if self.listener is not None:
                self.listener.close()  # (the sidecar has its own copy; the program's process keeps none)
                self.listener = None
        ours.setblocking(False)
        self._chan = ours
        return self

    # ------------------------------------------------------------ talking
    def send(self, *message: Any) -> bool:
        """Send one message without waiting; False if it was not sent (the sidecar is busy or gone)."""
        if self._chan is None:
            return False
        try:
            self._chan.send(marshal.dumps(message))
        except BlockingIOError:
            return False
        except OSError as e:
            self._gone(f"the sidecar cannot be reached ({e.strerror or e})")
            return False
        if message[0] == "draw":
            self.pending.add(message[1])
        return True

    def messages(self) -> list[tuple]:
        """What the sidecar said since the last call (never waits)."""
        out = []
        while self._chan is not None:
            message = self._receive()
            if message is None:
                break
            out.append(message)
        return out

    def finish(self, timeout: float = 30.0) -> list[tuple]:
        """Say the program has ended and wait (at most ``timeout`` s) until every picture asked for is drawn."""
        out = self.messages()
        if self._chan is None or not self.send("bye"):
            return out
        deadline = time.monotonic() + timeout
        try:
            while self._chan is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.errors.append(f"the sidecar did not finish within {timeout:g} s")
                    break
                self._chan.settimeout(left)
                message = self._receive()
                if message is not None and message[0] == "bye":
                    break
                if message is not None:
                    out.append(message)
        finally:
            self.close()
        return out

    def _receive(self) -> tuple | None:
        """One message; None when there is none yet, or the sidecar is gone (said in ``errors``)."""
        try:
            data = self._chan.recv(MAX_MESSAGE)
        except (BlockingIOError, TimeoutError):
            return None
        except OSError as e:
            self._gone(f"the sidecar cannot be reached ({e.strerror or e})")
            return None
        if not data:
            self._gone("the sidecar ended")
            return None
        return self._take(data)

    def close(self) -> None:
        chan, self._chan = self._chan, None
        if chan is not None:
            chan.close()
        self.closed = True

    def _take(self, data: bytes) -> tuple:
        message = marshal.loads(data)
        if message[0] == "drawn":
            self.pending.discard(message[1])
        elif message[0] == "error":
            self.errors.append(message[1])
        return message

    def _gone(self, why: str) -> None:
        if self._chan is not None:
            if self.pending:
                why += f"; {len(self.pending)} picture(s) not drawn"
            self.errors.append(why)
            self.close()


def _environment() -> dict[str, str]:
    """The program's environment, with this minievent first on the sidecar's path."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    return env


def _reap(pid: int) -> None:
    """Wait for the sidecar's first process, which forks and exits at once."""
    deadline = time.monotonic() + _LAUNCH_TIMEOUT
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            if code != 0:
                raise OSError(f"the sidecar could not start (its launcher exited {code})")
            return
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise OSError(f"the sidecar did not start within {_LAUNCH_TIMEOUT:g} s")
        time.sleep(0.002)
