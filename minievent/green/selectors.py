"""The stdlib's ``selectors`` module, green.

``socketserver``, ``subprocess`` and others wait in a selector. Where epoll
exists, ``DefaultSelector``, ``EpollSelector`` and ``PollSelector`` are
``GreenSelector``, our ``EpollSelector``: the stdlib's (so any fd number works),
whose ``select`` asks its epoll set with a zero timeout and otherwise parks
until the hub reports the epoll fd itself readable -- an epoll fd is
readable whenever one of the fds in its set is ready. ``SelectSelector``
stays ``select()``-based, as in the stdlib (and limited, as there, to fds
below ``FD_SETSIZE``), waiting in the green ``select``.

``monkey_patch`` puts these classes in the stdlib's module (``PATCHED``) and,
for a module that picked its class before the patch (``socketserver`` and
``subprocess`` do at import), makes the stdlib's own classes wait green in
place (``patch``), as ``threading``'s locks made before the patch are greened.
"""

from __future__ import annotations

import functools
import selectors as _std
from typing import Any

from . import slurp_properties
from .select import _wait_for
from .select import poll as _green_poll
from .select import select as _green_select

slurp_properties(_std, globals())


# The green classes keep the stdlib's names (code that asks a selector's class its name gets
# the kind it is); their module says they are green.
class SelectSelector(_std.SelectSelector):  # type: ignore[misc,valid-type,no-redef]
    """A ``selectors.SelectSelector`` that waits on the hub."""

    _select = staticmethod(_green_select)


GreenSelector: type = SelectSelector  #: the one DefaultSelector, PollSelector... become
if hasattr(_std, "EpollSelector"):
    _epoll_select = _std.EpollSelector.select  # (the stdlib's: patch() replaces it)

    class EpollSelector(_std.EpollSelector):  # type: ignore[no-redef]
        """A ``selectors.EpollSelector`` that waits on the hub."""

        def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
            ask = functools.partial(_epoll_select, self, 0)  # (a zero timeout; the hub waits on the epoll fd itself)
            return _wait_for(ask, (self.fileno(),), (), None if timeout is None else max(timeout, 0)) or []

    GreenSelector = EpollSelector


#: What monkey_patch puts in the stdlib module: every selector class it has.
PATCHED = {
    name: SelectSelector if name == "SelectSelector" else GreenSelector
    for name in (
        "DefaultSelector",
        "SelectSelector",
        "PollSelector",
        "EpollSelector",
        "DevpollSelector",
        "KqueueSelector",
    )
    if hasattr(_std, name)
}
globals().update(PATCHED)


def patch() -> None:
    """The stdlib's selector classes themselves wait green, in place (``monkey_patch`` calls it)."""
    _std.SelectSelector._select = staticmethod(_green_select)
    _std.PollSelector._selector_cls = staticmethod(_green_poll)  # (each selector's poll object: a green one)
    if hasattr(_std, "EpollSelector"):
        _std.EpollSelector.select = EpollSelector.select
