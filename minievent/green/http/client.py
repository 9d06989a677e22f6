"""The stdlib's ``http.client``, green without ``monkey_patch`` (eventlet's ``green.http.client``): its source
imported afresh onto the green ``socket`` and ``ssl``. As in eventlet, the copy's classes are its own, its
exceptions too (``except`` this module's ``HTTPException``, not the stdlib's)."""

from ...fresh import import_patched
from .. import slurp_properties

slurp_properties(import_patched("http.client"), globals())
