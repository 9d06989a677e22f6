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

The exercises' judges:

* ``check`` is the "predict, then run" judge: the learner writes a prediction
  into a variable, the lesson runs the experiment, and ``check`` says whether
  the prediction was right and why. Until a prediction exists it says only
  that an answer is stored and that this run agrees with it, so a committed
  notebook never gives the answer away; ``until_predicted`` holds back what an
  experiment prints for as long.
* ``check_attempt`` is the "do" judge: the learner edits code (a timeout, a
  timer in the toy hub, a fix that keeps a service up), sets ``attempt`` to it,
  and ``check_attempt`` runs a test on it. With no attempt yet it runs the same
  test on the lesson's own solution (so nbval checks every solution) and says
  only that one exists.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

#: Where the lessons live: ``notebooks/`` next to the package, in a checkout.
NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"

#: Seconds a single cell may run before the lesson counts as failed.
CELL_TIMEOUT = 120


#: What a judge prints while the learner has not answered yet: that an answer exists, not what it is.
PREDICT_FIRST = (
    "Predict first: write your answer into the variable above, then run this cell again. "
    "(The lesson's answer is stored, and this run agrees with it.)"
)


def _words(text: str) -> str:
    return " ".join(text.split()).casefold()


def same(a: Any, b: Any, tolerance: float = 0.0) -> bool:
    """``a`` matches ``b`` as the question means it.

    Numbers within ``tolerance`` (relative: 0.3 is 30 %); words without regard to
    case or spacing; a set (the question asks "which of them") against any
    collection of the same members, in any order; a list or a tuple (the question
    asks for an order) element by element, in order; anything else by ``==``.
    """

    def number(x: Any) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    if number(a) and number(b):
        return abs(a - b) <= tolerance * abs(b) + 1e-9
    if isinstance(a, str) and isinstance(b, str):
        return _words(a) == _words(b)
    if isinstance(b, (set, frozenset)):
        if not isinstance(a, (set, frozenset, list, tuple)):
            return False
        left = list(a)
        unique = [x for i, x in enumerate(left) if not any(same(x, y, tolerance) for y in left[:i])]
        if len(unique) != len(b):
            return False
        rest = list(b)
        for x in unique:  # each member of the answer matches one member of b
            match = next((y for y in rest if same(x, y, tolerance)), _NOTHING)
            if match is _NOTHING:
                return False
            rest.remove(match)
        return True
    if isinstance(b, (list, tuple)) and isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y, tolerance) for x, y in zip(a, b, strict=True))
    return a == b


_NOTHING = object()


def _show(value: Any) -> str:
    # A set in a steady order (a set of words prints in a new order in every process).
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(map(repr, value))) + "}"
    return repr(value)


def check(prediction: Any, measured: Any, solution: Any, why: str, tolerance: float = 0.0) -> None:
    """Judge a "predict, then run" exercise: print whether the prediction was right, and why.

    ``measured`` is what the experiment just gave; ``solution`` is the lesson's
    own answer, and it must match ``measured`` (else ``AssertionError``: the
    behaviour the lesson teaches has changed, so the lesson fails under nbval).
    ``prediction`` is the learner's answer, ``None`` until they write one: then
    only ``PREDICT_FIRST`` is printed, neither the answer nor the why. Answers
    are compared by ``same``: a set where the order does not matter.
    """
    if not same(measured, solution, tolerance):
        raise AssertionError(
            f"the run gave {_show(measured)}, not the lesson's solution {_show(solution)}: "
            "the behaviour this exercise teaches has changed"
        )
    if prediction is None:
        print(PREDICT_FIRST)
    elif same(prediction, measured, tolerance):
        print(f"Right: {_show(prediction)}. {why}")
    else:
        print(f"Not quite: you predicted {_show(prediction)}; the run gave {_show(measured)}. {why}")


@contextlib.contextmanager
def until_predicted(*predictions: Any) -> Iterator[None]:
    """Hold back what the block prints (it would give the answer away) until every prediction is written.

    The block runs either way (its asserts too); only its printout waits.
    """
    if all(p is not None for p in predictions):
        yield
        return
    with contextlib.redirect_stdout(io.StringIO()):
        yield
    print("(What this cell prints gives the answer away: it is held back until you have written your prediction.)")


def check_attempt(candidate: Any, solution: Any, test: Callable[[Any], Any], task: str) -> None:
    """Judge a "do" exercise: run ``test`` on the learner's ``candidate`` and say whether it does the job.

    ``test(x)`` raises ``AssertionError`` with a message the learner can act on
    when ``x`` falls short. ``candidate`` is ``None`` until the learner has an
    attempt: then ``test`` runs on the lesson's ``solution`` instead (which must
    pass, or the lesson fails under nbval), and only that a solution exists is
    printed. ``task`` says in a few words what to write.
    """
    if candidate is None:
        try:
            test(solution)
        except AssertionError as e:
            raise AssertionError(f"the lesson's own solution fails its test: {e}") from e
        print(
            f"No attempt yet: {task} Then set `attempt` to it and run this cell again. "
            "(The lesson's solution, in the folded cell above, passes this test.)"
        )
        return
    try:
        test(candidate)
    except AssertionError as e:
        print(f"Not yet: {e}")
    except Exception as e:  # the learner's code raised: say what, as a hint
        print(f"Not yet: your version raised {type(e).__name__}: {e}")
    else:
        print("It works: your version passes the same test as the lesson's solution.")


#: A warning as ``warnings.showwarning`` prints it: ``path:line: Category: message``, then the source line.
_WARNING = re.compile(r"^(?P<path>.+?):\d+: (?P<category>\w+(?:Warning|Error)): .*\n(?:(?:  |\t).*\n)*", re.M)


def others_warnings_removed(stderr: str, ours: Path = NOTEBOOK_DIR.parent) -> str:
    """``stderr`` without the warnings that other packages issue from their own files.

    A lesson must not depend on what other packages print, or in what order: a
    newer cryptography warning through dnspython, a deprecation in a fresh
    venv. Warnings issued from this checkout's files, and everything that is not
    a warning (a traceback, the lesson's own output), are kept.
    """
    ours = str(ours.resolve())

    def keep(match: re.Match) -> str:
        path = match["path"]
        return match[0] if path.startswith(ours) or path.startswith("<") else ""

    return _WARNING.sub(keep, stderr)


def without_others_warnings(outputs: list[dict]) -> list[dict]:
    """A cell's outputs (nbformat dicts) with ``others_warnings_removed`` applied to each stderr stream.

    A stderr stream left empty is dropped. Used on both sides: before an
    executed notebook is stored (so a warning of this machine's packages is
    not committed) and by nbval's comparison (``notebooks/conftest.py``).
    """
    kept = []
    for output in outputs:
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            text = output["text"] if isinstance(output["text"], str) else "".join(output["text"])
            text = others_warnings_removed(text)
            if not text:
                continue
            output = type(output)({**output, "text": text})
        kept.append(output)
    return kept


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

    with contextlib.suppress(ImportError):  # a fresh environment's first matplotlib import says
        import matplotlib.font_manager  # noqa: F401  "building the font cache" on stderr: not in a kernel

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
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = without_others_warnings(cell.outputs)
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
