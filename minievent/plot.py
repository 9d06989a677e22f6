"""Pictures: a recording as swimlanes, a heartbeat as gaps over time.

    from minievent import plot
    ax = plot.swimlanes(tl)          # one row per greenthread (and the hub)
    ax = plot.heartbeat(result)      # gaps between beats vs. the down line
    fig = plot.heartbeat_figure(result, "heartbeat.png")   # both, one above the other

matplotlib is imported only when a function here is called, so the library
does not need it. Every function returns the matplotlib Axes (or Figure) it
drew on, with a title and labelled axes, for the caller to adjust.

Colours: **running** in blue, **ready** in orange -- the state the lessons are
about: could run, but another greenthread holds the hub (an asyncio task: the
event loop; an OS thread: the GIL) -- and **waiting** in light grey, drawn
thinner so that it reads as "nothing to do". ``COLORS`` is the one source of
that code for every picture of the course: a lesson that draws by hand takes
its colours from it (and ``state_handles()`` for the legend); the heartbeat
pictures' other colours are in ``HEARTBEAT_COLORS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["swimlanes", "heartbeat", "heartbeat_figure", "state_handles", "COLORS", "HEARTBEAT_COLORS", "LOOPS"]

#: The course's one colour code: every picture of every lesson and of the CLI uses these.
COLORS = {"running": "#1f77b4", "ready": "#ff7f0e", "waiting": "#d0d4d9"}
#: What schedules the lanes -> (what a ready lane waits for, why it waits, the y-axis label).
LOOPS = {
    "hub": ("the hub", "another greenthread holds the hub (an OS thread: the GIL)", "lane (greenthread, hub, thread)"),
    "event loop": ("the event loop", "another coroutine holds the event loop", "lane (coroutine, thread)"),
    "threads": ("the GIL", "another thread holds the GIL", "lane (OS thread)"),
}
#: The event loop each heartbeat backend runs on, as the pictures name it.
BACKEND_LOOPS = {"asyncio": "event loop", "threads": "threads"}
_HEIGHT = {"running": 0.7, "ready": 0.7, "waiting": 0.25}
_DRAW_ORDER = ("waiting", "ready", "running")  # running on top
#: The heartbeat pictures' own colours, none of them one of the three states: the age of the
#: last report (near black), the interval (green), service_down_time and DOWN (red), the long
#: task's time (pale violet: it may run or wait, a green task waits).
HEARTBEAT_COLORS = {"age": "#212529", "interval": "#2b8a3e", "down": "#c92a2a", "task": "#ece4ff"}


def state_handles(states: Sequence[str] = ("running", "ready", "waiting")) -> list[Any]:
    """Legend handles in the course's colours, for a picture drawn by hand: ``ax.legend(handles=...)``."""
    from matplotlib.patches import Patch

    return [Patch(color=COLORS[s], label=s) for s in states]


def _plt() -> Any:
    import matplotlib.pyplot as plt  # lazily: the library itself does not need matplotlib

    return plt


def _new_ax(width: float, height: float) -> Any:
    fig, ax = _plt().subplots(figsize=(width, height), layout="constrained")
    return ax


def _busy_time(spans: Sequence[Any]) -> dict[str, float]:
    busy: dict[str, float] = {}
    for s in spans:
        if s.state != "waiting":
            busy[s.lane] = busy.get(s.lane, 0.0) + s.duration
    return busy


def _merged(bars: list[tuple[float, float]], gap: float) -> list[tuple[float, float]]:
    """(start, width) bars, those that overlap or are less than ``gap`` apart made one."""
    out: list[list[float]] = []
    for start, width in sorted(bars):
        if out and start <= out[-1][0] + out[-1][1] + gap:
            last = out[-1]
            last[1] = max(last[1], start + width - last[0])
        else:
            out.append([start, width])
    return [(a, w) for a, w in out]


def swimlanes(
    tl: Any,
    ax: Any = None,
    lanes: Sequence[str] | None = None,
    window: tuple[float, float] | None = None,
    max_lanes: int = 30,
    title: str | None = None,
    loop: str | None = None,
) -> Any:
    """Draw ``tl`` (a ``Timeline``) as one row per lane: running, ready and waiting over time.

    ``lanes`` picks and orders the rows (default: every lane, the hub first).
    ``window=(start, end)`` zooms in (seconds). Beyond ``max_lanes`` rows the
    busiest lanes are kept and the others are folded into one last row, so a
    server with 100 connections still gives a readable picture. ``loop`` is
    what a ready lane waits for, in the legend: one of ``LOOPS`` (default
    "hub" when the recording has a hub lane, else "threads").
    """
    all_lanes = tl.lanes
    if loop is None:  # (asyncio records its loop on the lane every loop has, "hub")
        loop = "event loop" if getattr(tl, "loop", None) == "asyncio" else "hub" if "hub" in all_lanes else "threads"
    if loop not in LOOPS:
        raise ValueError(f"loop must be one of {', '.join(LOOPS)}, not {loop!r}")
    from matplotlib.patches import Patch

    spans = tl.spans()
    t_start, t_end = window if window is not None else (0.0, max(tl.duration, 1e-9))
    if t_end <= t_start:
        raise ValueError("window must be (start, end) with end > start")
    spans = [s for s in spans if s.end > t_start and s.start < t_end]
    if lanes is not None:
        order = list(lanes)
    else:  # every lane, those that only spans name too (a dict: in order, and linear)
        order = list(dict.fromkeys([*all_lanes, *(s.lane for s in spans)]))
    folded: list[str] = []
    if len(order) > max_lanes:
        busy = _busy_time(spans)
        keep_first = [lane for lane in order if lane in ("hub", "main")]
        rest = sorted((lane for lane in order if lane not in keep_first), key=lambda n: -busy.get(n, 0.0))
        kept = set(keep_first + rest[: max_lanes - 1 - len(keep_first)])
        folded = [lane for lane in order if lane not in kept]
        order = [lane for lane in order if lane in kept]
        order.append(f"{len(folded)} more lanes")
    row = {lane: i for i, lane in enumerate(order)}
    fold_row = len(order) - 1 if folded else None
    folded_set = set(folded)

    if ax is None:
        # (at least tall enough for the y label, written along the axis: a few lanes would clip it)
        ax = _new_ax(11, min(max(1.2 + 0.32 * len(order), 3.6), 30))
    # A greenthread's run can be a few microseconds: give running bars a
    # minimum width so every run shows as at least a thin tick.
    min_width = (t_end - t_start) / 500
    bars: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for s in spans:
        r = row.get(s.lane)
        if r is None:
            if s.lane not in folded_set:
                continue
            r = fold_row
            if s.state == "waiting":
                continue  # in the folded row, only who was busy
        start, end = max(s.start, t_start), min(s.end, t_end)
        width = end - start
        if s.state == "running":
            width = max(width, min_width)
        bars.setdefault((r, s.state), []).append((start, width))  # type: ignore[arg-type]
    # Bars closer than about a pixel look like one bar: draw them as one (a recording of 10,000
    # greenthreads has 100,000 spans; the picture has ~1,200 pixels across).
    pixel = (t_end - t_start) / 1200
    for state in _DRAW_ORDER:
        for (r, st), xs in bars.items():
            if st == state:
                h = _HEIGHT[state]
                ax.broken_barh(_merged(xs, pixel), (r - h / 2, h), facecolors=COLORS[state], linewidth=0)
    # Marks (tl.event) as small black ticks on their rows.
    for m in getattr(tl, "marks", []):
        if m.lane in row and t_start <= m.time <= t_end:
            ax.plot([m.time, m.time], [row[m.lane] - 0.4, row[m.lane] + 0.4], color="black", linewidth=0.8)
    # asyncio's loop is recorded on the lane every loop has, "hub"; call it what asyncio calls it.
    hub = "event loop" if loop == "event loop" else "hub"
    ax.set_yticks(range(len(order)), [hub if lane == "hub" else lane for lane in order])
    ax.set_ylim(len(order) - 0.5, -0.5)  # first lane on top
    ax.set_xlim(t_start, t_end)
    ax.set_xlabel("time since the recording started (s)")
    ax.set_ylabel(LOOPS[loop][2])
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title or f"Who held the CPU: {len(order)} lanes over {t_end - t_start:.2f} s", pad=22)
    ax.legend(
        handles=[
            Patch(color=COLORS["running"], label="running"),
            Patch(color=COLORS["ready"], label=f"ready: could run, but {LOOPS[loop][1]}"),
            Patch(color=COLORS["waiting"], label="waiting (for a timer, an fd, an event...)"),
        ],
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=3,
        frameon=False,
        fontsize="small",
    )
    return ax


def heartbeat(result: Any, ax: Any = None, title: str | None = None) -> Any:
    """Draw a heartbeat run as the scheduler sees it: the age of the last report, over time.

    The age climbs from 0 after each beat and drops back at the next one, so
    each tooth's height is the gap between two beats. Where it crosses
    ``service_down_time`` (the red line) the service is reported down, shaded
    red. The long task is shaded pale violet; the interval is the
    dashed line. The line stops where the service stopped expecting to beat
    (``result.service_end``): the rest of the run, until every part noticed,
    is shaded grey, because no beat was due there.
    """
    import numpy as np

    if ax is None:
        ax = _new_ax(11, 4)
    beats = list(result.beats)
    down_at = result.service_down_time
    end = max(result.duration, beats[-1] if beats else 0.0)
    stop = end if result.service_end is None else min(max(result.service_end, beats[-1] if beats else 0.0), end)
    if result.task_start is not None and result.task_end is not None:
        ax.axvspan(
            result.task_start,
            result.task_end,
            color=HEARTBEAT_COLORS["task"],
            linewidth=0,
            zorder=0,
            label=f"long task ({result.kind}, {result.task_seconds:g} s)",
        )
    if end - stop > end / 200:  # visible
        ax.axvspan(
            stop, end, color=COLORS["waiting"], alpha=0.5, linewidth=0, zorder=0, label="service stopping: no beat due"
        )
    ax.axhline(
        result.interval,
        color=HEARTBEAT_COLORS["interval"],
        linestyle="--",
        linewidth=1.2,
        label=f"interval ({result.interval:g} s)",
    )
    ax.axhline(
        down_at,
        color=HEARTBEAT_COLORS["down"],
        linestyle="-",
        linewidth=1.5,
        label=f"service_down_time ({down_at:g} s)",
    )
    # The sawtooth: (0, 0) -> (b0, b0), (b0, 0) -> (b1, gap1), ... (b_last, 0) -> (stop, its age then)
    xs: list[float] = []
    ys: list[float] = []
    for a, b in zip([0.0, *beats], [*beats, stop], strict=True):
        xs += [a, b]
        ys += [0.0, b - a]
    x, y = np.array(xs), np.array(ys)
    ax.plot(x, y, color=HEARTBEAT_COLORS["age"], linewidth=1.5, zorder=3, label="age of the last report")
    if result.down:
        ax.fill_between(
            x,
            y,
            down_at,
            where=y > down_at,
            interpolate=True,
            color=HEARTBEAT_COLORS["down"],
            alpha=0.35,
            zorder=2,
            label="reported DOWN",
        )
    ax.plot(
        beats,
        [0.0] * len(beats),
        linestyle="none",
        marker="o",
        markersize=5,
        color="black",
        zorder=5,
        clip_on=False,
        label="beat (report_state ran)",
    )
    for a, b in zip([0.0, *beats], [*beats, stop], strict=True):
        if b - a > down_at:  # point at the moment the scheduler gives up on the service
            red = HEARTBEAT_COLORS["down"]
            ax.annotate(
                f"reported down at {a + down_at:.1f} s",
                xy=(a + down_at, down_at),
                xytext=(a + down_at - 0.25 * (end / 10), down_at * 1.12),
                ha="right",
                fontsize="small",
                color=red,
                arrowprops={"arrowstyle": "->", "color": red},
            )
            break
    ax.set_ylim(0, max([down_at, result.interval, *ys]) * 1.2)
    ax.set_xlim(0, end)
    ax.set_xlabel("time since the service started (s)")
    ax.set_ylabel("seconds since the last beat")
    verdict = f"DOWN for {result.time_down:.1f} s" if result.down else "never down"
    if getattr(result, "interrupted", False):
        verdict += f" (interrupted after {result.duration:.1f} s)"
    ax.set_title(
        title
        or f"Heartbeat beside a {result.kind} task of {result.task_seconds:g} s, "
        f"{result.fix or 'no fix'}, on {result.backend}: max gap {result.max_gap:.2f} s, {verdict}"
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small", framealpha=0.9)
    return ax


def heartbeat_figure(result: Any, path: Any = None, dpi: int = 110) -> Any:
    """The heartbeat's gaps and, when recorded, the swimlanes above them on one time axis; saved to ``path``.

    The swimlanes show the service (its greenthreads, tasks or threads, and the
    hub or event loop), not the caller, which only waits for the run to end.
    """
    plt = _plt()
    tl = result.timeline
    if tl is None:
        fig, ax = plt.subplots(figsize=(11, 4.2), layout="constrained")
        heartbeat(result, ax=ax)
    else:
        preferred = ["heartbeat", "heartbeat thread", "periodic_tasks", "tpool thread", "hub"]
        lanes = [lane for lane in preferred if lane in tl.lanes]
        lanes += [lane for lane in tl.lanes if lane not in lanes and lane not in ("main", "MainThread")]
        fig, (top, bottom) = plt.subplots(
            2,
            1,
            figsize=(11, 2.6 + 0.45 * len(lanes) + 3.6),
            sharex=True,
            layout="constrained",
            gridspec_kw={"height_ratios": [0.6 + 0.45 * len(lanes), 3.4]},
        )
        loop = BACKEND_LOOPS.get(result.backend, "hub")
        swimlanes(
            tl,
            ax=top,
            lanes=lanes,
            window=(0.0, result.duration),
            loop=loop,
            title="The timeline: during the long task the heartbeat is ready (orange) but cannot run"
            if result.down
            else "The timeline: who held the CPU",
        )
        top.set_xlabel("")
        _label_the_task(top, result, lanes)
        heartbeat(result, ax=bottom)
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig


def _label_the_task(ax: Any, result: Any, lanes: list[str]) -> None:
    # Say in words what the bars show, on the bars, for a reader who has not
    # read the code: the long run, and the heartbeat's long "ready".
    if result.task_start is None or result.task_end is None or "periodic_tasks" not in lanes:
        return
    mid = (result.task_start + result.task_end) / 2
    tl = result.timeline
    long_runs = [
        s
        for s in tl.spans()
        if s.lane == "periodic_tasks" and s.state == "running" and s.duration > 0.5 * result.task_seconds
    ]
    if long_runs:
        how = "in its own OS thread" if result.backend == "threads" else "no yield"
        ax.text(
            mid,
            lanes.index("periodic_tasks"),
            f"long task: {result.kind} for {result.task_seconds:g} s, {how}",
            ha="center",
            va="center",
            color="white",
            fontsize="small",
            fontweight="bold",
        )
    ready = [s for s in tl.spans() if s.lane == "heartbeat" and s.state == "ready" and s.duration > result.interval]
    if ready:
        r = max(ready, key=lambda s: s.duration)
        ax.text(
            (r.start + r.end) / 2,
            lanes.index("heartbeat"),
            f"heartbeat due at {r.start:.1f} s, ready, waits {r.duration:.1f} s for "
            f"{LOOPS[BACKEND_LOOPS.get(result.backend, 'hub')][0]}",
            ha="center",
            va="center",
            color="black",
            fontsize="small",
            fontweight="bold",
        )
