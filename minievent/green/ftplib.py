"""The stdlib's ``ftplib``, green without ``monkey_patch`` (eventlet's ``green.ftplib``): its source imported
afresh onto the green ``socket`` and ``ssl``."""

from ..fresh import import_patched
from . import slurp_properties

slurp_properties(import_patched("ftplib"), globals())
