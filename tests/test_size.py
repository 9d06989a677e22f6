"""The core stays compact: at most 21,000 AST nodes, docstrings left out.

Size is counted in substance, not in lines: every node that ``ast.walk``
visits in a module's tree (expression contexts included), after the
docstrings of the module, its classes and its functions are taken out.
Splitting a statement over several lines costs nothing here, and packing
several onto one line gains nothing; ``ruff format`` decides the layout.

The core is everything under ``minievent/`` but what watches it and what
is built on top: the recording wing, the pictures, the command line, the
debug tools, the lessons' helpers, the conformance runner and the
scenarios (``OUTSIDE``). A new module is core unless it is listed there.
``python tests/test_size.py`` prints the count per file.
"""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent / "minievent"
#: What is not core: paths relative to ``minievent/``; a folder takes everything under it.
OUTSIDE = [
    "recording",
    "trace.py",
    "debug.py",
    "plot.py",
    "__main__.py",
    "cli.py",
    "lessons.py",
    "conformance.py",
    "scenarios",
    # The park reasons' words are the analysis's (a recording is read in them); the hub only borrows
    # them to word a LoopExit. A ground-floor module that imports nothing of minievent's.
    "wording.py",
]
BUDGET = 21_000


def _drop_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:]


def nodes(source: str) -> int:
    """AST nodes of ``source``, its docstrings left out."""
    tree = ast.parse(source)
    _drop_docstrings(tree)
    return sum(1 for _ in ast.walk(tree))


def core_files() -> list[pathlib.Path]:
    outside = [ROOT / name for name in OUTSIDE]
    return [
        path for path in sorted(ROOT.rglob("*.py")) if not any(path == out or out in path.parents for out in outside)
    ]


def test_counter_leaves_docstrings_and_layout_out() -> None:
    packed = 'def f():\n    """Doc\n    more."""\n    a, b = 1, 2\n    return a + b\n'
    spread = "def f():\n    a, b = (\n        1,\n        2,\n    )\n    return (\n        a\n        + b\n    )\n"
    assert nodes(packed) == nodes(spread)
    assert nodes('"""Module doc."""\nx = 1\n') == nodes("x = 1\n") == 5  # Module, Assign, Name, Store, Constant


def test_core_within_budget() -> None:
    counts = {p.relative_to(ROOT.parent).as_posix(): nodes(p.read_text()) for p in core_files()}
    total = sum(counts.values())
    assert "minievent/hub.py" in counts and "minievent/green/socket.py" in counts
    assert not any(name.startswith(("minievent/recording/", "minievent/scenarios/")) for name in counts)
    assert total <= BUDGET, f"the core is {total:,} AST nodes (budget {BUDGET:,}): {counts}"


if __name__ == "__main__":
    total = 0
    for path in core_files():
        n = nodes(path.read_text())
        total += n
        print(f"{n:7,}  {path.relative_to(ROOT.parent).as_posix()}")
    print(f"{total:7,}  core (budget {BUDGET:,}, docstrings left out)")
