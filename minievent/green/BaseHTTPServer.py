"""eventlet's name for the green ``http.server`` (Python 2's ``BaseHTTPServer``), which its own tests import."""

from .http.server import *  # noqa: F403
