"""minievent.lessons: the exercise judge and the lesson list."""

from __future__ import annotations

import pytest

from minievent import lessons


def test_check_right_wrong_and_unanswered(capsys):
    lessons.check(1.0, 1.05, 1.0, "the sum of the times", tolerance=0.2)
    assert capsys.readouterr().out.startswith("Right: 1.0. the sum of the times")
    lessons.check(0.1, 1.05, 1.0, "the sum of the times", tolerance=0.2)
    out = capsys.readouterr().out
    assert out.startswith("Not quite") and "0.1" in out and "the sum of the times" in out
    lessons.check(None, "b", "b", "FIFO")
    assert "The answer: 'b'" in capsys.readouterr().out
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
