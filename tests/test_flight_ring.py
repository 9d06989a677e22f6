"""The flight recorder's ring: records dropped by age, memory flat however long it runs."""

from __future__ import annotations

import gc
import math
import tracemalloc

import pytest

from minievent.recording.ring import Ring


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def churn(ring: Ring, clock: FakeClock, seconds: float, per_second: int = 1000) -> None:
    """Append records as a busy loop would, rotating once per loop turn (every 10 records)."""
    sw = ring.newest.switches
    step = 1.0 / per_second
    for i in range(int(seconds * per_second)):
        clock.t += step
        sw.append((clock.t, i, "sleep(0)"))
        if i % 10 == 0 and ring.rotate(clock.t):
            sw = ring.newest.switches


def test_records_older_than_the_window_are_dropped_and_the_rest_kept():
    clock = FakeClock()
    ring = Ring(2.0, streams=("switches",), chunks=4, clock=clock)
    churn(ring, clock, 10.0)
    times = [r[0] for r in ring.stream("switches")]
    # everything from the last window is there, in order, and nothing much older
    assert times == sorted(times)
    assert clock.t - times[0] <= 2.0 + 2.0 / 4 + 0.02
    assert clock.t - times[0] >= 2.0
    assert times[-1] == clock.t
    assert ring.dropped_records == 10_000 - len(times)
    assert ring.dropped_before is not None and ring.dropped_before <= times[0]
    assert "reach back 2." in ring.describe() and "dropped by age" in ring.describe()


@pytest.mark.timeout(60)
def test_memory_stays_flat_over_a_long_churn_with_a_short_window():
    clock = FakeClock()
    ring = Ring(0.5, streams=("switches",), clock=clock)
    churn(ring, clock, 5.0, per_second=10_000)  # warm up: the window is full
    gc.collect()
    tracemalloc.start()
    try:
        churn(ring, clock, 5.0, per_second=10_000)
        gc.collect()
        first, _ = tracemalloc.get_traced_memory()
        churn(ring, clock, 40.0, per_second=10_000)  # eight times as long: 400,000 records more
        gc.collect()
        second, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    held = len(ring)
    assert held <= 10_000 * (0.5 + 0.5 / 8) + 20
    assert second < first * 1.2 + 64 * 1024, (first, second)


def test_an_unbounded_ring_keeps_everything():
    clock = FakeClock()
    ring = Ring(math.inf, streams=("switches",), clock=clock)
    churn(ring, clock, 20.0)
    assert len(ring) == 20_000
    assert ring.dropped_records == 0
    assert "nothing dropped" in ring.describe()


def test_streams_age_together():
    clock = FakeClock()
    ring = Ring(1.0, streams=("switches", "timers"), chunks=2, clock=clock)
    for i in range(400):
        clock.t += 0.01
        ring.newest.switches.append(i)
        ring.newest.timers.append(i)
        ring.rotate()
    assert list(ring.stream("switches")) == list(ring.stream("timers"))
    with pytest.raises(AttributeError, match="no stream"):
        ring.newest.polls  # noqa: B018


@pytest.mark.parametrize(
    "kw, error",
    [
        ({"window": 0}, ValueError),
        ({"window": -1.0}, ValueError),
        ({"window": float("nan")}, ValueError),
        ({"window": "30"}, TypeError),
        ({"window": 1, "chunks": 0}, ValueError),
        ({"window": 1, "streams": ()}, ValueError),
        ({"window": 1, "streams": ("a", "a")}, ValueError),
    ],
)
def test_bad_arguments(kw, error):
    with pytest.raises(error):
        Ring(**kw)
