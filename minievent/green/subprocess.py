"""The stdlib's ``subprocess`` module, green without ``monkey_patch``: eventlet's ``green.subprocess``.

It is the stdlib's source, imported afresh (``patcher.import_patched``) so that
its ``os.waitpid`` is the green one (``Popen.wait()`` parks the greenthread)
and ``communicate()`` waits in a green selector. One method is changed, in this
copy and, by ``monkey_patch``, in the stdlib's module (``PATCHED``): without a
timeout, the stdlib's ``communicate()`` reads a lone ``stdout`` or ``stderr``
pipe straight, to its end, which blocks the OS thread for the child's whole life
(``check_output``), and writes a lone ``stdin`` straight, which blocks it while
the child leaves more than a pipe's buffer (64 KiB) unread; here a lone pipe takes
the path it takes with a timeout, through the selector.
"""

import subprocess as _std
from typing import Any

from ..fresh import import_patched
from . import slurp_properties


class _Communicate:
    def communicate(self, input: Any = None, timeout: float | None = None) -> tuple[Any, Any]:
        """``Popen.communicate``; a lone pipe is read or written in the selector (see the module)."""
        pipes = [pipe for pipe in (self.stdin, self.stdout, self.stderr) if pipe is not None]
        if timeout is not None or self._communication_started or len(pipes) != 1 or pipes[0].closed:
            return super().communicate(input, timeout)  # type: ignore[misc]
        try:
            return self._communicate(input, None, None)  # (it waits for the process, too)
        finally:
            self._communication_started = True


_copy = import_patched("subprocess")
_copy.Popen = type("Popen", (_Communicate, _copy.Popen), {"__module__": __name__})  # (run() finds it there)
slurp_properties(_copy, globals())
PATCHED = {"Popen": type("Popen", (_Communicate, _std.Popen), {"__module__": __name__})}
