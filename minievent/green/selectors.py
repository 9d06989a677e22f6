"""The stdlib's ``selectors`` module, green: every selector class is ``GreenSelector``.

``socketserver``, ``subprocess`` and others wait in a selector. The stdlib's
``SelectSelector`` already funnels all waiting through one method,
``_select``; ours is the same class with the green ``select`` in that slot.
"""

from __future__ import annotations

import selectors as _std

from .select import select as _green_select

globals().update({k: v for k, v in vars(_std).items() if not k.startswith("__")})

# The real class, captured before monkey_patch replaces the name.
_RealSelectSelector = _std.SelectSelector


class GreenSelector(_RealSelectSelector):  # type: ignore[misc,valid-type]
    """A ``selectors.SelectSelector`` that waits on the hub."""

    _select = staticmethod(_green_select)


#: The selector class names the stdlib may define; each becomes GreenSelector.
SELECTOR_NAMES = ("DefaultSelector", "SelectSelector", "PollSelector", "EpollSelector",
                  "DevpollSelector", "KqueueSelector")

for _name in SELECTOR_NAMES:
    if hasattr(_std, _name):
        globals()[_name] = GreenSelector
del _name
