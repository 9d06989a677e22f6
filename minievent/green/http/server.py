"""The stdlib's ``http.server``, green without ``monkey_patch`` (eventlet's ``green.http.server``, and its
``BaseHTTPServer``): its source imported afresh onto the green ``socket``, ``select`` and ``os``, and onto a
green copy of the ``socketserver`` it is built on (its accept waits in the hub, ``ThreadingHTTPServer``
starts greenthreads)."""

from ...fresh import import_patched
from .. import slurp_properties

slurp_properties(import_patched("http.server", ("socketserver", import_patched("socketserver"))), globals())
