"""``import_patched``: a fresh import of a module that sees the green modules, the stdlib left alone.

eventlet's ``patcher.import_patched`` (``minievent.patcher`` re-exports it). Apart from the patcher
because a green module uses it too: ``green.subprocess`` is the stdlib's ``subprocess`` imported this
way, and the patcher imports ``green.subprocess``.
"""

from __future__ import annotations

import types

from .originals import load

_green: dict = {}  # (name -> module) what the copies see in sys.modules' place


def import_patched(
    name: str, *additional_modules: tuple[str, types.ModuleType], **kw_additional_modules: types.ModuleType
) -> types.ModuleType:
    """A fresh import of module ``name`` that sees green ``socket``, ``ssl``, ``select``, ``selectors``, ``time``,
    ``os``, ``_thread``, ``threading`` and ``queue``, and the ``(name, module)`` pairs given, without patching the
    stdlib (eventlet's ``import_patched``); ``sys.modules`` is left as it was (see ``originals.load``)."""
    if not _green:  # made once, and every copy sees the same ones: one green threading, as eventlet's green package
        from .green import os, select, selectors, socket, ssl, thread, time  # (on first use: no import-time cost)

        _green.update(socket=socket, ssl=ssl, select=select, selectors=selectors, time=time, os=os, _thread=thread)
        _green["threading"] = load("threading", _green)
        _green["queue"] = load("queue", _green)
    return load(name, {**_green, **dict(additional_modules), **kw_additional_modules})
