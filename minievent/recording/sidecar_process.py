"""The flight recorder's sidecar process: the metrics endpoint and the incidents' pictures.

Started by the recorder (``minievent.recording.sidecar`` says why it is a process of its own,
and how the two talk); never imported by the program's process. Here the big libraries are
free to import: ``prometheus_client`` serves the numbers the recorder last sent, matplotlib
draws each incident's picture from the incident's own Chrome trace, in the incident's folder.

    python -c <launcher> --channel FD [--listen FD] [--draw]     (as the recorder starts it)

The endpoint answers from a thread of its own, so a scrape is answered while a picture is
drawn. A part that fails says so once (``("error", text)``) and stands down; the other runs on.
"""

from __future__ import annotations

import argparse
import json
import marshal
import os
import socket
import threading
from collections.abc import Sequence
from typing import Any

from . import metrics as metricsmod
from .sidecar import MAX_MESSAGE

__all__ = ["draw", "main", "title"]


def draw(folder: str) -> str:
    """Draw ``folder``'s incident (its ``trace.json``) into ``folder/timeline.png``, owner-only; return the path."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from .. import plot
    from .timeline import load

    with open(os.path.join(folder, "trace.json")) as f:
        trace = json.load(f)
    about = trace.get("otherData", {}).get("incident", {})
    recording = load(trace)
    stall = about.get("stall")
    loop = "event loop" if about.get("loop") == "asyncio" else "hub"
    lanes = len(recording.lanes)
    fig = Figure(figsize=(12, min(2.2 + 0.55 * min(lanes, 12), 9)), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    plot.swimlanes(recording, ax=ax, title=title(about), max_lanes=12, loop=loop)
    ax.set_xlabel("seconds in the window the incident kept")
    rows = {label.get_text(): i for i, label in enumerate(ax.get_yticklabels())}
    if stall is not None:
        start, end = stall["start"], stall["end"]
        ax.axvspan(start, end, color="tab:red", alpha=0.08, zorder=0)
        ax.text(
            (start + end) / 2,
            0.99,
            f"the loop held {end - start:.2f} s by {stall['lane']}",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=9,
            color="tab:red",
        )
    for lane, due, ran, _what in about.get("late", [])[:4]:
        row = rows.get(lane)
        if row is None:
            continue
        # On the late lane's own row: from when it was due to when it ran.
        ax.annotate(
            "",
            xy=(ran, row - 0.42),
            xytext=(due, row - 0.42),
            arrowprops={"arrowstyle": "|-|", "color": "black", "linewidth": 1.0, "shrinkA": 0, "shrinkB": 0},
        )
        ax.text(
            (due + ran) / 2,
            row - 0.47,
            f"due at {due:.2f} s, ran {ran - due:.2f} s late",
            ha="center",
            va="bottom",
            fontsize=9,
        )
    path = os.path.join(folder, "timeline.png")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        fig.savefig(f, dpi=110, format="png")
    return path


def title(about: dict) -> str:
    """The picture's title, from the incident's summary: what held the loop named after its culprit, as the
    report's culprit line names it (the periodic task, not the looping call's lane that ran it: the shaded
    stall's own line names the lane)."""
    name, stall = about.get("name", "the program"), about.get("stall")
    if stall is None:
        return f"{name}: incident ({about.get('reason', '?')})"
    who = stall.get("culprit") or stall["lane"]
    return f"{name}: {who} held the {about.get('loop', '')} loop {stall['end'] - stall['start']:.2f} s"


class _Latest:
    """The numbers the recorder sent last, as a collector ``prometheus_client`` can expose."""

    def __init__(self) -> None:
        self.snapshot: dict | None = None

    def collect(self) -> Any:
        return metricsmod.families(self.snapshot or metricsmod.Metrics().snapshot())


def _serve(listener: socket.socket, latest: _Latest, say: Any) -> None:
    from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

    def body() -> tuple[str, bytes]:
        return CONTENT_TYPE_LATEST, generate_latest(latest)  # type: ignore[arg-type]  (a collector is all it calls)

    try:
        metricsmod.serve(listener, body)
    except Exception as e:  # one report, then stand down: the program runs on
        say("metrics", f"the metrics endpoint stands down ({type(e).__name__}: {e})")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="minievent.recording.sidecar_process")
    p.add_argument("--channel", type=int, required=True)
    p.add_argument("--listen", type=int)
    p.add_argument("--draw", action="store_true")
    args = p.parse_args(argv)
    try:
        os.nice(10)  # the service's own work comes first
    except OSError:
        pass
    chan = socket.socket(fileno=args.channel)
    sending = threading.Lock()
    said: set[str] = set()

    def send(*message: Any) -> None:
        with sending:
            chan.send(marshal.dumps(message))

    def say(part: str, text: str) -> None:
        if part not in said:  # once a part
            said.add(part)
            send("error", text)

    latest = _Latest()
    if args.listen is not None:
        listener = socket.socket(fileno=args.listen)
        threading.Thread(target=_serve, args=(listener, latest, say), daemon=True).start()
    drawing = args.draw
    while True:
        data = chan.recv(MAX_MESSAGE)
        if not data:
            return 0  # the program's process has ended
        message = marshal.loads(data)
        kind = message[0]
        if kind == "metrics":
            latest.snapshot = message[1]
        elif kind == "draw":
            if drawing:
                try:
                    draw(message[1])
                except ImportError as e:
                    drawing = False
                    say("pictures", f"pictures stand down: {e.name or e} is not installed")
                except Exception as e:
                    say("pictures", f"pictures stand down ({type(e).__name__}: {e})")
                    drawing = False
            send("drawn", message[1])
        elif kind == "bye":
            send("bye")
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
