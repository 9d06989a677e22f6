"""minievent.lessons: the exercise judge and the lesson list."""

from __future__ import annotations

import json

import pytest

from minievent import lessons


def test_check_right_wrong_and_unanswered(capsys):
    lessons.check(1.0, 1.05, 1.0, "the sum of the times", tolerance=0.2)
    assert capsys.readouterr().out.startswith("Right: 1.0. the sum of the times")
    lessons.check(0.1, 1.05, 1.0, "the sum of the times", tolerance=0.2)
    out = capsys.readouterr().out
    assert out.startswith("Not quite") and "0.1" in out and "the sum of the times" in out
    lessons.check(None, "the hog", "the hog", "FIFO")
    out = capsys.readouterr().out
    assert out.strip() == lessons.PREDICT_FIRST, "no prediction yet: the answer is not shown"
    assert "hog" not in out and "FIFO" not in out
    lessons.check("a", "b", "b", "FIFO")
    assert capsys.readouterr().out.startswith("Not quite")


def test_check_fails_when_the_solution_no_longer_matches_the_run():
    with pytest.raises(AssertionError, match="changed"):
        lessons.check(None, 2.0, 1.0, "why", tolerance=0.3)
    with pytest.raises(AssertionError):
        lessons.check("a", "b", "a", "why")


def test_lessons_are_numbered_and_titled():
    paths = lessons.lessons()
    assert [p.name[:2] for p in paths] == sorted(p.name[:2] for p in paths)
    assert all(lessons.title(p).startswith("Lesson") or p.name.startswith("00") for p in paths)


def test_check_compares_as_the_question_means(capsys):
    # Issue 18: lesson 6's third exercise marked [1.8, 1.4] wrong against [1.4, 1.8]:
    # "which of them", a set, where order does not matter.
    lessons.check([1.8, 1.4], measured={1.4, 1.8}, solution={1.4, 1.8}, why="the long ones")
    assert capsys.readouterr().out.startswith("Right")
    lessons.check([1.4], measured={1.4, 1.8}, solution={1.4, 1.8}, why="the long ones")
    assert capsys.readouterr().out.startswith("Not quite")
    # An order is an answer where the question asks for one: a list stays a list.
    lessons.check(["b", "a"], measured=["a", "b"], solution=["a", "b"], why="FIFO")
    assert capsys.readouterr().out.startswith("Not quite")
    # Words compare without regard to case or spacing; numbers in a set within the tolerance.
    lessons.check(" Sum ", measured="sum", solution="sum", why="one after another")
    assert capsys.readouterr().out.startswith("Right")
    lessons.check({0.21, 1.79}, measured={0.2, 1.8}, solution={0.2, 1.8}, why="both", tolerance=0.1)
    assert capsys.readouterr().out.startswith("Right")


def test_until_predicted_holds_back_what_gives_the_answer_away(capsys):
    ran = []
    with lessons.until_predicted(None):
        print("the answer is 42")
        ran.append(True)
    out = capsys.readouterr().out
    assert ran and "42" not in out and "held back" in out, "the block ran; its printout waits"
    with lessons.until_predicted(41, "x"):
        print("the answer is 42")
    assert capsys.readouterr().out == "the answer is 42\n"
    with lessons.until_predicted(41, None):
        print("the answer is 42")
    assert "42" not in capsys.readouterr().out, "every prediction first"


def test_attempt_runs_the_solution_until_there_is_an_attempt(capsys):
    tried = []

    def test(f):
        tried.append(f)
        assert f(2) == 4, f"f(2) gave {f(2)}, not 4"

    def solution(x):
        return x * x

    lessons.check_attempt(None, solution, test, "Write f(x), the square of x.")
    out = capsys.readouterr().out
    assert tried == [solution] and out.startswith("No attempt yet: Write f(x)") and "x * x" not in out
    lessons.check_attempt(lambda x: x + 1, solution, test, "...")
    assert capsys.readouterr().out.startswith("Not yet: f(2) gave 3, not 4")
    lessons.check_attempt(lambda x: 1 / 0, solution, test, "...")
    assert "ZeroDivisionError" in capsys.readouterr().out
    lessons.check_attempt(lambda x: x + 2, solution, test, "...")
    assert capsys.readouterr().out.startswith("It works")
    assert len(tried) == 4, "with an attempt, the solution is not run again"


def test_a_solution_that_fails_its_own_test_fails_the_lesson():
    def test(f):
        assert f() == 1, "not 1"

    with pytest.raises(AssertionError, match="lesson's own solution"):
        lessons.check_attempt(None, lambda: 2, test, "...")


def test_others_warnings_are_removed_from_stderr_and_ours_kept():
    ours = lessons.NOTEBOOK_DIR.parent.resolve()
    theirs = (
        "/venv/lib/python3.11/site-packages/dns/crypto.py:12: CryptographyDeprecationWarning: old curve\n"
        "  from cryptography import x\n"
    )
    mine = f"{ours}/minievent/hub.py:3: RuntimeWarning: an instrument raised\n  hook()\n"
    tb = 'Traceback (most recent call last):\n  File "<stdin>", line 1\nValueError: boom\n'
    assert lessons.others_warnings_removed(theirs + tb + theirs) == tb
    assert lessons.others_warnings_removed(mine) == mine, "a warning from this checkout stays"
    assert lessons.others_warnings_removed("<ipython-input-1>:1: UserWarning: mine\n") != ""


NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "id": "c1",
            "execution_count": 1,
            "metadata": {},
            "outputs": [{"name": "stdout", "output_type": "stream", "text": "42\n"}],
            "source": "CELL",
        }
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


FOREIGN_WARNING = "/usr/lib/python3/site-packages/pkg/mod.py:7: FutureWarning: old\n  import thing\n"


@pytest.mark.parametrize(
    "cell, stored_stderr, passes",
    [
        ("print(42)", None, True),
        # another package warns from its own file: not the lesson's output
        (
            "import warnings\n"
            "warnings.warn_explicit('old', FutureWarning, '/usr/lib/python3/site-packages/pkg/mod.py', 7)\n"
            "print(42)",
            None,
            True,
        ),
        # ... nor when it was stored on the machine that executed the lesson, and is gone here
        ("print(42)", FOREIGN_WARNING, True),
        # the lesson's own stderr is compared as before
        ("import sys\nprint('oops', file=sys.stderr)\nprint(42)", None, False),
        ("print(42)", "oops\n", False),
    ],
)
def test_nbval_ignores_other_packages_warnings_but_not_the_lessons_stderr(tmp_path, cell, stored_stderr, passes):
    import os
    import shutil
    import subprocess
    import sys

    shutil.copy(lessons.NOTEBOOK_DIR / "conftest.py", tmp_path / "conftest.py")
    nb = json.loads(json.dumps(NOTEBOOK).replace('"CELL"', json.dumps(cell)))
    if stored_stderr is not None:
        nb["cells"][0]["outputs"].insert(0, {"name": "stderr", "output_type": "stream", "text": stored_stderr})
    (tmp_path / "lesson.ipynb").write_text(json.dumps(nb))
    root = str(lessons.NOTEBOOK_DIR.parent)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--nbval",
            "--nbval-current-env",
            "-c",
            os.devnull,
            "--rootdir",
            str(tmp_path),
            "lesson.ipynb",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": root},
    )
    assert (r.returncode == 0) == passes, r.stdout[-3000:]


def test_execute_stores_no_warning_of_other_packages(tmp_path):
    # A lesson executed here must not carry this machine's package warnings into the
    # committed notebook: elsewhere they are not printed, and the stored cell would fail.
    cell = (
        "import sys, warnings\n"
        "warnings.warn_explicit('old', FutureWarning, '/usr/lib/python3/site-packages/pkg/mod.py', 7)\n"
        "print('mine', file=sys.stderr)\n"
        "print(42)"
    )
    nb = json.loads(json.dumps(NOTEBOOK).replace('"CELL"', json.dumps(cell)))
    path = tmp_path / "lesson.ipynb"
    path.write_text(json.dumps(nb))
    lessons.execute(path, timeout=60)
    outputs = json.loads(path.read_text())["cells"][0]["outputs"]
    stderr = "".join("".join(o["text"]) for o in outputs if o.get("name") == "stderr")
    stdout = "".join("".join(o["text"]) for o in outputs if o.get("name") == "stdout")
    assert "FutureWarning" not in stderr and "mine" in stderr and stdout == "42\n"


def _named_in_lessons() -> list[tuple[str, str]]:
    # Every `minievent.x.y` and `minievent/x.py` a lesson's prose names, with the lesson it is in.
    import re

    found = set()
    for path in sorted(lessons.NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                text = "".join(cell["source"])
                found.update((path.name, m) for m in re.findall(r"`(minievent(?:\.\w+)+|minievent/[\w/]+\.py)", text))
    return sorted(found)


def test_what_the_lessons_name_exists():
    # Modules move (minievent.recorder into minievent.recording, say); a lesson that still
    # names the old place sends a learner to nothing.
    import importlib

    assert _named_in_lessons(), "no lesson names a minievent module: the pattern is wrong"
    missing = []
    for lesson, name in _named_in_lessons():
        if "/" in name:
            if not (lessons.NOTEBOOK_DIR.parent / name).is_file():
                missing.append((lesson, name))
            continue
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            for attribute in parts[i:]:
                obj = getattr(obj, attribute, None)
            break
        else:
            obj = None
        if obj is None:
            missing.append((lesson, name))
    assert missing == [], f"lessons name what minievent no longer has: {missing}"
