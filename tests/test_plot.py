"""Pictures: swimlanes and heartbeat plots draw what they claim, under Agg, with matplotlib loaded lazily."""

from __future__ import annotations

import subprocess
import sys

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

import minievent  # noqa: E402
from minievent import plot  # noqa: E402
from minievent.recording import Timeline  # noqa: E402
from minievent.scenarios import heartbeat  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def late():
    """One real late-heartbeat run, recorded: 0.7 s of cpu against a 0.1 s heartbeat."""
    return heartbeat.run(interval=0.1, task_seconds=0.7, kind="cpu", service_down_time=0.5)


def bars(ax, state):
    """(row, start, end) of every bar of ``state`` drawn on ``ax``."""
    out = []
    for coll in ax.collections:
        colors = {to_hex(c) for c in coll.get_facecolors()}
        if colors != {plot.COLORS[state]}:
            continue
        for path in coll.get_paths():
            xs, ys = path.vertices[:, 0], path.vertices[:, 1]
            out.append((round((ys.min() + ys.max()) / 2), xs.min(), xs.max()))
    return out


def test_swimlanes_show_the_heartbeat_ready_during_the_long_task(late):
    ax = plot.swimlanes(late.timeline)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert {"hub", "main", "heartbeat", "periodic_tasks"} <= set(labels)
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [w.split(":")[0].split(" ")[0] for w in legend] == ["running", "ready", "waiting"]
    row = labels.index("heartbeat")
    ready = [(a, b) for r, a, b in bars(ax, "ready") if r == row]
    assert any(b - a > 0.4 and a >= late.task_start - 0.05 and b >= late.task_end - 0.05 for a, b in ready)
    running = [(a, b) for r, a, b in bars(ax, "running") if r == labels.index("periodic_tasks")]
    assert any(b - a > 0.6 for a, b in running), "the long task is one long running bar"


def test_swimlanes_window_and_chosen_lanes(late):
    ax = plot.swimlanes(late.timeline, lanes=["heartbeat", "hub"], window=(0.2, 0.6))
    assert [t.get_text() for t in ax.get_yticklabels()] == ["heartbeat", "hub"]
    assert ax.get_xlim() == (0.2, 0.6)
    for _row, a, b in bars(ax, "ready") + bars(ax, "running") + bars(ax, "waiting"):
        assert 0.2 - 1e-9 <= a and b <= 0.6 + 0.01
    with pytest.raises(ValueError):
        plot.swimlanes(late.timeline, window=(1.0, 0.5))


def test_swimlanes_stay_readable_with_100_lanes():
    def conn(i):
        for _ in range(i % 5 + 1):
            minievent.sleep(0.001 * (i % 3))

    with minievent.record() as tl:
        for gt in [minievent.spawn(conn, i) for i in range(100)]:
            gt.wait()
    assert len(tl.lanes) >= 102
    ax = plot.swimlanes(tl, max_lanes=30)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 30
    assert labels[0] == "hub" and "main" in labels
    assert labels[-1].endswith("more lanes") and int(labels[-1].split()[0]) == len(tl.lanes) - 29
    assert ax.figure.get_size_inches()[1] <= 30


def test_heartbeat_plot_shows_the_gap_crossing_the_down_line(late):
    ax = plot.heartbeat(late)
    assert "DOWN" in ax.get_title()
    assert ax.get_xlabel() and ax.get_ylabel()
    hlines = {
        round(line.get_ydata()[0], 6)
        for line in ax.get_lines()
        if len(set(line.get_ydata())) == 1 and line.get_linestyle() in ("-", "--")
    }
    assert {0.1, 0.5} <= hlines, "interval and service_down_time lines"
    (saw,) = [line for line in ax.get_lines() if line.get_label() == "age of the last report"]
    assert max(saw.get_ydata()) == pytest.approx(late.max_gap)
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    for word in ("long task", "interval", "service_down_time", "reported DOWN"):
        assert word in legend
    assert ax.get_ylim()[1] > late.max_gap


def healthy(beats: list[float], duration: float, **more) -> heartbeat.HeartbeatResult:
    """A made-up run (no service runs) beating every 1 s, never near its 6 s down time; a task at 2.5-3.5 s."""
    return heartbeat.HeartbeatResult(
        interval=1.0,
        task_seconds=3.0,
        backend="minievent",
        service_down_time=6.0,
        duration=duration,
        task_at=2.5,
        beats=beats,
        task_start=2.5,
        task_end=3.5,
        **more,
    )


def test_heartbeat_plot_of_a_healthy_run_says_so():
    r = healthy([0.0, 1.0, 2.0, 3.01, 4.0], 5.0, kind="cpu", fix="sleep0")
    ax = plot.heartbeat(r)
    assert "never down" in ax.get_title()


def age_line(ax):
    (saw,) = [line for line in ax.get_lines() if line.get_label() == "age of the last report"]
    return saw.get_xdata(), saw.get_ydata()


def test_a_healthy_run_never_shows_the_age_above_the_interval():
    # The run ended 1.5 intervals after the last beat; the service had stopped at 5.0 s.
    r = healthy([0.0, 1.0, 2.0, 3.0, 4.0], 5.5, kind="green", fix=None, service_end=5.0)
    ax = plot.heartbeat(r)
    xs, ys = age_line(ax)
    assert max(ys) == pytest.approx(1.0) and max(xs) == pytest.approx(5.0), "the line stops at the service's end"
    assert ax.get_xlim()[1] == pytest.approx(5.5)
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "no beat due" in legend
    assert "max gap 1.00 s" in ax.get_title()


def test_a_real_healthy_run_is_drawn_under_the_interval():
    r = heartbeat.run(interval=0.1, task_seconds=0.5, kind="green", record=False)
    xs, ys = age_line(plot.heartbeat(r))
    assert max(ys) == pytest.approx(r.max_gap) and max(ys) < 0.14, r.beats
    assert max(xs) == pytest.approx(min(r.service_end, r.duration)), "no line after the service stopped"


def test_heartbeat_figure_writes_a_png(late, tmp_path):
    path = tmp_path / "hb.png"
    fig = plot.heartbeat_figure(late, path)
    assert len(fig.axes) == 2
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("heartbeat due" in t for t in texts) and any("long task" in t for t in texts)


def test_matplotlib_is_imported_only_when_drawing():
    code = "import sys, minievent, minievent.plot; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def figure_words(fig):
    texts = [fig.axes[0].get_title(), fig.axes[0].get_ylabel(), *(t.get_text() for t in fig.axes[0].texts)]
    texts += [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    return " ".join(texts)


@pytest.mark.parametrize(
    "backend, loop_words, not_words",
    [
        ("asyncio", ["event loop", "coroutine"], ["hub", "greenthread", "main"]),
        ("threads", ["GIL", "OS thread"], ["hub", "greenthread", "event loop"]),
        ("minievent", ["hub", "greenthread"], ["event loop"]),
    ],
)
def test_the_picture_names_what_schedules_the_lanes(backend, loop_words, not_words):
    r = heartbeat.run(interval=0.1, task_seconds=0.7, kind="cpu", backend=backend, service_down_time=0.5)
    fig = plot.heartbeat_figure(r)
    words = figure_words(fig) + " " + " ".join(t.get_text() for t in fig.axes[0].get_yticklabels())
    for w in loop_words:
        assert w in words, words
    for w in not_words:
        assert w not in words, words


@pytest.mark.parametrize(
    "backend, fix, lane",
    [("threads", None, "heartbeat"), ("asyncio", None, "heartbeat"), ("minievent", "thread", "heartbeat thread")],
)
def test_thread_and_coroutine_lanes_show_their_running_spans(backend, fix, lane):
    r = heartbeat.run(interval=0.1, task_seconds=0.3, kind="green" if fix is None else "cpu", fix=fix, backend=backend)
    ax = plot.swimlanes(r.timeline)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    running = [a for row, a, _b in bars(ax, "running") if row == labels.index(lane)]
    assert len(running) >= len(r.beats) - 2, "a running tick for (nearly) every report_state"


def test_one_colour_code_for_every_picture():
    assert list(plot.COLORS) == ["running", "ready", "waiting"]
    assert len(set(plot.COLORS.values())) == 3
    handles = plot.state_handles()
    assert [h.get_label() for h in handles] == ["running", "ready", "waiting"]
    assert [to_hex(h.get_facecolor()) for h in handles] == list(plot.COLORS.values())
    with pytest.raises(ValueError, match="loop"):
        plot.swimlanes(Timeline().start(greenlets=False).stop(), loop="reactor")
