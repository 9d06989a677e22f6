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

import importlib
import importlib.util
import sys
import types
from typing import Any

__all__ = ["monkey_patch", "is_monkey_patched", "original", "import_patched", "already_patched"]

# module name -> {attribute: its value before we patched it}
_saved: dict[str, dict[str, Any]] = {}
_originals: dict[str, types.ModuleType] = {}
_MISSING = object()
_c_modules: dict[str, types.ModuleType] = {}  # the patched modules written in C


# On sys.meta_path once something is patched: importing a patched C module afresh (``del sys.modules["_queue"]``,
# test.support's import_fresh_module) gives back the patched module, not a new copy of the blocking C code.
_loader = types.SimpleNamespace(create_module=lambda spec: _c_modules[spec.name], exec_module=lambda module: None)
_KeepPatched = types.SimpleNamespace(
    find_spec=lambda name, path=None, target=None: (
        importlib.util.spec_from_loader(name, _loader) if name in _c_modules else None
    )
)


def _patch(modname: str, attrs: dict[str, Any]) -> None:
    module = importlib.import_module(modname)
    if not (getattr(module, "__file__", None) or "").endswith(".py"):
        _c_modules[modname] = module
    saved = _saved.setdefault(modname, {})
    for name, value in attrs.items():
        if name not in saved:  # patching twice must not save our own patch as "original"
            saved[name] = getattr(module, name, _MISSING)
        if value is not _MISSING:
            setattr(module, name, value)
        elif hasattr(module, name):  # _MISSING: remove it (select.epoll, as eventlet does)
            delattr(module, name)


#: What no green module can fix: asked for by name (``MySQLdb=True``), they raise ValueError.
_CANNOT = {"psycopg": "psycopg2's C code", "MySQLdb": "mysqlclient's C code", "builtins": "file I/O on disk"}
#: The flags ``monkey_patch`` has applied (``{"socket": True, ...}``), eventlet's ``patcher.already_patched``.
already_patched: dict[str, bool] = {}


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
    removed = dict.fromkeys(select.REMOVED, _MISSING)  # (select.epoll and the like: deleted, as eventlet does)
    return {
        "socket": {"socket": socket.PATCHED, "ssl": {}},
        "time": {"time": {"sleep": time.sleep}},
        "select": {"select": {"select": select.select, "poll": select.poll, **removed}, "selectors": selectors.PATCHED},
        "thread": {**threading.PATCHES, **queue.PATCHES},
    }.get(flag, os.PATCHES)  # os: os.waitpid, os.read, os.write


def monkey_patch(
    all: bool | None = None,
    os: bool | None = None,
    select: bool | None = None,
    socket: bool | None = None,
    thread: bool | None = None,
    time: bool | None = None,
    psycopg: bool | None = None,
    MySQLdb: bool | None = None,
    builtins: bool | None = None,
    subprocess: bool | None = None,
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
                _patch(modname, attrs)
            already_patched[flag] = True
    if _c_modules and _KeepPatched not in sys.meta_path:
        sys.meta_path.insert(0, _KeepPatched)


def is_monkey_patched(name: str | types.ModuleType) -> bool:
    """Whether ``monkey_patch`` has patched ``name``: a flag (``"thread"``) or a module (its name, or itself)."""
    return getattr(name, "__name__", name) in already_patched.keys() | _saved.keys()


def _load(name: str, swap: dict[str, types.ModuleType]) -> types.ModuleType:
    """A private, fresh copy of module ``name``, executed with ``swap`` standing in ``sys.modules``.

    Python code looks names up at call time (``socket.accept`` calls its module's
    ``socket``), so a copy of its dict would still see what was patched: it is
    executed afresh from its source, and so are the submodules it imports
    (``name.sub``: the copy's own). A C module cannot be; its dict is copied.
    ``sys.modules`` is left as it was found: what the copy imported for the first
    time was imported seeing ``swap``, and stays the copy's own, as does a
    package's attribute for it (``http.client`` on ``http``).
    """
    if not (found := importlib.util.find_spec(name)):  # (not imported: that would cache its imports, unswapped)
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    file = getattr(sys.modules.get(name), "__file__", None) or found.origin or ""  # (a frozen one has its __file__)
    if not file.endswith(".py"):  # C
        module = types.ModuleType(name)
        module.__dict__.update(vars(importlib.import_module(name)))  # (its __doc__ too)
        return module
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    before = dict(sys.modules)
    for own in [n for n in sys.modules if n.startswith(name + ".")]:  # (name itself: set below)
        del sys.modules[own]
    sys.modules.update(swap)
    sys.modules[name] = module  # (socket's enum setup looks itself up there)
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    finally:
        for new in sys.modules.keys() - before.keys():
            package, _, attr = new.rpartition(".")
            if getattr(sys.modules.get(package), attr, None) is sys.modules[new]:
                delattr(sys.modules[package], attr)
            del sys.modules[new]
        sys.modules.update(before)
    return module


def original(name: str) -> types.ModuleType:
    """The module ``name`` as it was before patching (the module itself if it was never patched).

    A fresh copy (see ``_load``), importing the originals of the modules patched
    before it: ``original("threading").Thread`` starts real OS threads, as
    ``tpool`` needs. The copy has its own state (``enumerate()``, ``_shutdown``).
    """
    if name not in _saved:
        return importlib.import_module(name)
    if name not in _originals:
        module = _load(name, {n: original(n) for n in list(_saved)[: list(_saved).index(name)]})  # those before it
        if name in _c_modules:  # a copy of its dict: put the saved values back
            module.__dict__.update({a: v for a, v in _saved[name].items() if v is not _MISSING})
            for attr in [a for a, v in _saved[name].items() if v is _MISSING and a in module.__dict__]:
                del module.__dict__[attr]
        _originals[name] = module
    return _originals[name]


def import_patched(
    name: str, *additional_modules: tuple[str, types.ModuleType], **kw_additional_modules: types.ModuleType
) -> types.ModuleType:
    """A fresh import of module ``name`` that sees green ``socket``, ``ssl``, ``select``, ``selectors``, ``time``,
    ``os``, ``_thread``, ``threading`` and ``queue``, and the ``(name, module)`` pairs given, without patching the
    stdlib (eventlet's ``import_patched``); ``sys.modules`` is left as it was (see ``_load``)."""
    from .green import os, select, selectors, socket, ssl, thread, time

    green = {"socket": socket, "ssl": ssl, "select": select, "selectors": selectors, "time": time, "os": os}
    green["_thread"] = thread
    green["threading"] = _load("threading", green)
    green["queue"] = _load("queue", green)
    return _load(name, {**green, **dict(additional_modules), **kw_additional_modules})
