"""The stdlib's ``urllib`` package, green without ``monkey_patch`` (eventlet's ``green.urllib``).

``request`` is the stdlib's source imported afresh onto the green ``socket``,
``ssl``, ``http`` and ``http.client``; ``error``, ``parse`` and ``response``
do no I/O and are the stdlib's own modules' names, so an ``except
urllib.error.URLError`` catches what a green ``urlopen`` raises.
"""
