"""The stdlib's ``subprocess`` module, green without ``monkey_patch``: eventlet's ``green.subprocess``.

Nothing in it is rewritten: it is the stdlib's source, imported afresh
(``patcher.import_patched``) so that its ``os.waitpid`` is the green one
(``Popen.wait()`` parks the greenthread) and ``communicate()`` waits in a green
selector. After ``monkey_patch()`` the stdlib's own module is green as well.
"""

from ..patcher import import_patched

globals().update({k: v for k, v in vars(import_patched("subprocess")).items() if not k.startswith("__")})
