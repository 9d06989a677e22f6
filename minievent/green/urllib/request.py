"""The stdlib's ``urllib.request``, green without ``monkey_patch`` (eventlet's ``green.urllib.request``).

Its source imported afresh onto the green ``socket``, ``ssl`` and ``http``
package, whose ``client`` is the green one (``urllib.request`` reads
``http.client.HTTPConnection`` off the package). Its errors are the stdlib's
``urllib.error`` classes: ``error``, ``parse`` and ``response`` are imported
first, so the copy finds the stdlib's modules in ``sys.modules`` (a module a
copy is the first to import stays its own).
"""

from ...fresh import import_patched
from .. import http, slurp_properties
from . import error, parse, response  # noqa: F401

slurp_properties(import_patched("urllib.request", ("http", http), ("http.client", http.client)), globals())
