"""Green versions of stdlib modules: same names, but they wait on the hub.

``from minievent.green import socket`` gives a module that looks like the
stdlib's ``socket`` but whose sockets park the greenthread, not the thread.
These modules do not change the stdlib; ``minievent.monkey_patch()`` does,
by copying their key names into the real modules (see ``patcher.py``).
"""
