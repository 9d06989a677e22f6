"""The stdlib's ``socketserver``, green without ``monkey_patch`` (eventlet's ``green.SocketServer``): its source
imported afresh onto the green ``socket``, ``selectors`` and ``threading``, so a server's accept waits in the hub
and ``ThreadingTCPServer`` starts greenthreads."""

from ..fresh import import_patched
from . import slurp_properties

slurp_properties(import_patched("socketserver"), globals())
