"""What the commands (``heartbeat``, ``trace``, ``flight``) share: one-line errors, outputs checked first.

A run may last minutes: a bad option, a path it cannot write, a folder, a
format matplotlib does not know, must fail first, with one line and exit
status 2, and not after the run.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import NoReturn

__all__ = ["Parser", "Output", "PICTURE_FORMATS"]


class Parser(argparse.ArgumentParser):
    """argparse, but an error is one line on stderr (no usage block), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


#: What matplotlib's Agg backend writes, by extension, png first (as ``FigureCanvasBase.get_supported_filetypes()``
#: lists them: known without importing matplotlib, which imports logging, before a traced program patches).
#: (Newer versions write more: avif, gif.)
PICTURE_FORMATS = ("png", "eps", "jpeg", "jpg", "pdf", "pgf", "ps", "raw", "rgba", "svg", "svgz", "tif", "tiff", "webp")


class Output:
    """A file the run will write, created (opened) before the run so that a path it can't write fails first.

    ``os.access`` says yes to root for ``/proc/x.png``; only opening it tells. A
    file that was not there before is removed again if the run writes nothing.
    """

    def __init__(self, flag: str, path: str, formats: Sequence[str], example: str = "heartbeat") -> None:
        if not path:
            raise ValueError(f"{flag}: an empty path; give a file name, e.g. {example}.{formats[0]}")
        full = os.path.abspath(path)
        if os.path.isdir(full):
            example = os.path.join(path, f"{example}.{formats[0]}")
            raise ValueError(f"{flag} {path}: is a directory; give a file name, e.g. {example}")
        if os.path.exists(full) and not os.path.isfile(full):
            raise ValueError(f"{flag} {path}: not a regular file (a device or a pipe?)")
        parent = os.path.dirname(full)
        if not os.path.isdir(parent):
            raise ValueError(f"{flag} {path}: the directory {parent} does not exist")
        ext = os.path.splitext(full)[1].lstrip(".").lower()
        if ext not in formats:
            raise ValueError(
                f"{flag} {path}: unknown format {ext or '(no extension)'!r}; use one of {', '.join(formats)}"
            )
        existed = os.path.exists(full)
        try:
            open(full, "ab").close()  # creates it if need be; appends nothing, so an old file is kept as it was
        except OSError as e:
            raise ValueError(f"{flag} {path}: cannot be written ({e.strerror})") from None
        self.path, self.created = full, not existed

    def discard(self) -> None:
        """Nothing was written: remove the file if this run made it."""
        if self.created:
            try:
                os.remove(self.path)
            except OSError:
                pass
