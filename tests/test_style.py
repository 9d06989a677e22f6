"""The code is kept as ``ruff format`` lays it out and as ``ruff check`` wants it (pyproject.toml's settings).

With the core's budget counted in AST nodes (test_size.py), layout is the formatter's business, never a way to fit
a number: this test is what keeps it so in CI.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PATHS = ["minievent", "tests", "benchmarks"]


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args, *PATHS], cwd=ROOT, capture_output=True, text=True)


def test_ruff_format_has_nothing_to_change() -> None:
    proc = ruff("format", "--check", "--diff")
    assert proc.returncode == 0, f"run `ruff format {' '.join(PATHS)}`:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}"


def test_ruff_check_is_clean() -> None:
    proc = ruff("check", "--no-cache")
    assert proc.returncode == 0, f"{proc.stdout[-4000:]}{proc.stderr[-2000:]}"


#: The hub's run loop stays on one screen (the guide's style rule), counting its def and docstring.
LOOP_LINES = 70


def test_the_hubs_run_loop_fits_on_one_screen() -> None:
    tree = ast.parse((ROOT / "minievent" / "hub.py").read_text())
    hub = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Hub")
    loop = next(node for node in hub.body if isinstance(node, ast.FunctionDef) and node.name == "_loop")
    lines = loop.end_lineno - loop.lineno + 1
    assert lines <= LOOP_LINES, f"Hub._loop is {lines} lines (def and docstring counted): at most {LOOP_LINES}"
