"""The stdlib's ``http.cookiejar`` (eventlet's ``green.http.cookiejar``), imported afresh onto the green
``threading``: a ``CookieJar`` takes an ``RLock``, which must be green to keep two greenthreads apart (an OS
RLock is owned by the OS thread, so every greenthread of that thread would hold it at once). It does no I/O."""

from ...fresh import import_patched
from .. import slurp_properties

slurp_properties(import_patched("http.cookiejar"), globals())
