"""Green versions of stdlib modules: same names, but they wait on the hub.

``from minievent.green import socket`` gives a module that looks like the
stdlib's ``socket`` but whose sockets park the greenthread, not the thread.
These modules do not change the stdlib; ``minievent.monkey_patch()`` does,
by copying their key names into the real modules (see ``patcher.py``).
"""

import types
from collections.abc import Collection
from typing import Any


def slurp_properties(source: types.ModuleType, destination: dict[str, Any], ignore: Collection[str] = ()) -> None:
    """Put the names of module ``source`` (all but dunders and ``ignore``) into ``destination``, a green
    module's globals, which then replaces the few it makes green (eventlet's ``patcher.slurp_properties``)."""
    destination.update({k: v for k, v in vars(source).items() if not k.startswith("__") and k not in ignore})
