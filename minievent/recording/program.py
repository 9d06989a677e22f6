"""Run a program as ``python`` would, inside a tool: ``script.py``, ``-m module`` or a console script.

The tools that watch a program (``flight``, ``trace``) run it in their own process, as
cProfile does, so that its loop is theirs to record. What the program sees must be what it
would see without them: ``sys.argv`` (``[script, *args]``, or the module's file for ``-m``),
``sys.path[0]`` (the script's folder, or the current folder for ``-m``), ``__main__``; and
what the user sees of its end must be its own: the exit status ``python`` would give, an
uncaught exception printed by ``sys.excepthook`` without the tool's frames, ``sys.exit("text")``
printing the text.

    target = Target.parse(["-m", "http.server", "8000"])    # ValueError before anything runs
    status = target.run()                                  # the exit status python would give
"""

from __future__ import annotations

import importlib.util
import os
import runpy
import sys
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Target", "exit_status", "split"]


@dataclass(frozen=True)
class Target:
    """What to run: a file (a script, or a console script such as ``bin/nova-compute``) or a module."""

    path: str | None
    module: str | None
    args: tuple[str, ...]

    @classmethod
    def parse(cls, argv: Sequence[str]) -> Target:
        """``[script, *args]`` or ``["-m", module, *args]``; ValueError (one line) if it cannot run."""
        argv = list(argv)
        if not argv:
            raise ValueError("no program given: name a script, -m module, or a console script")
        if argv[0] == "-m":
            if len(argv) < 2 or not argv[1]:
                raise ValueError("-m needs a module name")
            module = argv[1]
            try:
                spec = importlib.util.find_spec(module)
            except (ImportError, ValueError) as e:  # a parent package that does not import, a relative name
                raise ValueError(f"-m {module}: {e}")
            if spec is None:
                raise ValueError(f"-m {module}: no module named {module!r}")
            return cls(None, module, tuple(argv[2:]))
        if argv[0].startswith("-m") and len(argv[0]) > 2:  # -mhttp.server, as python accepts
            return cls.parse(["-m", argv[0][2:], *argv[1:]])
        path = argv[0]
        if not os.path.exists(path):
            raise ValueError(f"{path}: no such file")
        if not os.path.isfile(path) and not os.path.isfile(os.path.join(path, "__main__.py")):
            raise ValueError(f"{path}: not a file (nor a folder with __main__.py)")
        if not os.access(path, os.R_OK):
            raise ValueError(f"{path}: not readable")
        return cls(path, None, tuple(argv[1:]))

    @property
    def name(self) -> str:
        """How reports name the program: the script's file name, or the module."""
        return self.module if self.module else os.path.basename(self.path or "")

    def run(self) -> int:
        """Run it as ``__main__`` in this process; return the exit status ``python`` would give.

        An uncaught exception goes through ``sys.excepthook`` (the program may have set its own)
        with the traceback from the program's first frame on, and gives status 1, as ``python``.
        """
        old_argv, old_path0 = sys.argv[:], sys.path[0] if sys.path else None
        if self.module:
            sys.argv[:] = [self.module, *self.args]  # runpy puts the module's file in argv[0]
            sys.path[0:1] = [os.getcwd()]
        else:
            path = os.path.abspath(self.path or "")
            sys.argv[:] = [self.path or "", *self.args]
            sys.path[0:1] = [path if os.path.isdir(path) else os.path.dirname(path)]
        try:
            if self.module:
                runpy.run_module(self.module, run_name="__main__", alter_sys=True)
            else:
                runpy.run_path(self.path or "", run_name="__main__")
        except SystemExit as e:
            return exit_status(e)
        except BaseException as e:
            _print_uncaught(e)
            return 130 if isinstance(e, KeyboardInterrupt) else 1
        finally:
            sys.argv[:] = old_argv
            if old_path0 is not None and sys.path:
                sys.path[0] = old_path0
        return 0


def split(argv: Sequence[str], valued: set[str], flags: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """A tool's own options, and the program with its arguments: from the first token that is not one
    of the tool's (``script.py``, ``-m``, a console script), or after ``--``.

    ``valued``: the tool's options that take a value (``--dir DIR`` or ``--dir=DIR``); ``flags``: those
    that do not (``-h`` and ``--help`` are always the tool's).
    """
    argv = list(argv)
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in valued:
            i += 2
        elif token.split("=", 1)[0] in valued or token in ("-h", "--help", *flags):
            i += 1
        elif token == "--":
            return argv[:i], argv[i + 1 :]
        else:
            break
    return argv[:i], argv[i:]


def exit_status(e: SystemExit) -> int:
    """The status ``python`` exits with for ``e`` (printing a non-int code to stderr, as it does)."""
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF if code >= 0 else code % 256
    print(code, file=sys.stderr, flush=True)
    return 1


def _print_uncaught(e: BaseException) -> None:
    """Print as ``python`` prints an uncaught exception: the program's frames only, through excepthook."""
    tb = e.__traceback__
    # Skip this module's frames and runpy's: the first frame left is the program's own.
    while tb is not None and tb.tb_frame.f_code.co_filename in (__file__, runpy.__file__, "<frozen runpy>"):
        tb = tb.tb_next
    sys.excepthook(type(e), e.with_traceback(tb), tb)
