"""The stdlib's ``http`` package, green without ``monkey_patch`` (eventlet's ``green.http``).

``client`` and ``server`` are the stdlib's sources imported afresh onto the
green modules (``import_patched``); ``cookies`` does no I/O and is the
stdlib's. The package's own names (``HTTPStatus``) are the
stdlib's, and it holds the green ``client``, so that code which imports
``http.client`` and then reads ``http.client.HTTPConnection`` off the package
(``urllib.request`` does) finds the green one.
"""

from http import *  # noqa: F403  (HTTPStatus, HTTPMethod)

from . import client  # noqa: F401
