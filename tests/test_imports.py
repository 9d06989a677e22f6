"""Imports run downhill: no cycle among minievent's modules, counting the imports inside functions.

A deferred import (``def f(): from .debug import x``) dodges a cycle at import time, but the cycle is
still there for whoever reads the code: to understand the hub you would need debug, which needs the
hub. So the graph is read from the source, not from ``sys.modules``: every ``import`` and ``from ...
import`` statement anywhere in a module (at module level, in a function, under an ``if``), relative or
absolute (``minievent.x``), and ``from . import x`` counts as importing the submodule ``x`` when there
is one. Importing a submodule runs its package's ``__init__`` first; that implicit step is left out
(every module would otherwise depend on the facade ``minievent/__init__.py``), an explicit
``from . import name`` of a package's own name is not.

``python tests/test_imports.py`` prints the graph, a module a line, with what it imports.
"""

from __future__ import annotations

import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "minievent"

sys.path.insert(0, str(ROOT / "tests"))
from test_size import OUTSIDE  # noqa: E402  (what is not core: one list for the budget and the floors)

del sys.path[0]


def module_names(package: pathlib.Path = PACKAGE) -> dict[str, pathlib.Path]:
    """Every module under ``package``, by dotted name (a package by its own name, for its ``__init__``)."""
    names = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_package(path: pathlib.Path) -> bool:
    return path.name == "__init__.py"


def imports_of(name: str, path: pathlib.Path, modules: dict[str, pathlib.Path]) -> set[str]:
    """The modules of ``modules`` that ``name`` (at ``path``) imports anywhere in its source."""
    root = name.split(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # `from . import x` in a package's __init__ is relative to the package itself
                here = name.split(".") if _is_package(path) else name.split(".")[:-1]
                base = here[: len(here) - (node.level - 1)]
                if node.module:
                    base = [*base, *node.module.split(".")]
            else:
                base = (node.module or "").split(".")
            base_name = ".".join(base)
            targets = [base_name]
            for alias in node.names:
                submodule = f"{base_name}.{alias.name}"
                if submodule in modules:  # `from . import tpool`: the submodule, not (only) the package
                    targets.append(submodule)
            if len(targets) > 1 and not any(f"{base_name}.{a.name}" not in modules for a in node.names):
                targets.remove(base_name)  # every name was a submodule: the package's __init__ is not read
        else:
            continue
        for target in targets:
            if target.split(".")[0] != root:
                continue
            # `import minievent.recording.flight`, or a name inside a module: the longest known module
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in modules and target != name:
                found.add(target)
    return found


def import_graph(package: pathlib.Path = PACKAGE) -> dict[str, set[str]]:
    modules = module_names(package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's), each sorted, largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found, key=lambda c: (-len(c), c))


def a_loop(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One closed path through ``component``, from its first module back to it, for the failure message."""
    start = component[0]
    members = set(component)
    paths = {start: [start]}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                return [*paths[v], start]
            if w not in paths:
                paths[w] = [*paths[v], w]
                todo.append(w)
    return component


def outside_core(name: str) -> bool:
    """Whether module ``name`` is the recording wing, a tool on top or a scenario (test_size's OUTSIDE)."""
    relative = name.split(".")[1:]
    for out in OUTSIDE:
        parts = out.removesuffix(".py").split("/")
        if relative[: len(parts)] == parts:
            return True
    return False


def test_the_reader_sees_every_kind_of_import(tmp_path: pathlib.Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from . import a\n")
    (package / "a.py").write_text("def f():\n    from .b import thing\n")
    (package / "b.py").write_text("import pkg.sub.c\n")
    (package / "sub" / "__init__.py").write_text("def helper(): pass\n")
    (package / "sub" / "c.py").write_text("from .. import a\nfrom . import helper\n")
    graph = import_graph(package)
    assert graph == {
        "pkg": {"pkg.a"},
        "pkg.a": {"pkg.b"},
        "pkg.b": {"pkg.sub.c"},
        "pkg.sub": set(),
        "pkg.sub.c": {"pkg.a", "pkg.sub"},
    }
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c"]]
    assert a_loop(graph, ["pkg.a", "pkg.b", "pkg.sub.c"]) == ["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]
    (package / "a.py").write_text("x = 1\n")
    assert cycles(import_graph(package)) == []


def test_no_import_cycle() -> None:
    graph = import_graph()
    assert "minievent.hub" in graph and "minievent.green.socket" in graph
    found = cycles(graph)
    loops = "\n".join(f"{len(c)} modules: {' -> '.join(a_loop(graph, c))}" for c in found)
    assert not found, f"import cycles (an import inside a function counts):\n{loops}"


def test_the_core_never_imports_what_watches_it() -> None:
    """The core (test_size's count) imports no recorder, tool or scenario; only the facade, ``__init__``, may.

    One exception, on the ground floor: the analysis's park-reason words (``wording``), which the hub
    borrows to word a ``LoopExit``; they import nothing of minievent's, so they pull nothing in."""
    graph = import_graph()
    assert graph["minievent.wording"] == set()
    wrong = {
        f"{name} imports {target}"
        for name, targets in graph.items()
        if name != "minievent" and not outside_core(name)
        for target in targets
        if outside_core(target) and target != "minievent.wording"
    }
    assert not wrong, sorted(wrong)


def test_the_ground_floor_and_the_hub_stay_low() -> None:
    """What the floors were rebuilt for: the originals need nothing of minievent's, so tpool and green/ can ask
    for one without the patcher; the hub needs only its poller, waker, instrument protocol and eventlet's hub API
    below it."""
    graph = import_graph()
    assert graph["minievent.originals"] == set()
    assert graph["minievent.instrument"] == set()
    assert graph["minievent.hubcompat"] <= {"minievent.poller"}
    assert graph["minievent.hub"] <= {
        "minievent.poller",
        "minievent.waker",
        "minievent.hubcompat",
        "minievent.instrument",
        "minievent.wording",
    }
    core = [name for name in graph if not outside_core(name) and name != "minievent"]  # (the facade re-exports it)
    needing_the_patcher = sorted(name for name in core if "minievent.patcher" in graph[name])
    assert needing_the_patcher == [], needing_the_patcher


if __name__ == "__main__":
    graph = import_graph()
    for name, targets in sorted(graph.items()):
        print(f"{name}: {' '.join(sorted(targets))}")
    for component in cycles(graph):
        print(f"cycle of {len(component)}: {' -> '.join(a_loop(graph, component))}")
