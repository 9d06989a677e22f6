"""The originals: what the stdlib had before ``monkey_patch`` replaced it, and fresh copies of modules.

``monkey_patch`` (``patcher.py``) decides *what* to green; this module keeps *what was there*. Every
attribute it replaces goes through ``replace``, which saves the value it overwrites, once; ``original``
gives a module back as it was, as a fresh copy (``original("threading").Thread`` starts real OS
threads, which ``tpool`` needs); ``load`` is how that copy is made, and how ``import_patched`` makes
a copy that sees green modules instead.

It is the ground floor: it imports nothing of minievent's, so that the thread pool and the green
modules can ask for an original without importing the patcher, which imports them.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

#: What ``replace`` puts where an attribute should be deleted (``select.epoll``, as eventlet does).
MISSING: Any = object()
#: The flags ``monkey_patch`` has applied (``{"socket": True, ...}``), eventlet's ``patcher.already_patched``.
already_patched: dict[str, bool] = {}
# module name -> {attribute: its value before it was replaced}, in the order the modules were patched
_saved: dict[str, dict[str, Any]] = {}
_originals: dict[str, types.ModuleType] = {}  # original()'s copies, made once
_c_modules: dict[str, types.ModuleType] = {}  # the patched modules written in C


class _KeepPatched:
    """On ``sys.meta_path`` once a C module is patched: importing it afresh (``del sys.modules["_queue"]``,
    test.support's ``import_fresh_module``) gives back the patched module, not a new copy of the blocking C
    code. A finder and its own loader, as ``importlib`` asks."""

    @staticmethod
    def find_spec(name, path=None, target=None):  # (importlib's finder and loader protocol, untyped)
        return importlib.util.spec_from_loader(name, _KeepPatched) if name in _c_modules else None

    @staticmethod
    def create_module(spec):
        return _c_modules[spec.name]

    @staticmethod
    def exec_module(module):
        """Nothing to run: the module is the patched one, already executed."""


def replace(modname: str, attrs: dict[str, Any]) -> None:
    """Set module ``modname``'s attributes to ``attrs`` (``MISSING``: delete it), saving what was there first."""
    module = importlib.import_module(modname)
    if not (getattr(module, "__file__", None) or "").endswith(".py"):
        _c_modules[modname] = module
        if _KeepPatched not in sys.meta_path:
            sys.meta_path.insert(0, _KeepPatched)
    saved = _saved.setdefault(modname, {})
    for name, value in attrs.items():
        if name not in saved:  # patching twice must not save our own patch as "original"
            saved[name] = getattr(module, name, MISSING)
        if value is not MISSING:
            setattr(module, name, value)
        elif hasattr(module, name):
            delattr(module, name)


def is_monkey_patched(name: str | types.ModuleType) -> bool:
    """Whether ``monkey_patch`` has patched ``name``: a flag (``"thread"``) or a module (its name, or itself)."""
    return getattr(name, "__name__", name) in already_patched.keys() | _saved.keys()


def load(name: str, swap: dict[str, types.ModuleType]) -> types.ModuleType:
    """A private, fresh copy of module ``name``, executed with ``swap`` standing in ``sys.modules``.

    Python code looks names up at call time (``socket.accept`` calls its module's
    ``socket``), so a copy of its dict would still see what was patched: it is
    executed afresh from its source, and so are the submodules it imports
    (``name.sub``: the copy's own). A C module cannot be; its dict is copied.
    ``sys.modules`` is left as it was found: what the copy imported for the first
    time was imported seeing ``swap``, and stays the copy's own. The attribute an
    import set on a package stays too (``email.parser`` on ``email``: the copy's
    ``email.parser.Parser`` reads it), until an import of the name makes a new one.
    """
    found = importlib.util.find_spec(name)  # (not imported: that would cache its imports, unswapped)
    if not found:
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
            del sys.modules[new]
        sys.modules.update(before)
    return module


def original(name: str) -> types.ModuleType:
    """The module ``name`` as it was before patching (the module itself if it was never patched).

    A fresh copy (see ``load``), importing the originals of the modules patched
    before it: ``original("threading").Thread`` starts real OS threads, as
    ``tpool`` needs. The copy has its own state (``enumerate()``, ``_shutdown``).
    """
    if name not in _saved:
        return importlib.import_module(name)
    if name not in _originals:
        patched = list(_saved)
        module = load(name, {n: original(n) for n in patched[: patched.index(name)]})  # those patched before it
        if name in _c_modules:  # a copy of its dict: put the saved values back
            for attr, value in _saved[name].items():
                if value is MISSING:  # (what the patch added: not there before)
                    module.__dict__.pop(attr, None)
                else:
                    module.__dict__[attr] = value
        _originals[name] = module
    return _originals[name]
