"""List the lessons in ``notebooks/`` and regenerate their stored outputs.

    python -m minievent.lessons --list
    python -m minievent.lessons --execute            # every lesson, in order
    python -m minievent.lessons --execute 03 04      # just these (by number or name)

The notebooks are committed *with* their outputs: that is what a reader sees
on GitHub, and what ``pytest`` (through nbval) compares a fresh run against.
``--execute`` runs each notebook top to bottom in a fresh kernel, from the
notebook's own directory (as nbval does), and writes the new outputs in place.
The first cell that raises stops everything: the notebook is left untouched,
the error is printed, and the exit status is 1.

Needs the ``lessons`` extra (``nbformat``, ``nbclient``, ``ipykernel``); they
are imported only when a notebook is executed.

``check`` is the lessons' "predict, then run" judge: the learner writes a
prediction into a variable, the lesson runs the experiment, and ``check``
says whether the prediction was right and why.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

#: Where the lessons live: ``notebooks/`` next to the package, in a checkout.
NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"

#: Seconds a single cell may run before the lesson counts as failed.
CELL_TIMEOUT = 120


def check(prediction: Any, measured: Any, solution: Any, why: str, tolerance: float = 0.0) -> None:
    """Judge a "predict, then run" exercise: print whether the prediction was right, and why.

    ``measured`` is what the experiment just gave; ``solution`` is the lesson's
    own answer, and it must match ``measured`` (else ``AssertionError``: the
    behaviour the lesson teaches has changed, so the lesson fails under nbval).
    ``prediction`` is the learner's answer, ``None`` until they write one (then
    the solution is shown). Numbers match within ``tolerance``, relative
    (0.3: 30 %); anything else must be equal.
    """

    def same(a: Any, b: Any) -> bool:
        numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
        return abs(a - b) <= tolerance * abs(b) + 1e-9 if numbers else a == b

    if not same(solution, measured):
        raise AssertionError(
            f"the run gave {measured!r}, not the lesson's solution {solution!r}: "
            "the behaviour this exercise teaches has changed"
        )
    if prediction is None:
        print(f"No prediction yet. The answer: {solution!r}. Why: {why}")
    elif same(prediction, measured):
        print(f"Right: {prediction!r}. {why}")
    else:
        print(f"Not quite: you predicted {prediction!r}; the run gave {measured!r}. {why}")


def lessons(directory: Path = NOTEBOOK_DIR) -> list[Path]:
    """The numbered lesson notebooks (``NN_name.ipynb``), in course order."""
    return sorted(p for p in directory.glob("[0-9][0-9]_*.ipynb") if p.is_file())


def title(path: Path) -> str:
    """The first Markdown heading of a notebook, without the ``#``s."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "(unreadable)"
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        for line in source.splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return path.stem


def select(paths: list[Path], wanted: list[str]) -> list[Path]:
    """Narrow ``paths`` to those named in ``wanted`` ("03", "03_greenlets", a file path)."""
    if not wanted:
        return paths
    chosen = []
    for w in wanted:
        name = Path(w).name
        matches = [p for p in paths if p.name == name or p.stem == name or p.name.startswith(f"{name}_")]
        if not matches:
            raise SystemExit(f"minievent.lessons: no lesson matches {w!r}; see --list")
        chosen.extend(m for m in matches if m not in chosen)
    return sorted(chosen)


def execute(path: Path, timeout: int = CELL_TIMEOUT) -> float:
    """Run ``path`` in a fresh kernel and write its outputs in place; return the seconds it took.

    Raises ``nbclient.exceptions.CellExecutionError`` (the notebook file is
    not touched) if a cell raises.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",  # jupyter_client starts it with this interpreter
        resources={"metadata": {"path": str(path.parent)}},  # cwd, as under nbval
        record_timing=False,  # no per-cell timestamps: keep the diffs to real changes
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m minievent.lessons",
        description="List the minievent lessons, or re-run them and store their outputs.",
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--list", action="store_true", help="print the lessons in course order")
    group.add_argument("--execute", action="store_true", help="run lessons in fresh kernels, write outputs in place")
    parser.add_argument("lessons", nargs="*", metavar="LESSON", help="only these (number, name or path)")
    parser.add_argument("--dir", type=Path, default=NOTEBOOK_DIR, help=f"notebook directory (default {NOTEBOOK_DIR})")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds allowed per cell")
    args = parser.parse_args(argv)

    paths = select(lessons(args.dir), args.lessons)
    if not paths:
        print(f"minievent.lessons: no lessons in {args.dir}", file=sys.stderr)
        return 1

    if args.list:
        for p in paths:
            print(f"{p.name:32} {title(p)}")
        return 0

    total = 0.0
    for p in paths:
        print(f"executing {p.name} ...", end=" ", flush=True)
        try:
            elapsed = execute(p, args.timeout)
        except Exception as e:  # CellExecutionError, a dead kernel, a timeout
            print("FAILED")
            print(f"\nminievent.lessons: {p.name} failed; its stored outputs are unchanged.\n", file=sys.stderr)
            print(str(e), file=sys.stderr)
            return 1
        total += elapsed
        print(f"{elapsed:.1f} s")
    print(f"{len(paths)} lesson(s) executed in {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
