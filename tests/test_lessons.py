"""minievent.lessons: the exercise judge and the lesson list."""

from __future__ import annotations

import pytest

from minievent import lessons


def test_check_right_wrong_and_unanswered(capsys):
    assert lessons.check(1.0, 1.05, 1.0, "the sum of the times", tolerance=0.2) is True
    assert "Right" in capsys.readouterr().out
    assert lessons.check(0.1, 1.05, 1.0, "the sum of the times", tolerance=0.2) is False
    out = capsys.readouterr().out
    assert "Not quite" in out and "0.1" in out and "the sum of the times" in out
    assert lessons.check(None, "b", "b", "FIFO") is False
    assert "The answer: 'b'" in capsys.readouterr().out


def test_check_fails_when_the_solution_no_longer_matches_the_run():
    with pytest.raises(AssertionError, match="changed"):
        lessons.check(None, 2.0, 1.0, "why", tolerance=0.3)
    with pytest.raises(AssertionError):
        lessons.check("a", "b", "a", "why")


def test_lessons_are_numbered_and_titled():
    paths = lessons.lessons()
    assert [p.name[:2] for p in paths] == sorted(p.name[:2] for p in paths)
    assert all(lessons.title(p).startswith("Lesson") or p.name.startswith("00") for p in paths)
