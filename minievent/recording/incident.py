"""An incident: what the flight recorder writes when the loop was held or a heartbeat ran late.

Three files in a folder of their own, ``DIR/<time>-<reason>/``, readable by the owner only
(the folder 0700, the files 0600: a recording names the service's code and its timing):

* ``report.txt``: one page in the service's own terms: what held the loop, for how long, its
  stack while it held (sampled by the watchdog, so the periodic task that called the innermost
  line is there); every lane that was ready meanwhile and for how long; each late timer and
  heartbeat by how much ("report_state ran 1.31 s late"); how far back the window reaches;
* ``trace.json``: a Chrome trace of the window (opens in https://ui.perfetto.dev);
* ``timeline.png``: the window as swimlanes (running, ready, waiting), the stall shaded, each
  late lane's delay marked on its row; drawn from ``trace.json`` by the flight recorder's
  sidecar process (``minievent.recording.sidecar``), a moment later, and only if matplotlib is
  there.

An incident holds code locations (file, line, function), lane names and times, never the value
of a variable: a service's memory holds passwords.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .timeline import culprit

__all__ = ["Frame", "Stall", "Late", "Incident", "write", "make_private_dir", "stack_of"]


@dataclass(frozen=True)
class Frame:
    """A code location: a function, its file and the line it was at. No values."""

    function: str
    filename: str
    line: int

    def __str__(self) -> str:
        return f"{self.function}  ({_short(self.filename)}:{self.line})"


def _short(path: str) -> str:
    """The last two parts of a path: ``oslo_service/periodic_task.py``."""
    parts = path.replace("\\", "/").rsplit("/", 2)
    return "/".join(parts[-2:])


def stack_of(frame: Any, skip_dirs: Sequence[str] = ()) -> tuple[Frame, ...]:
    """The frames of ``frame``'s stack, outermost first, as code locations only.

    ``skip_dirs``: frames from files under these folders (the recorder's own) are left out.
    """
    out = []
    f = frame
    while f is not None:
        code = f.f_code
        if code.co_filename.endswith(("runpy.py", "<frozen runpy>")) or not (
            skip_dirs and code.co_filename.startswith(tuple(skip_dirs))
        ):
            name = getattr(code, "co_qualname", code.co_name)
            out.append(Frame(name.rsplit("<locals>.", 1)[-1], code.co_filename, f.f_lineno or 0))
        f = f.f_back
    out.reverse()
    return tuple(out)


@dataclass
class Stall:
    """The loop was held by ``lane`` from ``start`` to ``end`` (monotonic seconds; end None: still)."""

    loop: str
    lane: str
    start: float
    end: float | None = None
    #: every stack the watchdog saw while it held, and how often
    stacks: Counter = field(default_factory=Counter)

    def sample(self, stack: tuple[Frame, ...]) -> None:
        if stack:
            self.stacks[stack] += 1

    @property
    def samples(self) -> int:
        return sum(self.stacks.values())

    @property
    def stack(self) -> tuple[Frame, ...]:
        """The stack seen most often while it held (the innermost lines vary; the callers do not)."""
        if not self.stacks:
            return ()
        return self.stacks.most_common(1)[0][0]

    @property
    def duration(self) -> float:
        return (self.end if self.end is not None else time.monotonic()) - self.start


@dataclass(frozen=True)
class Late:
    """``lane`` ran ``by`` seconds after it was due (``due``, ``ran``: monotonic seconds)."""

    lane: str
    due: float
    ran: float
    what: str = "timer"  # "timer", "heartbeat"

    @property
    def by(self) -> float:
        return self.ran - self.due


@dataclass
class Incident:
    """Everything one report says; ``write()`` puts it on disk."""

    reason: str  # "stall", "late", "signal"
    program: str
    loop: str
    t0: float  # monotonic time of the window's start (the report's times are seconds from here)
    now: float
    stall: Stall | None = None
    threshold: float = 1.0
    #: (lane, ready since, ready until, what made it ready) for lanes ready during the stall
    ready: list[tuple[str, float, float, str | None]] = field(default_factory=list)
    late: list[Late] = field(default_factory=list)
    window_line: str = ""
    heartbeats: tuple[str, ...] = ()
    #: (lane, seconds it ran, runs) while the latest late lane waited, when no one lane held the loop that long
    busy: list[tuple[str, float, int]] = field(default_factory=list)

    def text(self) -> str:
        at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() - (time.monotonic() - self.now)))
        lines = [
            f"minievent flight recorder -- incident ({self.reason}) at {at}, pid {os.getpid()}",
            f"program: {self.program}   loop: {self.loop}",
            "",
        ]
        rel = self._rel
        s = self.stall
        if s is not None:
            if s.end is None:
                lines.append(
                    f"WHAT HOLDS THE LOOP (still, at the {self.reason}): {s.lane} has run {self.now - s.start:.2f} s "
                    f"without yielding (since {rel(s.start)}; --stall {self.threshold:g} s)"
                )
            else:
                lines.append(
                    f"WHAT HELD THE LOOP: {s.lane} ran {s.duration:.2f} s without yielding "
                    f"(from {rel(s.start)} to {rel(s.end)}; --stall {self.threshold:g} s)"
                )
            named = culprit(s.stack)
            if named is not None:  # (the periodic task, or the program's own innermost frame: timeline.culprit)
                lines.append(f"culprit: {named}")
            if s.stack:
                lines.append(f"its stack while it held (outermost first; {s.samples} samples):")
                lines += [f"    {frame}" for frame in s.stack]
                inner = Counter(stack[-1] for stack in s.stacks.elements() if stack)
                if len(inner) > 1:
                    lines.append("innermost lines seen: " + ", ".join(f"{f} x{n}" for f, n in inner.most_common(3)))
            else:
                lines.append("its stack: not sampled (the watchdog saw no frame of it)")
        elif self.busy:
            lines.append(
                f"WHAT KEPT IT LATE: no one lane held the loop longer than --stall {self.threshold:g} s; "
                "while the latest waited, these ran in turn:"
            )
            lines += [f"    {lane:<44} ran {t:6.2f} s in {n} run{'s' if n != 1 else ''}" for lane, t, n in self.busy]
        elif self.reason == "signal":
            lines.append("WRITTEN ON REQUEST (signal): the loop was not held longer than --stall at the time")
        lines.append("")
        if self.ready:
            lines.append("READY MEANWHILE (could have run, could not: the loop was held):")
            for lane, since, until, cause in sorted(self.ready, key=lambda r: r[1] - r[2]):
                why = f", {cause}" if cause else ""
                lines.append(f"    {lane:<44} ready {until - since:6.2f} s  (from {rel(since)}{why})")
        elif s is not None:
            lines.append("READY MEANWHILE: no lane was seen ready while it held")
        lines.append("")
        if self.late:
            lines.append("LATE:")
            for late in sorted(self.late, key=lambda r: -r.by):
                if s is not None and s.end is None and late.ran >= self.now - 0.002:  # (it has not run yet)
                    lines.append(f"    {late.lane} is {late.by:.2f} s late so far (due {rel(late.due)}, not run yet)")
                else:
                    lines.append(f"    {late.lane} ran {late.by:.2f} s late (due {rel(late.due)}, ran {rel(late.ran)})")
        else:
            lines.append("LATE: no timer or heartbeat ran late by more than the threshold")
        missing = [h for h in self.heartbeats if not any(h in r.lane for r in self.late)]
        if missing and s is not None:
            lines.append("heartbeats not seen late: " + ", ".join(missing))
        lines += ["", "WINDOW: " + self.window_line, "times are seconds from the window's start"]
        return "\n".join(lines) + "\n"

    @property
    def name(self) -> str:
        """The program, without its arguments: ``minievent.scenarios.nova_compute``."""
        return self.program.split(" ", 1)[0] or "the program"

    def summary(self) -> dict:
        """What a picture of it needs (names and times, seconds from the window's start), as JSON."""
        s = self.stall
        return {
            "reason": self.reason,
            "name": self.name,
            "loop": self.loop,
            "stall": None
            if s is None
            else {
                "lane": s.lane,
                "start": s.start - self.t0,
                "end": (s.end or self.now) - self.t0,
                # the function the report's culprit line names (the periodic task, not the lane that ran it)
                "culprit": getattr(culprit(s.stack), "function", None),
            },
            "late": [[x.lane, x.due - self.t0, x.ran - self.t0, x.what] for x in self.late],
        }

    def _rel(self, t: float) -> str:
        return f"{t - self.t0:.2f} s"


def make_private_dir(path: str) -> str:
    """Make ``path`` (and parents) if needed, mode 0700; OSError/ValueError if it cannot be written.

    Tried, not asked: ``os.access`` says yes to root for any folder, so a file is made and removed.
    """
    full = os.path.abspath(path)
    if os.path.exists(full) and not os.path.isdir(full):
        raise ValueError(f"--dir {path}: not a folder")
    try:
        os.makedirs(full, mode=0o700, exist_ok=True)
    except OSError as e:
        raise ValueError(f"--dir {path}: cannot make it ({e.strerror})") from None
    probe = os.path.join(full, f".minievent-probe-{os.getpid()}")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as e:
        raise ValueError(f"--dir {path}: cannot write there ({e.strerror})") from None
    os.close(fd)
    os.unlink(probe)
    return full


def write(incident: Incident, folder: str, timeline: Any = None) -> str:
    """Write the incident's files into a new folder under ``folder``; return that folder.

    The trace carries the incident's summary in its ``otherData`` (``Incident.summary()``), from
    which the sidecar draws the picture (``minievent.recording.sidecar_process``)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime())
    base = os.path.join(folder, f"{stamp}-{incident.reason}")
    path, n = base, 1
    while True:
        try:
            os.mkdir(path, 0o700)
            break
        except FileExistsError:
            n += 1
            path = f"{base}-{n}"
    with _private(os.path.join(path, "report.txt")) as f:
        f.write(incident.text())
    if timeline is not None:
        with _private(os.path.join(path, "trace.json")) as f:
            timeline.write_chrome_trace(f, {"incident": incident.summary()})  # (streamed: see its docstring)
    return path


def _private(path: str) -> Any:
    """A new text file only its owner can read."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8")
