"""minievent.green's modules as their own users import them: eventlet's green spellings, without monkey_patch.

Each case runs in a child interpreter (``run_child``), so that what a case
imports or patches stays there.
"""

from __future__ import annotations

from support import run_child


def test_a_failed_lookup_holds_no_reference_to_its_arguments():
    # CPython's testRefCountGetNameInfo: the C function's TypeError keeps no reference to what it was given;
    # the green one runs it in tpool, whose frames held the arguments for as long as the error lived.
    out = run_child("""
        import json, socket, sys
        import minievent
        minievent.monkey_patch()
        name = "".join(["not", "-a-tuple"])
        def lookup():
            before = sys.getrefcount(name)
            try:
                socket.getnameinfo(name, 0)
            except TypeError as e:
                return sys.getrefcount(name) - before, str(e)
        first = lookup()  # (no hub yet: the C function called straight)
        pooled = minievent.spawn(lookup).wait()  # (a greenthread: in tpool)
        leaked, messages = [first[0], pooled[0]], [first[1], pooled[1]]
        print(json.dumps({"leaked": leaked, "messages": messages}))
    """)
    assert out == {"leaked": [0, 0], "messages": ["getnameinfo() argument 1 must be a tuple"] * 2}
