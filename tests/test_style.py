"""The code is kept as ``ruff format`` lays it out and as ``ruff check`` wants it (pyproject.toml's settings).

With the core's budget counted in AST nodes (test_size.py), layout is the formatter's business, never a way to fit
a number: this test is what keeps it so in CI.
"""

from __future__ import annotations

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
