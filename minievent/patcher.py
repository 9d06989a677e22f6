"""monkey_patch: make unmodified stdlib code cooperative, by patching the stdlib in place.

``urllib.request`` calls ``http.client``, which calls
``socket.create_connection``, which calls ``socket.socket(...)``: a name
looked up in the ``socket`` module *at call time*. Replace that one
attribute with ``GreenSocket`` and every layer above is green, without a line
of it changing. The same goes for ``time.sleep`` and ``select.select``, and
for the selector classes that ``socketserver`` and ``subprocess`` wait in.

What it cannot reach: names copied out *before* patching (``from time import
sleep`` done earlier, or ``socketserver`` imported earlier, which picked its
selector class at import). So patch first, at the top of the program, as
with eventlet. Blocking C code (a database driver, DNS lookups in
``getaddrinfo``) stays blocking: that is what ``tpool`` is for.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

__all__ = ["monkey_patch", "is_monkey_patched", "original"]

# module name -> {attribute: its value before we patched it}
_saved: dict[str, dict[str, Any]] = {}
_originals: dict[str, types.ModuleType] = {}
_MISSING = object()


def _patch(modname: str, attrs: dict[str, Any]) -> None:
    module = importlib.import_module(modname)
    saved = _saved.setdefault(modname, {})
    for name, value in attrs.items():
        if name not in saved:  # patching twice must not save our own patch as "original"
            saved[name] = getattr(module, name, _MISSING)
        if value is not _MISSING:
            setattr(module, name, value)
        elif hasattr(module, name):  # _MISSING: remove it (select.epoll, as eventlet does)
            delattr(module, name)


def monkey_patch(socket: bool | None = None, time: bool | None = None, select: bool | None = None) -> None:
    """Patch ``socket``, ``time`` and ``select`` (+ ``selectors``) in place; harmless to call twice.

    As in eventlet: with no arguments everything is patched; naming some with
    ``True`` patches only those; naming some with ``False`` patches all but those.
    """
    flags = {"socket": socket, "time": time, "select": select}
    default = not any(v for v in flags.values())
    wanted = {k for k, v in flags.items() if (default if v is None else v)}
    # Import the green modules before patching: they capture the real objects.
    if "socket" in wanted:
        from .green import socket as gsocket
        from .green import ssl as gssl

        _patch("socket", gsocket.PATCHED)
        _saved.setdefault("ssl", {})  # (ssl's one change is a class attribute: gssl.patch)
        gssl.patch()
    if "time" in wanted:
        from .green.time import sleep

        _patch("time", {"sleep": sleep})
    if "select" in wanted:
        from .green import select as gselect
        from .green import selectors as gselectors

        _patch("select", {"select": gselect.select, "poll": gselect.poll, **dict.fromkeys(gselect.REMOVED, _MISSING)})
        _patch("selectors", gselectors.PATCHED)


def is_monkey_patched(name: str) -> bool:
    """Whether ``monkey_patch`` has patched the module ``name`` (``"socket"``, ``"time"``, ...)."""
    return name in _saved


def original(name: str) -> types.ModuleType:
    """The module ``name`` as it was before patching (the module itself if it was never patched).

    For a C module (``time``, ``select``) a copy with the saved attributes put
    back is exact. ``socket`` is Python code whose methods look names up at
    call time (``socket.accept`` calls the module's ``socket``), so a copy
    would still build green sockets: it is loaded afresh from its source.
    """
    if name not in _saved:
        return importlib.import_module(name)
    if name in _originals:
        return _originals[name]
    live = sys.modules[name]
    if name == "socket":
        private = f"minievent._original_{name}"
        spec = importlib.util.spec_from_file_location(private, live.__file__)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[private] = module  # the enum setup in socket.py looks itself up there
        spec.loader.exec_module(module)
    else:
        module = types.ModuleType(name, live.__doc__)
        module.__dict__.update(live.__dict__)
        for attr, value in _saved[name].items():
            if value is _MISSING:
                module.__dict__.pop(attr, None)
            else:
                module.__dict__[attr] = value
    _originals[name] = module
    return module
