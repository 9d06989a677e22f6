"""The core stays compact: at most 2,100 lines of code (about half of eventlet's 4,234 for the same ground).

A line of code is a physical line that holds a token other than a comment,
and is not part of a docstring (the string that opens a module, class or
function). Blank lines, comment lines and docstrings are not counted; a line
that holds code and a trailing comment is. ``python tests/test_size.py``
prints the count per file.
"""

from __future__ import annotations

import ast
import io
import pathlib
import tokenize

ROOT = pathlib.Path(__file__).resolve().parent.parent / "minievent"
CORE = ["hub", "poller", "waker", "greenthread", "waiter", "timeout", "event", "semaphore", "queue", "pool",
        "greenio", "convenience", "patcher", "tpool", "__init__"]
BUDGET = 2100


def lines_of_code(source: str) -> int:
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                docstrings.update(range(first.lineno, first.end_lineno + 1))
    code: set[int] = set()
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in skip:
            code.update(range(tok.start[0], tok.end[0] + 1))
    return len(code - docstrings)


def core_files() -> list[pathlib.Path]:
    files = [ROOT / f"{name}.py" for name in CORE if (ROOT / f"{name}.py").exists()]
    return files + sorted((ROOT / "green").glob("*.py"))


def test_counter_counts_code_only() -> None:
    src = ('"""Module doc."""\n\n# a comment\nx = 1  # trailing\n\n'
           'def f():\n    """Doc\n    more."""\n    return (1,\n            2)\n')
    assert lines_of_code(src) == 4  # x = 1, def f, and the two lines of the return


def test_core_within_budget() -> None:
    counts = {p.relative_to(ROOT.parent).as_posix(): lines_of_code(p.read_text()) for p in core_files()}
    total = sum(counts.values())
    assert total <= BUDGET, f"core is {total} lines of code (budget {BUDGET}): {counts}"


if __name__ == "__main__":
    total = 0
    for p in core_files():
        n = lines_of_code(p.read_text())
        total += n
        print(f"{n:6d}  {p.relative_to(ROOT.parent)}")
    print(f"{total:6d}  total (budget {BUDGET})")
