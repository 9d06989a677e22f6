"""monkey_patch: make unmodified stdlib code cooperative, by patching the stdlib in place.

``urllib.request`` calls ``http.client``, which calls
``socket.create_connection``, which calls ``socket.socket(...)``: a name
looked up in the ``socket`` module *at call time*. Replace that one
attribute with ``GreenSocket`` and every layer above is green, without a line
of it changing. The same goes for ``time.sleep`` and ``select.select``, for
the selector classes that ``socketserver`` and ``subprocess`` wait in, and
for the handful of ``_thread`` primitives that all of ``threading`` and
``queue`` are built from (see ``green/thread.py``).

What it cannot reach: names copied out *before* patching (``from time import
sleep`` done earlier, a ``threading.Lock()`` made earlier). So patch first,
at the top of the program, as with eventlet. (The selector classes that
``socketserver`` and ``subprocess`` pick at import are greened in place, so an
early import of those two is green anyway.) C database drivers stay
blocking: that is what ``tpool`` is for.
"""

from __future__ import annotations

from typing import Any

from .fresh import import_patched
from .originals import MISSING, already_patched, is_monkey_patched, original, replace

__all__ = ["monkey_patch", "is_monkey_patched", "original", "import_patched", "already_patched"]

Flag = bool | None  #: a monkey_patch argument: True, False, or None (not named)
#: What no green module can fix: asked for by name (``MySQLdb=True``), they raise ValueError.
_CANNOT = {"psycopg": "psycopg2's C code", "MySQLdb": "mysqlclient's C code", "builtins": "file I/O on disk"}


def _table(flag: str) -> dict[str, dict[str, Any]]:
    """What patching ``flag`` does: {stdlib module: {attribute: green value}}, in the order to apply it."""
    from .green import os, queue, select, selectors, socket, ssl, threading, time  # (first: they capture the originals)

    if flag == "socket":
        ssl.patch()  # ssl's one change is a class attribute; "ssl" below only marks it patched, after socket
    elif flag == "select":
        selectors.patch()  # (the stdlib's classes, in place, for who picked one before)
    elif flag == "thread":
        threading.patch()  # (fork, and the RLocks made before)
    elif flag == "subprocess":  # (imported only now: it makes a green copy of subprocess)
        from .green import subprocess

        return {**os.PATCHES, "subprocess": subprocess.PATCHED}
    removed = dict.fromkeys(select.REMOVED, MISSING)  # (select.epoll and the like: deleted, as eventlet does)
    return {
        "socket": {"socket": socket.PATCHED, "ssl": {}},
        "time": {"time": {"sleep": time.sleep}},
        "select": {"select": {"select": select.select, "poll": select.poll, **removed}, "selectors": selectors.PATCHED},
        "thread": {**threading.PATCHES, **queue.PATCHES},
    }.get(flag, os.PATCHES)  # os: os.waitpid, os.read, os.write


def monkey_patch(
    all: Flag = None,
    os: Flag = None,
    select: Flag = None,
    socket: Flag = None,
    thread: Flag = None,
    time: Flag = None,
    psycopg: Flag = None,
    MySQLdb: Flag = None,
    builtins: Flag = None,
    subprocess: Flag = None,
) -> None:
    """Patch the stdlib in place, with eventlet's arguments; harmless to call twice.

    As in eventlet: with no arguments everything is patched; naming some with
    ``True`` patches only those; naming some with ``False`` patches all but
    those; ``all`` sets the default for the ones not named. ``thread`` greens
    ``_thread``, ``threading`` and ``queue`` (and the RLocks made before, see
    ``green.threading.patch``); ``os`` and ``subprocess`` green ``os.waitpid``,
    ``os.read`` and ``os.write``, ``subprocess`` also ``Popen.communicate``
    (``green.subprocess``). ``psycopg``,
    ``MySQLdb`` and ``builtins`` name C code that cannot be made green: by
    default they are left alone (a no-op, as eventlet does when the driver is
    absent); asked for with ``True`` they raise ``ValueError``.
    """
    flags = {name: on for name, on in locals().items() if name != "all"}  # (in the order of the arguments)
    if asked := [n for n in _CANNOT if flags[n]]:
        raise ValueError(
            f"monkey_patch({asked[0]}=True): {_CANNOT[asked[0]]} blocks, and minievent cannot make it "
            "green; use a pure-Python driver (PyMySQL is green with socket=True) or tpool.execute"
        )
    default = not any(v for v in flags.values()) if all is None else bool(all)
    for flag, on in flags.items():
        if flag not in _CANNOT and (default if on is None else on):
            for modname, attrs in _table(flag).items():  # import the green modules first: they capture the real objects
                replace(modname, attrs)
            already_patched[flag] = True
