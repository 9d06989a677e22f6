"""nbval's run of the lessons: what other packages print is not part of a lesson.

Each lesson is compared with its stored outputs, stderr included, so a warning
that a newer package issues at import (a fresh venv, CI's newest wheels) would
fail a cell that holds no such line. Before the comparison, the warnings that
other packages issue from their own files are taken out of the fresh outputs
and of the stored ones (``minievent.lessons.without_others_warnings``); the
lessons' own stderr, a traceback above all, is compared as before.
"""

from __future__ import annotations

import matplotlib
import nbformat
import nbval.plugin

from minievent.lessons import without_others_warnings

# The first import of matplotlib in a fresh environment builds its font cache and says so
# on stderr ("Matplotlib is building the font cache"): build it here, before any kernel starts.
matplotlib.use("Agg")
import matplotlib.font_manager  # noqa: E402,F401

_compare = nbval.plugin.IPyNbCell.compare_outputs


def _cleaned(outputs):
    return [nbformat.from_dict(o) for o in without_others_warnings(outputs)]


def _compare_outputs(self, test, ref, skip_compare=None):
    return _compare(self, _cleaned(test), _cleaned(ref), skip_compare)


nbval.plugin.IPyNbCell.compare_outputs = _compare_outputs
